package analytics_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/activation"
	"github.com/tenantd/tenantd/ent/milestone"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

var sysCtx = tenantd.SystemContext(context.Background())

const window = 36 * time.Hour

// base is the first signup day of the seed: a Wednesday, so that the days
// of the seed fall into three ISO weeks.
var base = time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)

// seedTenant is a tenant of the seed and the times the test recorded.
type seedTenant struct {
	id        uuid.UUID
	plan      string
	synthetic bool
	times     [4]*time.Time // indexed like analytics.Milestones
}

// createTenant creates a PENDING tenant through lifecycle and records its
// signup in the same transaction, as the API's signup does.
func createTenant(t *testing.T, db *store.DB, m *lifecycle.Machine, plan string, synthetic bool, at time.Time) uuid.UUID {
	t.Helper()
	slug := "an-" + uuid.NewString()[:12]
	sum := sha256.Sum256([]byte(slug))
	var id uuid.UUID
	err := db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
		res, err := m.CreateTx(ctx, tx, lifecycle.NewTenant{
			Name: "Analytics " + slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
			Email: slug + "@example.com", PlanID: plans.ID(plan),
			Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"},
			Customize: func(c *ent.TenantCreate) {
				if synthetic {
					c.SetSynthetic(true)
				}
			},
		})
		if err != nil {
			return err
		}
		id = res.Tenant.ID
		recorded, err := analytics.RecordTx(ctx, tx, id, analytics.SignedUp, at, window)
		if err == nil && !recorded {
			err = fmt.Errorf("signup of %s not recorded", id)
		}
		return err
	})
	require.NoError(t, err)
	return id
}

// record records one milestone in its own transaction.
func record(t *testing.T, db *store.DB, id uuid.UUID, m analytics.Milestone, at time.Time, window time.Duration) bool {
	t.Helper()
	var recorded bool
	err := db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) (err error) {
		recorded, err = analytics.RecordTx(ctx, tx, id, m, at, window)
		return err
	})
	require.NoError(t, err)
	return recorded
}

// logUniform draws a duration between lo and hi, uniform in log scale, to
// the millisecond.
func logUniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	s := math.Exp(math.Log(lo.Seconds()) + rng.Float64()*(math.Log(hi.Seconds())-math.Log(lo.Seconds())))
	return time.Duration(s*1000) * time.Millisecond
}

// seed signs up n tenants over 15 days from base, two plans, one in 13
// synthetic, and takes each as far as a dice roll says: 20% stay signed up,
// 20% provisioned, 20% at the first upload, 40% reach the first query
// (within the window or beyond). Every signup time is distinct.
func seed(t *testing.T, db *store.DB, n int) []*seedTenant {
	t.Helper()
	m := lifecycle.New(lifecycle.Config{DB: db})
	rng := rand.New(rand.NewPCG(2025, 3))
	out := make([]*seedTenant, 0, n)
	for i := range n {
		st := &seedTenant{plan: plans.Free, synthetic: i%13 == 7}
		if i%3 == 0 {
			st.plan = plans.Starter
		}
		signup := base.Add(time.Duration(i%15)*24*time.Hour + time.Duration(i)*7*time.Minute +
			time.Duration(rng.IntN(60_000))*time.Millisecond)
		reach := []int{0, 0, 1, 1, 2, 2, 3, 3, 3, 3}[rng.IntN(10)]
		st.times[0] = &signup
		st.id = createTenant(t, db, m, st.plan, st.synthetic, signup)
		prev := signup
		for s := 1; s <= reach; s++ {
			var d time.Duration
			switch s {
			case 1:
				d = logUniform(rng, 5*time.Second, 20*time.Minute)
			default:
				d = logUniform(rng, time.Minute, 3*24*time.Hour)
			}
			at := prev.Add(d)
			st.times[s] = &at
			require.True(t, record(t, db, st.id, analytics.Milestones[s], at, window))
			prev = at
		}
		out = append(out, st)
	}
	return out
}

// nearestRank is the p-quantile of ds by the nearest-rank definition.
func nearestRank(ds []float64, p float64) float64 {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[int(math.Ceil(p*float64(len(ds))))-1]
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func cohortStart(d time.Time, c analytics.Cohort) time.Time {
	d = d.UTC().Truncate(24 * time.Hour)
	if c == analytics.CohortWeek {
		for d.Weekday() != time.Monday {
			d = d.AddDate(0, 0, -1)
		}
	}
	return d
}

// expect computes the funnel of the seed for q (From and To whole days)
// on its own: the exact numbers, and the exact medians and 90th
// percentiles in durations.
func expect(seed []*seedTenant, q analytics.Query, window time.Duration) (*analytics.Funnel, [4][]float64) {
	want := &analytics.Funnel{From: q.From, To: q.To, ActivationWindowHours: int(window / time.Hour), Cohorts: []*analytics.FunnelCohort{}}
	if q.Plan != "" {
		want.Plan = &q.Plan
	}
	var counts [4]int
	var durations [4][]float64
	var stuck [3][]*seedTenant
	cohorts := map[time.Time]*analytics.FunnelCohort{}
	for _, s := range seed {
		signup := *s.times[0]
		if (s.synthetic && !q.IncludeSynthetic) || signup.Before(q.From) || !signup.Before(q.To) || (q.Plan != "" && s.plan != q.Plan) {
			continue
		}
		start := cohortStart(signup, q.Cohort)
		c := cohorts[start]
		if c == nil {
			c = &analytics.FunnelCohort{Start: start}
			cohorts[start] = c
		}
		for i, at := range s.times {
			if at == nil {
				continue
			}
			counts[i]++
			if i > 0 && s.times[i-1] != nil {
				durations[i] = append(durations[i], at.Sub(*s.times[i-1]).Seconds())
			}
			if i < 3 && s.times[i+1] == nil {
				stuck[i] = append(stuck[i], s)
			}
		}
		c.SignedUp++
		if s.times[1] != nil {
			c.Provisioned++
		}
		if s.times[2] != nil {
			c.FirstUpload++
		}
		if s.times[3] != nil {
			c.FirstQuery++
			if s.times[3].Sub(signup) <= window {
				c.Activated++
				want.Activated++
			}
		}
	}
	for _, c := range cohorts {
		c.ActivationRate = ratio(c.Activated, c.SignedUp)
		want.Cohorts = append(want.Cohorts, c)
	}
	slices.SortFunc(want.Cohorts, func(a, b *analytics.FunnelCohort) int { return a.Start.Compare(b.Start) })
	for i, m := range analytics.Milestones {
		want.Steps = append(want.Steps, &analytics.FunnelStep{
			Name: m.Name(), Count: counts[i],
			ConversionFromPrevious: ratio(counts[i], counts[max(i-1, 0)]),
			ConversionFromStart:    ratio(counts[i], counts[0]),
		})
	}
	want.ActivationRate = ratio(want.Activated, counts[0])
	want.OverallConversion = ratio(counts[3], counts[0])
	for i := range 3 {
		slices.SortFunc(stuck[i], func(a, b *seedTenant) int { return a.times[0].Compare(*b.times[0]) })
		d := &analytics.DropOff{Step: analytics.Milestones[i].Name(), Count: len(stuck[i]), Tenants: []*analytics.StuckTenant{}}
		for _, s := range stuck[i][:min(q.DropOffLimit, len(stuck[i]))] {
			d.Tenants = append(d.Tenants, &analytics.StuckTenant{TenantID: s.id, SignedUpAt: *s.times[0], ReachedAt: *s.times[i]})
		}
		want.DropOff = append(want.DropOff, d)
	}
	return want, durations
}

// checkFunnel compares Compute's answer with expect's: everything exactly
// but the medians and 90th percentiles, which must be within 10%.
func checkFunnel(t *testing.T, client *ent.Client, seed []*seedTenant, q analytics.Query, window time.Duration) *analytics.Funnel {
	t.Helper()
	got, err := analytics.Compute(context.Background(), client, q, window)
	require.NoError(t, err)
	if q.Cohort == "" {
		q.Cohort = analytics.CohortDay
	}
	want, durations := expect(seed, q, window)
	require.Len(t, got.Steps, 4)
	for i, step := range got.Steps {
		if len(durations[i]) == 0 {
			require.Nil(t, step.MedianSecondsFromPrevious, "step %s", step.Name)
			require.Nil(t, step.P90SecondsFromPrevious, "step %s", step.Name)
			continue
		}
		require.NotNil(t, step.MedianSecondsFromPrevious, "step %s", step.Name)
		require.NotNil(t, step.P90SecondsFromPrevious, "step %s", step.Name)
		require.InEpsilon(t, nearestRank(durations[i], 0.5), *step.MedianSecondsFromPrevious, 0.1, "median of step %s", step.Name)
		require.InEpsilon(t, nearestRank(durations[i], 0.9), *step.P90SecondsFromPrevious, 0.1, "p90 of step %s", step.Name)
		want.Steps[i].MedianSecondsFromPrevious = step.MedianSecondsFromPrevious
		want.Steps[i].P90SecondsFromPrevious = step.P90SecondsFromPrevious
	}
	require.Equal(t, want, got)
	return got
}

// counters returns the FunnelCount counters summed over slots, by day, plan,
// metric and bucket.
func counters(t *testing.T, db *store.DB) map[string]int64 {
	t.Helper()
	rows, err := db.Ent.FunnelCount.Query().All(sysCtx)
	require.NoError(t, err)
	out := map[string]int64{}
	for _, r := range rows {
		out[fmt.Sprintf("%s|%s|%s|%d", r.Day.UTC().Format(time.RFC3339), r.PlanKey, r.Metric, r.Bucket)] += r.Count
	}
	return out
}

// activationRows returns the Activation table as text, one row a line.
func activationRows(t *testing.T, db *store.DB) []string {
	t.Helper()
	as, err := db.Ent.Activation.Query().Order(activation.ByID()).All(sysCtx)
	require.NoError(t, err)
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = fmt.Sprintf("%s %s %s %v %v %v", a.ID, a.PlanKey, a.SignedUpAt.UTC(), a.ProvisionedAt, a.FirstUploadAt, a.FirstQueryAt)
	}
	return out
}

func TestFunnel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		population := seed(t, db, 120)

		// The seed covers every case the funnel distinguishes.
		var synthetic, activated, late int
		var stuck [4]int
		for _, s := range population {
			if s.synthetic {
				synthetic++
				continue
			}
			last := 0
			for i, at := range s.times {
				if at != nil {
					last = i
				}
			}
			stuck[last]++
			if s.times[3] != nil {
				if s.times[3].Sub(*s.times[0]) <= window {
					activated++
				} else {
					late++
				}
			}
		}
		require.Positive(t, synthetic)
		require.Positive(t, activated)
		require.Positive(t, late, "some first queries come after the window")
		for i, n := range stuck {
			require.Positive(t, n, "some tenants stop at %s", analytics.Milestones[i])
		}

		// Synthetic tenants have milestones and an activation under their
		// plan key marked "synthetic:" (the funnel leaves them out unless
		// asked: checkFunnel's expect does the same).
		n, err := db.Ent.Activation.Query().Count(sysCtx)
		require.NoError(t, err)
		require.Equal(t, len(population), n)
		for _, s := range population {
			a, err := db.Ent.Activation.Get(sysCtx, s.id)
			require.NoError(t, err)
			if !s.synthetic {
				require.Equal(t, s.plan, a.PlanKey)
				continue
			}
			require.Equal(t, "synthetic:"+s.plan, a.PlanKey)
			ms, err := db.Ent.Milestone.Query().Where(milestone.TenantID(s.id)).Count(sysCtx)
			require.NoError(t, err)
			require.Positive(t, ms)
		}

		all := analytics.Query{From: base.AddDate(0, 0, -1), To: base.AddDate(0, 0, 16), DropOffLimit: 5}
		real := checkFunnel(t, db.Ent, population, all, window)
		// includeSynthetic counts them too, with or without a plan.
		withSynthetic := all
		withSynthetic.IncludeSynthetic, withSynthetic.DropOffLimit = true, 100
		every := checkFunnel(t, db.Ent, population, withSynthetic, window)
		require.Equal(t, real.Steps[0].Count+synthetic, every.Steps[0].Count)
		withSynthetic.Plan = plans.Starter
		checkFunnel(t, db.Ent, population, withSynthetic, window)
		_, err = analytics.Compute(context.Background(), db.Ent, analytics.Query{Plan: "synthetic:free"}, window)
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		all.Cohort = analytics.CohortWeek
		all.DropOffLimit = 100
		full := checkFunnel(t, db.Ent, population, all, window)
		require.Len(t, full.Cohorts, 3, "the seed spans three ISO weeks")
		for _, d := range full.DropOff {
			require.Len(t, d.Tenants, d.Count, "a limit of 100 lists every stuck tenant")
		}

		// Part of the range, one plan; times inside a day are truncated.
		part := analytics.Query{From: base.AddDate(0, 0, 2).Add(5 * time.Hour), To: base.AddDate(0, 0, 9).Add(23 * time.Hour),
			Plan: plans.Starter, Cohort: analytics.CohortWeek, DropOffLimit: 3}
		got, err := analytics.Compute(context.Background(), db.Ent, part, window)
		require.NoError(t, err)
		require.Equal(t, base.AddDate(0, 0, 2), got.From)
		require.Equal(t, base.AddDate(0, 0, 9), got.To)
		part.From, part.To = got.From, got.To
		checkFunnel(t, db.Ent, population, part, window)
		part.Cohort, part.DropOffLimit = analytics.CohortDay, 0
		checkFunnel(t, db.Ent, population, part, window)

		// A plan with no tenants, and the default range (now) are empty.
		empty := checkFunnel(t, db.Ent, population, analytics.Query{From: all.From, To: all.To, Plan: plans.Pro, DropOffLimit: 20}, window)
		require.Zero(t, empty.Steps[0].Count)
		require.Empty(t, empty.Cohorts)
		def, err := analytics.Compute(context.Background(), db.Ent, analytics.Query{}, window)
		require.NoError(t, err)
		tomorrow := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
		require.Equal(t, tomorrow, def.To)
		require.Equal(t, tomorrow.AddDate(0, 0, -30), def.From)
		require.Zero(t, def.Steps[0].Count)
		require.Equal(t, 36, def.ActivationWindowHours)

		// Recording a milestone again changes nothing.
		before := counters(t, db)
		activations := activationRows(t, db)
		for _, s := range population[:20] {
			for i, at := range s.times {
				if at != nil {
					require.False(t, record(t, db, s.id, analytics.Milestones[i], at.Add(time.Hour), window))
				}
			}
		}
		require.Equal(t, before, counters(t, db))
		require.Equal(t, activations, activationRows(t, db))

		// Compact merges the slots and changes no sum.
		rows, err := db.Ent.FunnelCount.Query().Count(sysCtx)
		require.NoError(t, err)
		removed, err := analytics.Compact(context.Background(), db, base.AddDate(1, 0, 0))
		require.NoError(t, err)
		require.Positive(t, removed)
		require.Equal(t, before, counters(t, db))
		left, err := db.Ent.FunnelCount.Query().Count(sysCtx)
		require.NoError(t, err)
		require.Equal(t, rows-removed, left)
		require.Equal(t, len(before), left, "one row per counter")
		require.Equal(t, full, checkFunnel(t, db.Ent, population, all, window))
		removed, err = analytics.Compact(context.Background(), db, base.AddDate(1, 0, 0))
		require.NoError(t, err)
		require.Zero(t, removed)

		// Rebuild yields the counters RecordTx kept (slots aside) and the
		// same funnel.
		require.NoError(t, analytics.Rebuild(context.Background(), db, window))
		require.Equal(t, before, counters(t, db))
		rebuilt := checkFunnel(t, db.Ent, population, all, window)
		require.Equal(t, full, rebuilt)

		// Rebuild with another window moves the activations.
		require.NoError(t, analytics.Rebuild(context.Background(), db, 12*time.Hour))
		short := checkFunnel(t, db.Ent, population, all, 12*time.Hour)
		require.Less(t, short.Activated, full.Activated)
		require.NoError(t, analytics.Rebuild(context.Background(), db, window))
		require.Equal(t, before, counters(t, db))
	})
}

func TestOutOfOrderMilestone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := lifecycle.New(lifecycle.Config{DB: db})
		signup := base.Add(3 * time.Hour)
		id := createTenant(t, db, m, plans.Free, false, signup)
		// A first query without upload (which should not happen) counts as a
		// step and an activation, with no duration sample.
		require.True(t, record(t, db, id, analytics.Provisioned, signup.Add(time.Minute), window))
		require.True(t, record(t, db, id, analytics.FirstQuery, signup.Add(time.Hour), window))
		got, err := analytics.Compute(context.Background(), db.Ent, analytics.Query{From: base, To: base.AddDate(0, 0, 1)}, window)
		require.NoError(t, err)
		require.Equal(t, []int{1, 1, 0, 1}, []int{got.Steps[0].Count, got.Steps[1].Count, got.Steps[2].Count, got.Steps[3].Count})
		require.Equal(t, 1, got.Activated)
		require.NotNil(t, got.Steps[1].MedianSecondsFromPrevious)
		require.Nil(t, got.Steps[3].MedianSecondsFromPrevious)
		require.Zero(t, got.DropOff[2].Count, "never negative")

		// Milestones of a tenant without an activation (signed up before the
		// funnel existed) are recorded and counted nowhere.
		var old uuid.UUID
		err = db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
			res, err := m.CreateTx(ctx, tx, lifecycle.NewTenant{Name: "Old", Slug: "an-old", SlugHash: "x", PlanID: plans.ID(plans.Free),
				Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"}})
			if err == nil {
				old = res.Tenant.ID
			}
			return err
		})
		require.NoError(t, err)
		before := counters(t, db)
		require.True(t, record(t, db, old, analytics.Provisioned, signup, window))
		require.False(t, record(t, db, old, analytics.Provisioned, signup, window))
		require.Equal(t, before, counters(t, db))

		err = db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
			_, err := analytics.RecordTx(ctx, tx, uuid.New(), analytics.SignedUp, signup, window)
			return err
		})
		require.Equal(t, tenantd.ENOTFOUND, tenantd.ErrorCode(err))
	})
}

func TestConcurrentRecording(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := lifecycle.New(lifecycle.Config{DB: db})
		const workers, each = 6, 10
		signup := base.Add(time.Hour)
		ids := make([]uuid.UUID, 0, workers*each)
		for range workers * each {
			ids = append(ids, createTenant(t, db, m, plans.Free, false, signup))
		}
		// Every worker takes its tenants through the funnel, all on one day
		// and plan: the same counters, touched concurrently.
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for _, id := range ids[w*each : (w+1)*each] {
					for i, ms := range analytics.Milestones[1:] {
						err := db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
							_, err := analytics.RecordTx(ctx, tx, id, ms, signup.Add(time.Duration(i+1)*time.Minute), window)
							return err
						})
						if err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		// Compaction runs all the while; it neither deadlocks with the
		// workers nor loses their increments.
		done := make(chan struct{})
		compacted := make(chan error, 1)
		var merged atomic.Int64
		go func() {
			var err error
			for err == nil {
				select {
				case <-done:
					compacted <- nil
					return
				default:
				}
				var n int
				n, err = analytics.Compact(context.Background(), db, base.AddDate(0, 0, 1))
				merged.Add(int64(n))
			}
			compacted <- err
		}()
		wg.Wait()
		close(done)
		require.NoError(t, <-compacted)
		require.Positive(t, merged.Load(), "compaction ran beside the workers")
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := analytics.Compute(context.Background(), db.Ent, analytics.Query{From: base, To: base.AddDate(0, 0, 1)}, window)
		require.NoError(t, err)
		for _, s := range got.Steps {
			require.Equal(t, workers*each, s.Count, "step %s", s.Name)
		}
		require.Equal(t, workers*each, got.Activated)
		require.InEpsilon(t, 60, *got.Steps[2].MedianSecondsFromPrevious, 0.1)
	})
}

func TestComputeRejectsBadInput(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	day := base
	for _, c := range []struct {
		q     analytics.Query
		field string
	}{
		{analytics.Query{From: day, To: day}, "to"},
		{analytics.Query{From: day, To: day.Add(23 * time.Hour)}, "to"},
		{analytics.Query{From: day.AddDate(0, 0, 2), To: day}, "to"},
		{analytics.Query{From: day, To: day.AddDate(3, 0, 1)}, "from"},
		{analytics.Query{To: day.AddDate(0, 0, 1), Cohort: "MONTH"}, "cohort"},
		{analytics.Query{DropOffLimit: -1}, "dropOffLimit"},
		{analytics.Query{DropOffLimit: 101}, "dropOffLimit"},
	} {
		_, err := analytics.Compute(context.Background(), db.Ent, c.q, window)
		require.Error(t, err, "%+v", c.q)
		e := tenantd.AsError(err)
		require.NotNil(t, e, "%v", err)
		require.Equal(t, tenantd.EINVALID, e.Code)
		require.Equal(t, c.field, e.Field, e.Message)
	}
	_, err := analytics.Compute(context.Background(), db.Ent, analytics.Query{From: day, To: day.AddDate(3, 0, 0), DropOffLimit: 100}, window)
	require.NoError(t, err, "three years and a limit of 100 are allowed")
}

func TestEnums(t *testing.T) {
	for i, m := range analytics.Milestones {
		n := m.Name()
		require.Equal(t, m, n.Milestone())
		var back analytics.MilestoneName
		require.NoError(t, back.UnmarshalGQL(string(n)))
		require.Equal(t, n, back)
		require.Equal(t, milestone.Name(m).String(), string(m))
		prev, ok := m.Previous()
		require.Equal(t, i > 0, ok)
		if ok {
			require.Equal(t, analytics.Milestones[i-1], prev)
		}
	}
	var n analytics.MilestoneName
	require.Equal(t, "MilestoneName", tenantd.AsError(n.UnmarshalGQL("signed_up")).Field)
	var c analytics.Cohort
	require.NoError(t, c.UnmarshalGQL("WEEK"))
	require.Equal(t, analytics.CohortWeek, c)
	require.Error(t, c.UnmarshalGQL("MONTH"))
	require.Error(t, c.UnmarshalGQL(3))
}
