package lifecycle_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

type testBundle struct {
	db *store.DB
	m  *lifecycle.Machine
}

func setup(t *testing.T, db *store.DB) *testBundle {
	t.Helper()
	return &testBundle{db: db, m: lifecycle.New(lifecycle.Config{DB: db})}
}

var sysCtx = tenantd.SystemContext(context.Background())

// signup creates a PENDING tenant.
func (b *testBundle) signup(t *testing.T) uuid.UUID {
	t.Helper()
	slug := "t-" + uuid.NewString()[:8]
	sum := sha256.Sum256([]byte(slug))
	var id uuid.UUID
	err := b.db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
		res, err := b.m.CreateTx(ctx, tx, lifecycle.NewTenant{
			Name: "Test " + slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]), Email: slug + "@example.com",
			PlanID: plans.ID(plans.Free), Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"},
		})
		if err == nil {
			id = res.Tenant.ID
		}
		return err
	})
	require.NoError(t, err)
	return id
}

// triggerFor returns a trigger allowed to cause ev.
func triggerFor(ev tenantd.Event) tenantd.Trigger {
	for _, r := range lifecycle.Table {
		if r.Event == ev {
			return r.By[0]
		}
	}
	panic("unknown event " + ev)
}

func (b *testBundle) fire(ctx context.Context, id uuid.UUID, ev tenantd.Event) (*lifecycle.Result, error) {
	return b.m.Fire(ctx, lifecycle.Request{
		TenantID: id, Event: ev, Reason: "test",
		Actor: lifecycle.Actor{By: triggerFor(ev), Name: "test"},
	})
}

// pathTo lists events that take a new PENDING tenant to s.
var pathTo = map[tenantd.State][]tenantd.Event{
	tenantd.StatePending:            {},
	tenantd.StateProvisioning:       {tenantd.EventProvision},
	tenantd.StateProvisioningFailed: {tenantd.EventProvision, tenantd.EventFail},
	tenantd.StateActive:             {tenantd.EventProvision, tenantd.EventActivate},
	tenantd.StateSuspended:          {tenantd.EventProvision, tenantd.EventActivate, tenantd.EventSuspend},
	tenantd.StateCanceled:           {tenantd.EventProvision, tenantd.EventActivate, tenantd.EventCancel},
	tenantd.StatePendingDeletion:    {tenantd.EventProvision, tenantd.EventActivate, tenantd.EventSuspend, tenantd.EventRequestDeletion},
	tenantd.StatePurged:             {tenantd.EventProvision, tenantd.EventActivate, tenantd.EventRequestDeletion, tenantd.EventPurge},
}

func (b *testBundle) historyLen(t *testing.T, id uuid.UUID) int {
	t.Helper()
	n, err := b.db.Ent.StateTransition.Query().Where(statetransition.TenantID(id)).Count(sysCtx)
	require.NoError(t, err)
	return n
}

func TestEveryStateEventPair(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		for _, from := range tenantd.AllStates {
			for _, ev := range tenantd.AllEvents {
				if ev == tenantd.EventSignup {
					continue // signup creates; it has no source state
				}
				t.Run(fmt.Sprintf("%s/%s", from, ev), func(t *testing.T) {
					id := b.signup(t)
					for _, step := range pathTo[from] {
						_, err := b.fire(sysCtx, id, step)
						require.NoError(t, err)
					}
					before, err := db.Ent.Tenant.Get(sysCtx, id)
					require.NoError(t, err)
					require.Equal(t, from, before.State)
					rows := b.historyLen(t, id)

					res, err := b.fire(sysCtx, id, ev)
					if !lifecycle.Legal(from, ev) {
						require.Error(t, err)
						require.Equal(t, tenantd.EINVALIDTRANSITION, tenantd.ErrorCode(err))
						require.Contains(t, tenantd.ErrorMessage(err), string(from))
						e := tenantd.AsError(err)
						require.ElementsMatch(t, lifecycle.AllowedEventsFor(from, triggerFor(ev)), toEvents(e.Extra["allowedEvents"]))
						after, err := db.Ent.Tenant.Get(sysCtx, id)
						require.NoError(t, err)
						require.Equal(t, before.State, after.State)
						require.Equal(t, before.HistorySeq, after.HistorySeq)
						require.Equal(t, rows, b.historyLen(t, id), "an illegal event writes nothing")
						return
					}
					require.NoError(t, err)
					want, _ := lifecycle.Target(from, ev, before.StateBeforeDeletion)
					require.Equal(t, want, res.Tenant.State)
					require.Equal(t, rows+1, b.historyLen(t, id), "a legal event writes exactly one history row")
					require.Equal(t, rows+1, res.Transition.Seq)
					require.Equal(t, from, *res.Transition.FromState)
					require.Equal(t, want, res.Transition.ToState)
					require.Equal(t, before.HistoryHead, res.Transition.PrevHash)
				})
			}
		}
		rep, err := lifecycle.Verify(context.Background(), db.Ent, nil)
		require.NoError(t, err)
		require.True(t, rep.OK(), "audit: %+v", rep)
	})
}

func toEvents(v any) []tenantd.Event {
	var out []tenantd.Event
	for _, s := range v.([]string) {
		out = append(out, tenantd.Event(s))
	}
	return out
}

func TestRestoreReturnsToStateBeforeDeletion(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		for _, from := range []tenantd.State{tenantd.StateActive, tenantd.StateSuspended, tenantd.StateCanceled, tenantd.StateProvisioningFailed} {
			id := b.signup(t)
			for _, step := range pathTo[from] {
				_, err := b.fire(sysCtx, id, step)
				require.NoError(t, err)
			}
			res, err := b.fire(sysCtx, id, tenantd.EventRequestDeletion)
			require.NoError(t, err)
			require.Equal(t, from, *res.Tenant.StateBeforeDeletion)
			res, err = b.fire(sysCtx, id, tenantd.EventRestore)
			require.NoError(t, err)
			require.Equal(t, from, res.Tenant.State)
			require.Nil(t, res.Tenant.StateBeforeDeletion)
		}
	})
}

func TestActorRules(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		id := b.signup(t)
		_, err := b.m.Fire(sysCtx, lifecycle.Request{TenantID: id, Event: tenantd.EventProvision,
			Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "u"}})
		require.Equal(t, tenantd.EFORBIDDEN, tenantd.ErrorCode(err), "a user cannot provision")
		require.Equal(t, 1, b.historyLen(t, id))
	})
}

func TestTenantViewerCannotTouchAnotherTenant(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		mine, other := b.signup(t), b.signup(t)
		for _, id := range []uuid.UUID{mine, other} {
			for _, ev := range pathTo[tenantd.StateActive] {
				_, err := b.fire(sysCtx, id, ev)
				require.NoError(t, err)
			}
		}
		ctx := tenantd.NewContext(context.Background(), tenantd.Viewer{Role: tenantd.RoleTenant, TenantID: mine, Actor: "key:test"})
		_, err := b.m.Fire(ctx, lifecycle.Request{TenantID: other, Event: tenantd.EventCancel,
			Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "key:test"}})
		require.Equal(t, tenantd.ENOTFOUND, tenantd.ErrorCode(err))
		_, err = b.m.Fire(ctx, lifecycle.Request{TenantID: mine, Event: tenantd.EventCancel,
			Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "key:test"}})
		require.NoError(t, err)
	})
}

// TestRandomSequences fires random events, legal or not, and checks the
// tenant against a model of the table after each one.
func TestRandomSequences(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		rng := rand.New(rand.NewPCG(1, 2))
		for range 20 {
			runSequence(t, b, randomEvents(rng, 40))
		}
		rep, err := lifecycle.Verify(context.Background(), db.Ent, nil)
		require.NoError(t, err)
		require.True(t, rep.OK(), "audit: %+v", rep)
		require.Equal(t, 20, rep.Tenants)
	})
}

func randomEvents(rng *rand.Rand, n int) []tenantd.Event {
	evs := make([]tenantd.Event, n)
	for i := range evs {
		evs[i] = tenantd.AllEvents[1+rng.IntN(len(tenantd.AllEvents)-1)]
	}
	return evs
}

func runSequence(t *testing.T, b *testBundle, evs []tenantd.Event) {
	t.Helper()
	id := b.signup(t)
	state := tenantd.StatePending
	var before *tenantd.State
	rows := 1
	for _, ev := range evs {
		res, err := b.fire(sysCtx, id, ev)
		to, legal := lifecycle.Target(state, ev, before)
		if !legal {
			require.Equal(t, tenantd.EINVALIDTRANSITION, tenantd.ErrorCode(err), "%s in %s", ev, state)
			continue
		}
		require.NoError(t, err, "%s in %s", ev, state)
		rows++
		if ev == tenantd.EventRequestDeletion {
			s := state
			before = &s
		}
		if ev == tenantd.EventRestore {
			before = nil
		}
		state = to
		require.Equal(t, state, res.Tenant.State)
		require.Contains(t, tenantd.AllStates, res.Tenant.State, "the machine never leaves the table")
	}
	require.Equal(t, rows, b.historyLen(t, id))
}

// FuzzEventSequences drives one tenant with an event sequence decoded from
// the fuzzer's bytes (go test -fuzz FuzzEventSequences ./internal/lifecycle).
func FuzzEventSequences(f *testing.F) {
	f.Add([]byte{1, 2, 4, 5, 4, 6, 7, 8, 9, 8, 10})
	f.Add([]byte{1, 3, 1, 2, 11, 11, 4, 8, 10})
	f.Add([]byte{0, 0, 5, 255, 1, 2, 6})
	db := storetest.New(f, storetest.SQLite)
	b := &testBundle{db: db, m: lifecycle.New(lifecycle.Config{DB: db})}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		evs := make([]tenantd.Event, len(data))
		for i, c := range data {
			evs[i] = tenantd.AllEvents[1+int(c)%(len(tenantd.AllEvents)-1)]
		}
		runSequence(t, b, evs)
		rep, err := lifecycle.Verify(context.Background(), db.Ent, nil)
		require.NoError(t, err)
		require.True(t, rep.OK(), "audit: %+v", rep)
	})
}

// TestConcurrentConflictingEvents fires conflicting events at one tenant from
// 50 goroutines: the history stays one linear, gap-free chain.
func TestConcurrentConflictingEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		id := b.signup(t)
		for _, ev := range pathTo[tenantd.StateActive] {
			_, err := b.fire(sysCtx, id, ev)
			require.NoError(t, err)
		}
		conflicting := []tenantd.Event{tenantd.EventSuspend, tenantd.EventResume, tenantd.EventCancel,
			tenantd.EventReactivate, tenantd.EventChangePlan}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			okCount  int
			badCodes []string
		)
		for i := range 50 {
			wg.Go(func() {
				for j := range 4 {
					_, err := b.fire(sysCtx, id, conflicting[(i+j)%len(conflicting)])
					mu.Lock()
					switch code := tenantd.ErrorCode(err); code {
					case "":
						okCount++
					case tenantd.EINVALIDTRANSITION:
					default:
						badCodes = append(badCodes, fmt.Sprintf("%s: %v", code, err))
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Empty(t, badCodes, "only INVALID_TRANSITION may refuse an event")
		require.Positive(t, okCount)

		rows, err := db.Ent.StateTransition.Query().Where(statetransition.TenantID(id)).
			Order(statetransition.BySeq()).All(sysCtx)
		require.NoError(t, err)
		require.Len(t, rows, 3+okCount)
		for i, r := range rows {
			require.Equal(t, i+1, r.Seq, "seq is gap-free")
			if i > 0 {
				require.Equal(t, rows[i-1].Hash, r.PrevHash, "the chain is linear")
			}
		}
		rep, err := lifecycle.Verify(context.Background(), db.Ent, nil)
		require.NoError(t, err)
		require.True(t, rep.OK(), "audit: %+v", rep)
	})
}

func TestStateCounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		want := map[tenantd.State]int64{}
		for i, s := range tenantd.AllStates {
			for range i + 1 {
				id := b.signup(t)
				for _, ev := range pathTo[s] {
					_, err := b.fire(sysCtx, id, ev)
					require.NoError(t, err)
				}
				want[s]++
			}
		}
		got, err := lifecycle.StateCounts(sysCtx, db.Ent)
		require.NoError(t, err)
		require.Equal(t, want, got)

		require.NoError(t, lifecycle.Recount(context.Background(), db))
		got, err = lifecycle.StateCounts(sysCtx, db.Ent)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

// TestTamperedRowIsCaught edits a history row behind tenantd's back, as a
// superuser who switched the append-only trigger off, and expects the audit
// to name that row.
func TestTamperedRowIsCaught(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		ctx := context.Background()
		var ids []uuid.UUID
		for range 3 {
			id := b.signup(t)
			for _, ev := range pathTo[tenantd.StateCanceled] {
				_, err := b.fire(sysCtx, id, ev)
				require.NoError(t, err)
			}
			ids = append(ids, id)
		}
		victim := ids[1]
		row, err := db.Ent.StateTransition.Query().
			Where(statetransition.TenantID(victim), statetransition.Seq(3)).Only(sysCtx)
		require.NoError(t, err)

		// The trigger refuses the edit while it is on.
		_, err = db.SQL.ExecContext(ctx, rebind(db, "UPDATE state_transitions SET reason = 'edited' WHERE id = ?"), row.ID)
		require.ErrorContains(t, err, "append-only")
		_, err = db.SQL.ExecContext(ctx, rebind(db, "DELETE FROM state_transitions WHERE id = ?"), row.ID)
		require.ErrorContains(t, err, "append-only")

		owner := storetest.Owner(t, db)
		if db.IsPostgres() {
			_, err = owner.ExecContext(ctx, `ALTER TABLE state_transitions DISABLE TRIGGER state_transitions_append_only;
				UPDATE state_transitions SET reason = 'edited' WHERE id = '`+row.ID.String()+`';
				ALTER TABLE state_transitions ENABLE TRIGGER state_transitions_append_only`)
		} else {
			_, err = owner.ExecContext(ctx, `DROP TRIGGER state_transitions_no_update;
				UPDATE state_transitions SET reason = 'edited' WHERE id = '`+row.ID.String()+`'`)
		}
		require.NoError(t, err)

		rep, err := lifecycle.Verify(ctx, db.Ent, nil)
		require.NoError(t, err)
		require.NotNil(t, rep.Break)
		require.Equal(t, victim, rep.Break.TenantID)
		require.Equal(t, row.ID, rep.Break.RowID)
		require.Equal(t, 3, rep.Break.Seq)
		require.Contains(t, rep.Break.Reason, "changed")
	})
}

func rebind(db *store.DB, q string) string {
	if !db.IsPostgres() {
		return q
	}
	out, n := []byte{}, 0
	for _, c := range []byte(q) {
		if c == '?' {
			n++
			out = append(out, fmt.Sprintf("$%d", n)...)
			continue
		}
		out = append(out, c)
	}
	return string(out)
}
