package lifecycle

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/ent/tenantstatecount"
	"github.com/tenantd/tenantd/internal/store"
)

// countSlots spreads each state's counter over rows so that transitions of
// different tenants seldom update the same counter row.
const countSlots = 16

func slotOf(id uuid.UUID) int { return int(id[15]) % countSlots }

// moveCount moves one tenant from one state's count to another's. The two
// rows are updated in state-name order so that two transactions moving
// tenants in opposite directions cannot deadlock.
func moveCount(ctx context.Context, tx *store.Tx, id uuid.UUID, from *tenantd.State, to tenantd.State) error {
	type delta struct {
		state tenantd.State
		n     int64
	}
	ds := []delta{{to, 1}}
	if from != nil {
		ds = append(ds, delta{*from, -1})
		if ds[1].state < ds[0].state {
			ds[0], ds[1] = ds[1], ds[0]
		}
	}
	slot := slotOf(id)
	for _, d := range ds {
		err := tx.Ent.TenantStateCount.Create().
			SetState(d.state).SetSlot(slot).SetCount(d.n).
			OnConflictColumns(tenantstatecount.FieldState, tenantstatecount.FieldSlot).
			AddCount(d.n).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("count tenants in %s: %w", d.state, err)
		}
	}
	return nil
}

// StateCounts returns the number of tenants in each state, every state
// present (zero if none). It reads the counter rows, never the tenants table.
func StateCounts(ctx context.Context, client *ent.Client) (map[tenantd.State]int64, error) {
	var rows []struct {
		State tenantd.State `json:"state"`
		Sum   int64         `json:"sum"`
	}
	err := client.TenantStateCount.Query().
		GroupBy(tenantstatecount.FieldState).
		Aggregate(ent.Sum(tenantstatecount.FieldCount)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read state counts: %w", err)
	}
	out := make(map[tenantd.State]int64, len(tenantd.AllStates))
	for _, s := range tenantd.AllStates {
		out[s] = 0
	}
	for _, r := range rows {
		out[r.State] = r.Sum
	}
	return out, nil
}

// SyntheticStateCounts returns the number of synthetic tenants (readiness
// checks' and load tests') in each state that has any. It reads them
// through the partial index tenant_synthetic_state, so its cost grows with
// the synthetic tenants, not with all of them; tenantStateCounts subtracts
// them from StateCounts.
func SyntheticStateCounts(ctx context.Context, client *ent.Client) (map[tenantd.State]int64, error) {
	var rows []struct {
		State tenantd.State `json:"state"`
		Count int64         `json:"count"`
	}
	// The bare column, not "synthetic = $1": a generic PostgreSQL plan
	// could not use the partial index for a parameter.
	err := client.Tenant.Query().
		Where(func(s *sql.Selector) { s.Where(sql.ExprP(s.C(tenant.FieldSynthetic))) }).
		GroupBy(tenant.FieldState).
		Aggregate(ent.Count()).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read synthetic state counts: %w", err)
	}
	out := make(map[tenantd.State]int64, len(rows))
	for _, r := range rows {
		out[r.State] = r.Count
	}
	return out, nil
}

// Recount rebuilds the state counts from the tenants table, for bulk loads
// and repair. On PostgreSQL it locks the counter table meanwhile, so
// transitions wait rather than update rows being rebuilt.
func Recount(ctx context.Context, db *store.DB) error {
	ctx = tenantd.SystemContext(ctx)
	return db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		if tx.IsPostgres() {
			if _, err := tx.SQL.ExecContext(ctx, "LOCK TABLE tenant_state_counts IN EXCLUSIVE MODE"); err != nil {
				return fmt.Errorf("lock counts: %w", err)
			}
		}
		if _, err := tx.SQL.ExecContext(ctx, "DELETE FROM tenant_state_counts"); err != nil {
			return fmt.Errorf("clear counts: %w", err)
		}
		// One slot per state is enough after a rebuild; transitions spread
		// into the other slots as they happen.
		_, err := tx.SQL.ExecContext(ctx,
			"INSERT INTO tenant_state_counts (state, slot, count) SELECT state, 0, count(*) FROM tenants GROUP BY state")
		if err != nil {
			return fmt.Errorf("rebuild counts: %w", err)
		}
		return nil
	})
}
