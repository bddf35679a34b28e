package analytics

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/funnelcount"
	"github.com/tenantd/tenantd/ent/milestone"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/store"
)

// countSlots spreads each counter over rows, so that milestones of different
// tenants of the same day and plan seldom update the same row.
const countSlots = 8

// slotOf is the counter slot of a tenant.
func slotOf(id uuid.UUID) int { return int(id[15]) % countSlots }

// syntheticPlanPrefix marks the Activation rows and counters of synthetic
// tenants (readiness checks', load tests'): their plan key is
// "synthetic:<plan>", so the funnel leaves them out by default and counts
// them with Query.IncludeSynthetic, from the same rollup.
const syntheticPlanPrefix = "synthetic:"

// The counter metrics.
const (
	metricActivated = "activated"
	stepPrefix      = "step:"
	durPrefix       = "dur:"
)

// stepMetric is the metric counting the tenants that reached m.
func stepMetric(m Milestone) string { return stepPrefix + string(m) }

// durMetric is the histogram metric of the time from m's previous step to m
// ("" for SignedUp).
func durMetric(m Milestone) string {
	prev, ok := m.Previous()
	if !ok {
		return ""
	}
	return durPrefix + string(prev) + "->" + string(m)
}

// counterKey names one FunnelCount counter, slot aside.
type counterKey struct {
	Day    time.Time
	Plan   string
	Metric string
	Bucket int
}

// compareKeys orders counters the way every writer touches them, so that
// concurrent transactions cannot deadlock on the counter rows.
func compareKeys(a, b counterKey) int {
	return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Plan, b.Plan),
		cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Bucket, b.Bucket))
}

// dayOf is the cohort day of a signup: its UTC midnight.
func dayOf(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// normTime is how milestone times are stored: UTC, to the microsecond (the
// precision PostgreSQL keeps), so that durations computed now and by
// Rebuild from the stored values agree.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// funnelRow is a tenant's way through the funnel: the columns of its
// Activation row.
type funnelRow struct {
	plan  string
	times [4]*time.Time // indexed like Milestones
}

func rowOf(a *ent.Activation) funnelRow {
	s := a.SignedUpAt
	return funnelRow{plan: a.PlanKey, times: [4]*time.Time{&s, a.ProvisionedAt, a.FirstUploadAt, a.FirstQueryAt}}
}

// countersOf returns the counters that reaching milestone m adds for a
// tenant whose Activation row (m's time included) is r: the step, the
// duration sample from the previous step if the tenant has reached it, and
// activation when the first query came within window of the signup. Both
// RecordTx and Rebuild count with it.
func countersOf(r funnelRow, m Milestone, window time.Duration) []counterKey {
	i := m.index()
	at, signed := r.times[i], r.times[0]
	if at == nil || signed == nil {
		return nil
	}
	day := dayOf(*signed)
	out := []counterKey{{Day: day, Plan: r.plan, Metric: stepMetric(m)}}
	if i > 0 && r.times[i-1] != nil {
		out = append(out, counterKey{Day: day, Plan: r.plan, Metric: durMetric(m), Bucket: bucketOf(at.Sub(*r.times[i-1]))})
	}
	if m == FirstQuery && at.Sub(*signed) <= window {
		out = append(out, counterKey{Day: day, Plan: r.plan, Metric: metricActivated})
	}
	return out
}

// RecordTx records milestone m of a tenant, reached at time at, once per
// tenant, in tx:
//
//   - the Milestone row (tenant, name unique). If it already existed nothing
//     else happens and recorded is false.
//   - the Activation row: created on SignedUp with the plan key of the
//     tenant's plan ("synthetic:<plan>" for a synthetic tenant, see
//     syntheticPlanPrefix), its *_at column set by the later milestones.
//   - the FunnelCount counters of the tenant's signup day and plan: the
//     step; on FirstQuery, "activated" when first_query − signed_up ≤ window;
//     and the time since the previous step in that step's duration
//     histogram. A milestone whose previous step is missing (which should
//     not happen) is recorded but adds no duration sample.
//
// Later milestones of a tenant without an Activation row (its signup
// predates the funnel) write the Milestone row only. Tenant.synthetic is
// immutable, so the plan key's mark set at SignedUp holds.
// Times are stored in UTC to the microsecond.
//
// The counters are upserted in a fixed order, each into one of 8 slots
// chosen by the tenant id, so concurrent transactions neither deadlock nor
// queue on one row. RecordTx reads and writes as the system
// (tenantd.SystemContext).
func RecordTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, m Milestone, at time.Time, window time.Duration) (recorded bool, err error) {
	if !m.Valid() {
		return false, fmt.Errorf("record milestone: unknown milestone %q", m)
	}
	ctx = tenantd.SystemContext(ctx)
	at = normTime(at)
	err = tx.Ent.Milestone.Create().
		SetTenantID(tenantID).SetName(milestone.Name(m)).SetOccurredAt(at).
		OnConflictColumns(milestone.FieldTenantID, milestone.FieldName).DoNothing().
		Exec(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil // recorded before: ON CONFLICT DO NOTHING returned no row
	case err != nil:
		return false, fmt.Errorf("record milestone %s: %w", m, err)
	}

	var row funnelRow
	if m == SignedUp {
		t, err := tx.Ent.Tenant.Query().Where(tenant.ID(tenantID)).
			Select(tenant.FieldSynthetic, tenant.FieldPlanID).Only(ctx)
		if ent.IsNotFound(err) {
			return false, tenantd.Errorf(tenantd.ENOTFOUND, "tenant %s not found", tenantID)
		}
		if err != nil {
			return false, fmt.Errorf("record milestone %s: read tenant: %w", m, err)
		}
		p, err := tx.Ent.Plan.Get(ctx, t.PlanID)
		if err != nil {
			return false, fmt.Errorf("record milestone %s: read plan: %w", m, err)
		}
		key := p.Key
		if t.Synthetic {
			key = syntheticPlanPrefix + key
		}
		a, err := tx.Ent.Activation.Create().SetID(tenantID).SetPlanKey(key).SetSignedUpAt(at).Save(ctx)
		if err != nil {
			return false, fmt.Errorf("record milestone %s: create activation: %w", m, err)
		}
		row = rowOf(a)
	} else {
		// The update locks the row, and the entity ent reads back after it
		// is the latest: a concurrent milestone of the same tenant commits
		// first and its time is seen here.
		upd := tx.Ent.Activation.UpdateOneID(tenantID)
		switch m {
		case Provisioned:
			upd.SetProvisionedAt(at)
		case FirstUpload:
			upd.SetFirstUploadAt(at)
		case FirstQuery:
			upd.SetFirstQueryAt(at)
		}
		a, err := upd.Save(ctx)
		if ent.IsNotFound(err) {
			return true, nil // signed up before the funnel existed
		}
		if err != nil {
			return false, fmt.Errorf("record milestone %s: update activation: %w", m, err)
		}
		row = rowOf(a)
	}
	if err := addCounters(ctx, tx, slotOf(tenantID), countersOf(row, m, window)); err != nil {
		return false, fmt.Errorf("record milestone %s: %w", m, err)
	}
	return true, nil
}

// addCounters adds 1 to each counter in slot, in one upsert whose rows are
// in compareKeys order (PostgreSQL locks conflicting rows in VALUES order).
func addCounters(ctx context.Context, tx *store.Tx, slot int, keys []counterKey) error {
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, compareKeys)
	builders := make([]*ent.FunnelCountCreate, len(keys))
	for i, k := range keys {
		builders[i] = tx.Ent.FunnelCount.Create().
			SetDay(k.Day).SetPlanKey(k.Plan).SetMetric(k.Metric).
			SetBucket(k.Bucket).SetSlot(slot).SetCount(1)
	}
	err := tx.Ent.FunnelCount.CreateBulk(builders...).
		OnConflictColumns(funnelcount.FieldDay, funnelcount.FieldPlanKey, funnelcount.FieldMetric,
			funnelcount.FieldBucket, funnelcount.FieldSlot).
		AddCount(1).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("count funnel: %w", err)
	}
	return nil
}
