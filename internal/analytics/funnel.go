package analytics

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/activation"
	"github.com/tenantd/tenantd/ent/funnelcount"
	"github.com/tenantd/tenantd/ent/predicate"
)

// Limits of a funnel query.
const (
	// DefaultRange is the range of days asked for when From is not given.
	DefaultRange = 30 * 24 * time.Hour
	// MaxDropOffLimit is the largest DropOffLimit.
	MaxDropOffLimit = 100
	// maxYears caps the range: To may be at most this many years after From.
	maxYears = 3
)

const day = 24 * time.Hour

// Query asks for the funnel of the tenants who signed up in [From, To).
type Query struct {
	// From and To are truncated to whole UTC days. Zero To is tomorrow 00:00
	// UTC (today included); zero From is To minus DefaultRange.
	From, To time.Time
	// Plan restricts the funnel to tenants of one plan key (their plan at
	// signup); "" is every plan.
	Plan string
	// Cohort groups the cohorts by DAY or WEEK; "" is DAY.
	Cohort Cohort
	// DropOffLimit is how many stuck tenants each drop-off lists, 0 to
	// MaxDropOffLimit.
	DropOffLimit int
	// Now is "today" for the default range (zero: the wall time); the
	// caller passes its clock's time.
	Now time.Time
	// IncludeSynthetic counts the synthetic tenants (readiness checks' and
	// load tests') too; by default they are in no figure or list.
	IncludeSynthetic bool
}

// Funnel is the activation funnel: the GraphQL type ActivationFunnel.
type Funnel struct {
	// From and To are the range of signup days the funnel covers, [From, To).
	From, To time.Time
	// Plan is the plan filter, nil for every plan.
	Plan *string
	// ActivationWindowHours is the activation window in whole hours.
	ActivationWindowHours int
	// Steps are the four milestones in funnel order.
	Steps []*FunnelStep
	// Activated counts the tenants whose first query came within the window
	// of their signup.
	Activated int
	// ActivationRate is Activated / signed up (0 when nobody signed up).
	ActivationRate float64
	// OverallConversion is first query / signed up (0 when nobody signed up).
	OverallConversion float64
	// Cohorts are the signup days or weeks with signups, oldest first.
	Cohorts []*FunnelCohort
	// DropOff lists, for each step but the last, the tenants who reached it
	// and went no further.
	DropOff []*DropOff
}

// FunnelStep is one milestone of the funnel.
type FunnelStep struct {
	// Name is the milestone.
	Name MilestoneName
	// Count is how many tenants reached it.
	Count int
	// ConversionFromPrevious is Count / the previous step's Count; for the
	// first step it is Count / signed up, that is 1 (0 if nobody signed up).
	// 0 when the denominator is 0.
	ConversionFromPrevious float64
	// ConversionFromStart is Count / signed up (0 if nobody signed up).
	ConversionFromStart float64
	// MedianSecondsFromPrevious and P90SecondsFromPrevious estimate the
	// time from the previous step, in seconds, from the duration histogram
	// (within 10% from a millisecond to 200 days, see MinBucket); nil for the first step or when no
	// tenant got here from the previous step.
	MedianSecondsFromPrevious, P90SecondsFromPrevious *float64
}

// FunnelCohort is the funnel of the tenants who signed up in one UTC day or
// ISO week.
type FunnelCohort struct {
	// Start is the cohort's day or the Monday of its ISO week, 00:00 UTC. A
	// week may start before the funnel's From; it then counts only the days
	// from From on.
	Start time.Time
	// SignedUp, Provisioned, FirstUpload and FirstQuery count the cohort's
	// tenants who reached each step.
	SignedUp, Provisioned, FirstUpload, FirstQuery int
	// Activated counts the cohort's activated tenants.
	Activated int
	// ActivationRate is Activated / SignedUp.
	ActivationRate float64
}

// DropOff is the tenants stuck at one step.
type DropOff struct {
	// Step is the last step these tenants reached.
	Step MilestoneName
	// Count is how many tenants reached Step and not the next step.
	Count int
	// Tenants are the oldest signups among them, at most Query.DropOffLimit.
	Tenants []*StuckTenant
}

// StuckTenant is a tenant that went no further than a step.
type StuckTenant struct {
	// TenantID is the tenant (the GraphQL field tenant resolves it).
	TenantID uuid.UUID
	// SignedUpAt is when the tenant signed up.
	SignedUpAt time.Time
	// ReachedAt is when it reached the step it is stuck at.
	ReachedAt time.Time
}

// normalize fills q's defaults, truncates its range to whole days and
// checks it.
func (q Query) normalize(now time.Time) (Query, error) {
	if q.To.IsZero() {
		q.To = now.UTC().Truncate(day).Add(day)
	}
	q.To = q.To.UTC().Truncate(day)
	if q.From.IsZero() {
		q.From = q.To.Add(-DefaultRange)
	}
	q.From = q.From.UTC().Truncate(day)
	if !q.To.After(q.From) {
		return q, tenantd.Invalid("to", "to (%s) must be at least a day after from (%s)",
			q.To.Format(time.DateOnly), q.From.Format(time.DateOnly))
	}
	if q.To.After(q.From.AddDate(maxYears, 0, 0)) {
		return q, tenantd.Invalid("from", "the range from %s to %s is longer than %d years",
			q.From.Format(time.DateOnly), q.To.Format(time.DateOnly), maxYears)
	}
	switch q.Cohort {
	case "":
		q.Cohort = CohortDay
	case CohortDay, CohortWeek:
	default:
		return q, tenantd.Invalid("cohort", "%q is not a cohort; expected DAY or WEEK", q.Cohort)
	}
	if strings.HasPrefix(q.Plan, syntheticPlanPrefix) {
		return q, tenantd.Invalid("plan", "%q is not a plan key: give the plan's key, and includeSynthetic to count synthetic tenants", q.Plan)
	}
	if q.DropOffLimit < 0 || q.DropOffLimit > MaxDropOffLimit {
		return q, tenantd.Invalid("dropOffLimit", "dropOffLimit must be between 0 and %d, got %d", MaxDropOffLimit, q.DropOffLimit)
	}
	return q, nil
}

// cohortStart is the start of the cohort of signup day d.
func cohortStart(d time.Time, c Cohort) time.Time {
	d = d.UTC().Truncate(day)
	if c == CohortWeek {
		// ISO weeks start on Monday.
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	}
	return d
}

// stepCounts counts the tenants that reached each step, and activated.
type stepCounts struct {
	steps     [4]int
	activated int
}

func (c *stepCounts) add(metric string, n int) {
	if metric == metricActivated {
		c.activated += n
		return
	}
	if m := Milestone(strings.TrimPrefix(metric, stepPrefix)); m.Valid() {
		c.steps[m.index()] += n
	}
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Compute returns the activation funnel of the tenants who signed up in
// [q.From, q.To), with window the activation window the counters were kept
// with (it is reported, not applied: a changed window takes Rebuild).
//
// Counts, conversions and activation come from summing the FunnelCount
// counters of the range's days: they are exact. Medians and 90th
// percentiles come from the summed duration histograms. The drop-off lists
// read the Activation table through its partial indexes
// (activation_stuck_*), oldest signup first, stopping at the limit. The
// five queries (two sums, three lists) run concurrently and none reads all
// tenants: the cost grows with the days and plans asked for, not with the
// number of tenants (tens of milliseconds for 90 days at a million tenants;
// see Compact for the counters' slots).
//
// Bad input is INVALID_INPUT naming the field: "to" when To is not after
// From, "from" when the range is longer than 3 years, "cohort",
// "dropOffLimit" outside 0..100. Compute reads as the system
// (tenantd.SystemContext): the caller authorizes first.
func Compute(ctx context.Context, client *ent.Client, q Query, window time.Duration) (*Funnel, error) {
	now := q.Now
	if now.IsZero() {
		now = time.Now()
	}
	q, err := q.normalize(now)
	if err != nil {
		return nil, err
	}
	ctx = tenantd.SystemContext(ctx)

	var (
		perDay map[time.Time]*stepCounts
		hists  map[string]histogram
		stuck  [3][]*StuckTenant
	)
	tasks := []func(context.Context) error{
		func(ctx context.Context) (err error) { perDay, err = readStepCounts(ctx, client, q); return },
		func(ctx context.Context) (err error) { hists, err = readHistograms(ctx, client, q); return },
	}
	if q.DropOffLimit > 0 {
		for i := range stuck {
			tasks = append(tasks, func(ctx context.Context) (err error) {
				stuck[i], err = readStuck(ctx, client, q, Milestones[i])
				return
			})
		}
	}
	if err := runAll(ctx, tasks); err != nil {
		return nil, err
	}

	f := &Funnel{
		From: q.From, To: q.To,
		ActivationWindowHours: int(window / time.Hour),
		Cohorts:               []*FunnelCohort{},
	}
	if q.Plan != "" {
		plan := q.Plan
		f.Plan = &plan
	}

	// Totals and cohorts.
	var total stepCounts
	cohorts := map[time.Time]*stepCounts{}
	for d, c := range perDay {
		start := cohortStart(d, q.Cohort)
		co := cohorts[start]
		if co == nil {
			co = &stepCounts{}
			cohorts[start] = co
		}
		for i, n := range c.steps {
			co.steps[i] += n
			total.steps[i] += n
		}
		co.activated += c.activated
		total.activated += c.activated
	}
	starts := make([]time.Time, 0, len(cohorts))
	for s, c := range cohorts {
		if c.steps[0] > 0 {
			starts = append(starts, s)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	for _, s := range starts {
		c := cohorts[s]
		f.Cohorts = append(f.Cohorts, &FunnelCohort{
			Start:    s,
			SignedUp: c.steps[0], Provisioned: c.steps[1], FirstUpload: c.steps[2], FirstQuery: c.steps[3],
			Activated: c.activated, ActivationRate: ratio(c.activated, c.steps[0]),
		})
	}

	// Steps.
	signedUp := total.steps[0]
	for i, m := range Milestones {
		step := &FunnelStep{
			Name:                   m.Name(),
			Count:                  total.steps[i],
			ConversionFromPrevious: ratio(total.steps[i], total.steps[max(i-1, 0)]),
			ConversionFromStart:    ratio(total.steps[i], signedUp),
		}
		if h := hists[durMetric(m)]; h != nil {
			if v, ok := h.quantile(0.5); ok {
				step.MedianSecondsFromPrevious = &v
			}
			if v, ok := h.quantile(0.9); ok {
				step.P90SecondsFromPrevious = &v
			}
		}
		f.Steps = append(f.Steps, step)
	}
	f.Activated = total.activated
	f.ActivationRate = ratio(total.activated, signedUp)
	f.OverallConversion = ratio(total.steps[3], signedUp)

	// Drop-off.
	for i := range 3 {
		tenants := stuck[i]
		if tenants == nil {
			tenants = []*StuckTenant{}
		}
		f.DropOff = append(f.DropOff, &DropOff{
			Step:    Milestones[i].Name(),
			Count:   max(total.steps[i]-total.steps[i+1], 0),
			Tenants: tenants,
		})
	}
	return f, nil
}

// countRange restricts counters to q's days and plan, and to real tenants
// unless q.IncludeSynthetic.
func countRange(q Query) []predicate.FunnelCount {
	ps := []predicate.FunnelCount{funnelcount.DayGTE(q.From), funnelcount.DayLT(q.To)}
	switch {
	case q.Plan != "" && q.IncludeSynthetic:
		ps = append(ps, funnelcount.PlanKeyIn(q.Plan, syntheticPlanPrefix+q.Plan))
	case q.Plan != "":
		ps = append(ps, funnelcount.PlanKey(q.Plan))
	case !q.IncludeSynthetic:
		ps = append(ps, funnelcount.Not(funnelcount.PlanKeyHasPrefix(syntheticPlanPrefix)))
	}
	return ps
}

// readStepCounts sums the step and activation counters per day.
func readStepCounts(ctx context.Context, client *ent.Client, q Query) (map[time.Time]*stepCounts, error) {
	var rows []struct {
		Day    time.Time `json:"day"`
		Metric string    `json:"metric"`
		Sum    int       `json:"sum"`
	}
	err := client.FunnelCount.Query().
		Where(countRange(q)...).
		Where(funnelcount.Not(funnelcount.MetricHasPrefix(durPrefix))).
		GroupBy(funnelcount.FieldDay, funnelcount.FieldMetric).
		Aggregate(ent.Sum(funnelcount.FieldCount)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read funnel counts: %w", err)
	}
	out := map[time.Time]*stepCounts{}
	for _, r := range rows {
		d := r.Day.UTC()
		c := out[d]
		if c == nil {
			c = &stepCounts{}
			out[d] = c
		}
		c.add(r.Metric, r.Sum)
	}
	return out, nil
}

// readHistograms sums the duration histograms over the range, per metric.
func readHistograms(ctx context.Context, client *ent.Client, q Query) (map[string]histogram, error) {
	var rows []struct {
		Metric string `json:"metric"`
		Bucket int    `json:"bucket"`
		Sum    int64  `json:"sum"`
	}
	err := client.FunnelCount.Query().
		Where(countRange(q)...).
		Where(funnelcount.MetricHasPrefix(durPrefix)).
		GroupBy(funnelcount.FieldMetric, funnelcount.FieldBucket).
		Aggregate(ent.Sum(funnelcount.FieldCount)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read funnel histograms: %w", err)
	}
	out := map[string]histogram{}
	for _, r := range rows {
		if _, _, ok := BucketBounds(r.Bucket); !ok {
			continue
		}
		h := out[r.Metric]
		if h == nil {
			h = histogram{}
			out[r.Metric] = h
		}
		h[r.Bucket] += r.Sum
	}
	return out, nil
}

// readStuck lists the oldest tenants of the range that reached step m and
// not the next one. The predicates are those of the partial index
// activation_stuck_<m>, so PostgreSQL reads only stuck tenants, in
// signed_up_at order, and stops at the limit.
func readStuck(ctx context.Context, client *ent.Client, q Query, m Milestone) ([]*StuckTenant, error) {
	ps := []predicate.Activation{activation.SignedUpAtGTE(q.From), activation.SignedUpAtLT(q.To)}
	switch m {
	case SignedUp:
		ps = append(ps, activation.ProvisionedAtIsNil())
	case Provisioned:
		ps = append(ps, activation.ProvisionedAtNotNil(), activation.FirstUploadAtIsNil())
	case FirstUpload:
		ps = append(ps, activation.FirstUploadAtNotNil(), activation.FirstQueryAtIsNil())
	}
	switch {
	case q.Plan != "" && q.IncludeSynthetic:
		ps = append(ps, activation.PlanKeyIn(q.Plan, syntheticPlanPrefix+q.Plan))
	case q.Plan != "":
		ps = append(ps, activation.PlanKey(q.Plan))
	case !q.IncludeSynthetic:
		ps = append(ps, activation.Not(activation.PlanKeyHasPrefix(syntheticPlanPrefix)))
	}
	as, err := client.Activation.Query().Where(ps...).
		Order(activation.BySignedUpAt(), activation.ByID()).
		Limit(q.DropOffLimit).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read tenants stuck at %s: %w", m, err)
	}
	out := make([]*StuckTenant, len(as))
	for i, a := range as {
		reached := a.SignedUpAt
		switch m {
		case Provisioned:
			reached = *a.ProvisionedAt
		case FirstUpload:
			reached = *a.FirstUploadAt
		}
		out[i] = &StuckTenant{TenantID: a.ID, SignedUpAt: a.SignedUpAt.UTC(), ReachedAt: reached.UTC()}
	}
	return out, nil
}

// runAll runs the tasks concurrently and returns the first error to occur;
// that failure cancels the others.
func runAll(ctx context.Context, tasks []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, task := range tasks {
		wg.Go(func() {
			if err := task(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}
