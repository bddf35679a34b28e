package bench_test

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// Transitions per second, lifecycle against bare SQL doing the same writes.
//
// Two runs of `make bench` (-benchtime 2s) on the 2-core development machine,
// PostgreSQL 15 on 127.0.0.1 with default settings, SQLite through
// modernc.org/sqlite in WAL mode; lifecycle/bare is the ratio of the rates:
//
//	                                        lifecycle      bare_sql   lifecycle/bare
//	BenchmarkTransition/sqlite            2,748 | 2,599  5,248 | 5,269   0.52 | 0.49
//	BenchmarkTransition/postgres            822 |   799  1,378 | 1,073   0.60 | 0.74
//	BenchmarkTransitionParallel/sqlite    1,806 | 2,449  4,699 | 4,520   0.38 | 0.54
//	BenchmarkTransitionParallel/postgres  2,222 | 2,016  2,924 | 3,069   0.76 | 0.66
//
// So lifecycle runs at roughly half the bare rate on SQLite, where the
// statements themselves are cheap, and at two thirds to three quarters of it
// on PostgreSQL, where the commit (a WAL flush) dominates; the parallel
// PostgreSQL runs gain from group commit. What lifecycle adds is ent's
// statement building, hooks and privacy rules, and one more statement:
// UpdateOne.Save re-reads the tenant row after its UPDATE. The SQLite
// parallel figures scatter because waiting writers sleep in SQLite's busy
// handler rather than queue for the write lock.

// transitionTenants is how many ACTIVE tenants the serial benchmarks cycle
// through.
const transitionTenants = 32

func BenchmarkTransition(b *testing.B) {
	for _, kind := range storetest.Kinds(b) {
		b.Run(string(kind), func(b *testing.B) {
			db := storetest.New(b, kind)
			for _, impl := range transitionImpls(db) {
				ids := activeTenants(b, db, transitionTenants, "tr-"+impl.name)
				b.Run(impl.name, func(b *testing.B) {
					suspended := make([]bool, len(ids))
					before := historyRows(b, db, ids)
					b.ResetTimer()
					i := 0
					for b.Loop() {
						k := i % len(ids)
						i++
						if err := impl.fire(sysCtx, ids[k], nextEvent(suspended[k])); err != nil {
							b.Fatal(err)
						}
						suspended[k] = !suspended[k]
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transitions/s")
					checkTransitions(b, db, ids, suspended, before+b.N)
				})
			}
		})
	}
}

// transitionParallelism times GOMAXPROCS is the number of goroutines of
// BenchmarkTransitionParallel, each firing at its own tenants.
const (
	transitionParallelism = 4
	tenantsPerGoroutine   = 4
)

func BenchmarkTransitionParallel(b *testing.B) {
	for _, kind := range storetest.Kinds(b) {
		b.Run(string(kind), func(b *testing.B) {
			db := storetest.New(b, kind)
			goroutines := transitionParallelism * runtime.GOMAXPROCS(0)
			for _, impl := range transitionImpls(db) {
				ids := activeTenants(b, db, goroutines*tenantsPerGoroutine, "trp-"+impl.name)
				suspended := make([]bool, len(ids))
				before := historyRows(b, db, ids)
				var fired atomic.Int64
				b.Run(impl.name, func(b *testing.B) {
					var nextG atomic.Int64
					b.SetParallelism(transitionParallelism)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						g := int(nextG.Add(1)) - 1
						if g >= goroutines {
							b.Errorf("goroutine %d of %d: GOMAXPROCS changed under the benchmark", g, goroutines)
							return
						}
						// Goroutine g owns ids[lo:lo+tenantsPerGoroutine]; the
						// states it tracks are its own too.
						lo, n := g*tenantsPerGoroutine, int64(0)
						defer func() { fired.Add(n) }()
						for i := 0; pb.Next(); i++ {
							k := lo + i%tenantsPerGoroutine
							if err := impl.fire(sysCtx, ids[k], nextEvent(suspended[k])); err != nil {
								b.Error(err)
								return
							}
							suspended[k] = !suspended[k]
							n++
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transitions/s")
				})
				checkTransitions(b, db, ids, suspended, before+int(fired.Load()))
			}
		})
	}
}

func nextEvent(suspended bool) tenantd.Event {
	if suspended {
		return tenantd.EventResume
	}
	return tenantd.EventSuspend
}

// checkTransitions checks, outside the timed loop, that every transition was
// written once, that each tenant is where the benchmark left it, and that the
// chains and counters audit clean.
func checkTransitions(b *testing.B, db *store.DB, ids []uuid.UUID, suspended []bool, wantRows int) {
	b.Helper()
	require.Equal(b, wantRows, historyRows(b, db, ids), "one history row per transition")
	ts, err := db.Ent.Tenant.Query().Where(tenant.IDIn(ids...)).All(sysCtx)
	require.NoError(b, err)
	state := make(map[uuid.UUID]tenantd.State, len(ts))
	for _, t := range ts {
		state[t.ID] = t.State
	}
	for k, id := range ids {
		want := tenantd.StateActive
		if suspended[k] {
			want = tenantd.StateSuspended
		}
		require.Equal(b, want, state[id], "tenant %s", id)
	}
	audit(b, db)
}

type transitionImpl struct {
	name string
	fire func(ctx context.Context, id uuid.UUID, ev tenantd.Event) error
}

func transitionImpls(db *store.DB) []transitionImpl {
	m := lifecycle.New(lifecycle.Config{DB: db})
	bare := newBareTransitions(db)
	return []transitionImpl{
		{"lifecycle", func(ctx context.Context, id uuid.UUID, ev tenantd.Event) error {
			_, err := m.Fire(ctx, lifecycle.Request{TenantID: id, Event: ev, Actor: adminActor, Reason: benchReason})
			return err
		}},
		{"bare_sql", bare.fire},
	}
}

// countSlots is lifecycle's (unexported) number of counter rows per state;
// the baseline spreads its counter updates the same way so that both contend
// equally on the counter rows.
const countSlots = 16

// bareTransitions is the baseline: lifecycle's writes for one transition of
// an existing tenant, as hand-written SQL in one transaction.
type bareTransitions struct {
	db                                      *sql.DB
	selectQ, updateQ, insertQ, upsertCountQ string
}

func newBareTransitions(db *store.DB) *bareTransitions {
	pg := db.IsPostgres()
	sel := `SELECT id, created_at, updated_at, name, slug, slug_hash, email, state, state_before_deletion,
		state_changed_at, history_seq, history_head, billing_customer_id, billing_subscription_id,
		purge_after, purged_at, plan_id
		FROM tenants WHERE id = ?`
	if pg {
		sel += " FOR UPDATE"
	}
	return &bareTransitions{
		db:      db.SQL,
		selectQ: rebind(pg, sel),
		updateQ: rebind(pg, `UPDATE tenants SET state = ?, state_changed_at = ?, history_seq = ?, history_head = ?, updated_at = ?
			WHERE id = ? AND history_seq = ?`),
		insertQ: rebind(pg, `INSERT INTO state_transitions (id, tenant_id, seq, event, from_state, to_state,
			triggered_by, actor, reason, metadata, occurred_at, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`),
		upsertCountQ: rebind(pg, `INSERT INTO tenant_state_counts (state, slot, count) VALUES (?, ?, ?)
			ON CONFLICT (state, slot) DO UPDATE SET count = tenant_state_counts.count + excluded.count`),
	}
}

// tenantRow is the whole tenants row, as lifecycle reads it.
type tenantRow struct {
	ID                          uuid.UUID
	CreatedAt, UpdatedAt        time.Time
	Name                        string
	Slug                        sql.NullString
	SlugHash                    string
	Email                       sql.NullString
	State                       string
	StateBeforeDeletion         sql.NullString
	StateChangedAt              time.Time
	HistorySeq                  int
	HistoryHead                 string
	BillingCustomer, BillingSub sql.NullString
	PurgeAfter, PurgedAt        sql.NullTime
	PlanID                      uuid.UUID
}

func (bt *bareTransitions) fire(ctx context.Context, id uuid.UUID, ev tenantd.Event) (err error) {
	tx, err := bt.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE on SQLite (the DSN's _txlock), as for lifecycle
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var t tenantRow
	err = tx.QueryRowContext(ctx, bt.selectQ, id).Scan(&t.ID, &t.CreatedAt, &t.UpdatedAt, &t.Name, &t.Slug,
		&t.SlugHash, &t.Email, &t.State, &t.StateBeforeDeletion, &t.StateChangedAt, &t.HistorySeq,
		&t.HistoryHead, &t.BillingCustomer, &t.BillingSub, &t.PurgeAfter, &t.PurgedAt, &t.PlanID)
	if err != nil {
		return fmt.Errorf("select tenant: %w", err)
	}
	from := tenantd.State(t.State)
	var before *tenantd.State
	if t.StateBeforeDeletion.Valid {
		s := tenantd.State(t.StateBeforeDeletion.String)
		before = &s
	}
	to, ok := lifecycle.Target(from, ev, before)
	if !ok {
		return fmt.Errorf("cannot %s a tenant in %s", ev, from)
	}
	now := schema.Now()
	seq := t.HistorySeq + 1
	hash, err := lifecycle.Hash(t.HistoryHead, lifecycle.Link{
		TenantID: id, Seq: seq, Event: ev, From: &from, To: to,
		TriggeredBy: adminActor.By, Actor: adminActor.Name, Reason: benchReason, OccurredAt: now,
	})
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, bt.updateQ, string(to), now, seq, hash, now, id, t.HistorySeq)
	if err != nil {
		return fmt.Errorf("update tenant: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("update tenant: %d rows (%v)", n, err)
	}
	_, err = tx.ExecContext(ctx, bt.insertQ, schema.NewID(), id, seq, string(ev), string(from), string(to),
		string(adminActor.By), adminActor.Name, benchReason, now, t.HistoryHead, hash)
	if err != nil {
		return fmt.Errorf("insert transition: %w", err)
	}
	// The two counter rows in state-name order, as lifecycle updates them.
	type delta struct {
		state tenantd.State
		n     int64
	}
	ds := [2]delta{{to, 1}, {from, -1}}
	if ds[1].state < ds[0].state {
		ds[0], ds[1] = ds[1], ds[0]
	}
	slot := int(id[15]) % countSlots
	for _, d := range ds {
		if _, err = tx.ExecContext(ctx, bt.upsertCountQ, string(d.state), slot, d.n); err != nil {
			return fmt.Errorf("count %s: %w", d.state, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
