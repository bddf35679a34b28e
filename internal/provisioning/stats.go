package provisioning

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/predicate"
	"github.com/tenantd/tenantd/ent/tenant"
)

// Durations describes how long recent PROVISION operations took.
type Durations struct {
	Count            int
	P50Ms, P95Ms     *int
	MaxMs            *int
	InFlight         int
	OldestInFlightMs *int
	Recent           []*Duration
}

// Duration is one finished PROVISION operation.
type Duration struct {
	Operation  *ent.Operation
	DurationMs int
	FinishedAt time.Time
}

// RecentDurations reads the last n finished PROVISION operations and the
// ones still in flight, of real tenants only unless includeSynthetic (the
// readiness checks' and load tests' tenants take the real path too). The
// percentiles are nearest-rank (the value of rank ⌈p·n⌉), as the activation
// funnel's.
func RecentDurations(ctx context.Context, client *ent.Client, n int, now time.Time, includeSynthetic bool) (*Durations, error) {
	if n < 1 || n > 1000 {
		return nil, tenantd.Invalid("last", "last must be 1 to 1000, not %d", n)
	}
	sys := tenantd.SystemContext(ctx)
	var real []predicate.Operation
	if !includeSynthetic {
		real = append(real, operation.HasTenantWith(tenant.Synthetic(false)))
	}
	ops, err := client.Operation.Query().
		Where(operation.KindEQ(tenantd.OpProvision), operation.StatusEQ(tenantd.OpSucceeded), operation.FinishedAtNotNil()).
		Where(real...).
		Order(ent.Desc(operation.FieldFinishedAt)).Limit(n).All(sys)
	if err != nil {
		return nil, fmt.Errorf("read provisioning operations: %w", err)
	}
	d := &Durations{Count: len(ops)}
	var ms []int
	for _, op := range ops {
		v := int(op.FinishedAt.Sub(op.CreatedAt).Milliseconds())
		ms = append(ms, v)
		d.Recent = append(d.Recent, &Duration{Operation: op, DurationMs: v, FinishedAt: *op.FinishedAt})
	}
	if len(ms) > 0 {
		slices.Sort(ms)
		pick := func(q float64) *int {
			v := ms[min(len(ms)-1, max(0, int(math.Ceil(q*float64(len(ms))))-1))]
			return &v
		}
		d.P50Ms, d.P95Ms, d.MaxMs = pick(.5), pick(.95), &ms[len(ms)-1]
	}
	inflight, err := client.Operation.Query().
		Where(operation.KindEQ(tenantd.OpProvision), operation.StatusIn(tenantd.OpQueued, tenantd.OpRunning)).
		Where(real...).
		Order(ent.Asc(operation.FieldCreatedAt)).All(sys)
	if err != nil {
		return nil, fmt.Errorf("read provisioning in flight: %w", err)
	}
	d.InFlight = len(inflight)
	if len(inflight) > 0 {
		v := int(now.Sub(inflight[0].CreatedAt).Milliseconds())
		d.OldestInFlightMs = &v
	}
	return d, nil
}
