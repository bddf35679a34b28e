package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/billingcall"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const cancelMutation = `mutation($in: CancelSubscriptionInput!) { cancelSubscription(input: $in) {
  tenant { state scheduledCancellation { effectiveAt feedback requestedBy } }
  transition { event } operation { id kind } scheduledCancellation { effectiveAt feedback } } }`

const undoMutation = `mutation($id: ID!) { undoCancellation(input: {tenantId: $id}) {
  tenant { state scheduledCancellation { effectiveAt } } operation { kind } } }`

type cancelAnswer struct {
	CancelSubscription struct {
		Tenant struct {
			State                 string
			ScheduledCancellation *struct {
				EffectiveAt time.Time
				Feedback    string
				RequestedBy string
			}
		}
		Transition *struct{ Event string }
		Operation  *struct {
			ID   uuid.UUID
			Kind string
		}
		ScheduledCancellation *struct{ EffectiveAt time.Time }
	}
}

// billingCalls counts the provider calls of one kind in the ledger.
func billingCalls(t *testing.T, srv *servertest.Server, call billingcall.Call) int {
	t.Helper()
	n, err := srv.DB().Ent.BillingCall.Query().Where(billingcall.CallEQ(call)).Count(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	return n
}

// opsDone waits until the tenant has n finished operations of kind and
// returns the newest.
func opsDone(t *testing.T, srv *servertest.Server, id uuid.UUID, kind tenantd.OperationKind, n int) {
	t.Helper()
	sys := tenantd.SystemContext(context.Background())
	require.Eventually(t, func() bool {
		c, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id), operation.KindEQ(kind),
			operation.StatusEQ(tenantd.OpSucceeded)).Count(sys)
		return err == nil && c == n
	}, 30*time.Second, 5*time.Millisecond, "%d %s operations", n, kind)
}

// TestCancellationAtPeriodEnd: the tenant's own key cancels at the period
// end by default — it stays ACTIVE with the schedule showing, the provider
// told once; a second cancellation is a CONFLICT; undo takes it back (told
// once), undo again has nothing to undo; the period end passes without a
// cancellation; a new one scheduled for the next period end is applied by
// the sweep then, without another billing call.
func TestCancellationAtPeriodEnd(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			start := time.Now().UTC().Truncate(time.Second)
			clock := clockwork.NewFakeClockAt(start)
			srv := servertest.StartWith(t, k, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
			sys := tenantd.SystemContext(context.Background())
			a := activeTenant(t, srv, "leaving-"+string(k), "starter")
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey

			for _, bad := range []map[string]any{
				{"tenantId": id, "feedback": "too_pricey"},
				{"tenantId": id, "comment": "bad\x00comment"},
			} {
				require.Equal(t, tenantd.EINVALID, srv.Do(t, key, cancelMutation, map[string]any{"in": bad}).Code(), "%v", bad)
			}
			require.Zero(t, billingCalls(t, srv, billingcall.CallCancel), "refused input tells the provider nothing")

			// What the cancellation dialog shows before anything is done:
			// the date an at-period-end cancellation would take effect.
			var pe struct {
				Tenant struct{ BillingPeriodEnd *time.Time }
			}
			srv.MustDo(t, key, `query($id: ID!) { tenant(id: $id) { billingPeriodEnd } }`, map[string]any{"id": id}, &pe)
			require.NotNil(t, pe.Tenant.BillingPeriodEnd)

			var c cancelAnswer
			srv.MustDo(t, key, cancelMutation, map[string]any{"in": map[string]any{"tenantId": id, "feedback": "too_expensive",
				"comment": "Ada: the price doubled"}}, &c)
			require.Equal(t, "ACTIVE", c.CancelSubscription.Tenant.State)
			require.Nil(t, c.CancelSubscription.Transition, "no transition until the period end")
			sc := c.CancelSubscription.Tenant.ScheduledCancellation
			require.NotNil(t, sc)
			require.Equal(t, "too_expensive", sc.Feedback)
			first := sc.EffectiveAt
			require.True(t, first.Equal(*pe.Tenant.BillingPeriodEnd), "the cancellation takes effect at the billingPeriodEnd shown before: %v, %v", first, *pe.Tenant.BillingPeriodEnd)
			require.True(t, first.After(start.Add(27*24*time.Hour)), "the end of a monthly period: %v", first)
			require.Equal(t, "CANCEL", c.CancelSubscription.Operation.Kind)
			opsDone(t, srv, id, tenantd.OpCancel, 1)
			require.Equal(t, 1, billingCalls(t, srv, billingcall.CallCancel))
			r := srv.Do(t, key, cancelMutation, map[string]any{"in": map[string]any{"tenantId": id}})
			require.Equal(t, tenantd.ECONFLICT, r.Code(), "a cancellation already scheduled")

			var u struct {
				UndoCancellation struct {
					Tenant struct {
						State                 string
						ScheduledCancellation *struct{}
					}
					Operation struct{ Kind string }
				}
			}
			srv.MustDo(t, key, undoMutation, map[string]any{"id": id}, &u)
			require.Nil(t, u.UndoCancellation.Tenant.ScheduledCancellation)
			opsDone(t, srv, id, tenantd.OpCancel, 2)
			require.Equal(t, 1, billingCalls(t, srv, billingcall.CallUndoCancellation))
			require.Equal(t, tenantd.EINVALID, srv.Do(t, key, undoMutation, map[string]any{"id": id}).Code(), "nothing to undo")

			// The first period ends: nothing happens.
			sweepUntil(t, clock, "past the first period end", func() bool { return clock.Now().After(first.Add(2 * time.Hour)) })
			tn, err := srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			require.Equal(t, tenantd.StateActive, tn.State, "an undone cancellation does not apply")

			srv.MustDo(t, key, cancelMutation, map[string]any{"in": map[string]any{"tenantId": id, "feedback": "unused"}}, &c)
			second := c.CancelSubscription.Tenant.ScheduledCancellation.EffectiveAt
			require.True(t, second.After(first), "the next period's end: %v after %v", second, first)
			opsDone(t, srv, id, tenantd.OpCancel, 3)
			require.Equal(t, 2, billingCalls(t, srv, billingcall.CallCancel))
			sweepUntil(t, clock, "the sweep cancels at the second period end", func() bool {
				tn, err := srv.DB().Ent.Tenant.Get(sys, id)
				return err == nil && tn.State == tenantd.StateCanceled
			})
			require.False(t, clock.Now().Before(second), "not before the period end")
			srv.MustDo(t, servertest.AdminToken, `query($id: ID!) { tenant(id: $id) { billingPeriodEnd } }`, map[string]any{"id": id}, &pe)
			require.Nil(t, pe.Tenant.BillingPeriodEnd, "a canceled tenant has no period ahead")
			tr, err := srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id), statetransition.EventEQ(tenantd.EventCancel)).Only(sys)
			require.NoError(t, err)
			require.Equal(t, "unused", tr.Metadata["feedback"])
			require.Equal(t, tenantd.TriggerSystem, tr.TriggeredBy)
			require.Equal(t, 2, billingCalls(t, srv, billingcall.CallCancel), "applying it calls the provider no more")
			tn, err = srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			require.Nil(t, tn.ScheduledCancelAt, "the schedule is used up")
		})
	}
}

// TestPauseAndResume: a pause outside (now, now+90 days] is refused; a
// pause suspends the tenant (read-only) and pauses billing; the sweep
// resumes both at resumesAt.
func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Second)
	clock := clockwork.NewFakeClockAt(start)
	srv := servertest.StartWith(t, storetest.SQLite, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
	sys := tenantd.SystemContext(context.Background())
	a := activeTenant(t, srv, "pausing", "starter")
	id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
	pause := `mutation($id: ID!, $at: Time!) { pauseSubscription(input: {tenantId: $id, resumesAt: $at}) {
	  tenant { state pausedUntil } transition { event triggeredBy } operation { kind } } }`
	for _, at := range []time.Time{start.Add(-time.Hour), start.Add(91 * 24 * time.Hour)} {
		r := srv.Do(t, key, pause, map[string]any{"id": id, "at": at})
		require.Equal(t, tenantd.EINVALID, r.Code())
		require.Equal(t, "resumesAt", r.Errors[0].Extensions["field"])
	}
	resumes := start.Add(7 * 24 * time.Hour)
	var p struct {
		PauseSubscription struct {
			Tenant struct {
				State       string
				PausedUntil *time.Time
			}
			Transition struct{ Event, TriggeredBy string }
			Operation  struct{ Kind string }
		}
	}
	srv.MustDo(t, key, pause, map[string]any{"id": id, "at": resumes}, &p)
	require.Equal(t, "SUSPENDED", p.PauseSubscription.Tenant.State)
	require.WithinDuration(t, resumes, *p.PauseSubscription.Tenant.PausedUntil, time.Second)
	require.Equal(t, "SYSTEM", p.PauseSubscription.Transition.TriggeredBy, "tenantd suspends on the tenant's behalf")
	require.Equal(t, "PAUSE", p.PauseSubscription.Operation.Kind)
	opsDone(t, srv, id, tenantd.OpPause, 1)
	require.Equal(t, 1, billingCalls(t, srv, billingcall.CallPause))
	r := srv.Do(t, key, uploadMutation, map[string]any{"t": "x", "c": "y"})
	require.Equal(t, tenantd.EFORBIDDEN, r.Code(), "a paused tenant is read-only")

	sweepUntil(t, clock, "the sweep resumes the tenant", func() bool {
		tn, err := srv.DB().Ent.Tenant.Get(sys, id)
		return err == nil && tn.State == tenantd.StateActive
	})
	require.False(t, clock.Now().Before(resumes))
	opsDone(t, srv, id, tenantd.OpResume, 1)
	require.Equal(t, 1, billingCalls(t, srv, billingcall.CallResume))
	tn, err := srv.DB().Ent.Tenant.Get(sys, id)
	require.NoError(t, err)
	require.Nil(t, tn.PausedUntil)
	srv.MustDo(t, key, uploadMutation, map[string]any{"t": "back", "c": "writing again"}, nil)
}

// TestReactivation: a declined card leaves the tenant CANCELED with the
// operation FAILED; a good one makes it ACTIVE with its data and a new key;
// reactivating an ACTIVE, PENDING_DELETION or PURGED tenant is refused with
// what to do instead.
func TestReactivation(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	sys := tenantd.SystemContext(context.Background())
	a := activeTenant(t, srv, "coming-back", "starter")
	id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
	srv.MustDo(t, key, uploadMutation, map[string]any{"t": "Kept", "c": "kept through the cancellation"}, nil)
	react := `mutation($id: ID!, $pm: String, $plan: String) { reactivateTenant(input: {tenantId: $id, paymentMethod: $pm, plan: $plan}) {
	  tenant { state } operation { id kind } apiKey } }`
	require.Equal(t, tenantd.EINVALIDTRANSITION, srv.Do(t, key, react, map[string]any{"id": id}).Code(), "an ACTIVE tenant")
	srv.MustDo(t, key, cancelMutation, map[string]any{"in": map[string]any{"tenantId": id, "atPeriodEnd": false}}, nil)
	r := srv.Do(t, key, react, map[string]any{"id": id, "plan": "pro"})
	require.Equal(t, tenantd.EINVALID, r.Code(), "a plan of another isolation")
	require.Equal(t, "plan", r.Errors[0].Extensions["field"])

	var d struct {
		ReactivateTenant struct {
			Tenant    struct{ State string }
			Operation struct{ ID uuid.UUID }
			APIKey    string
		}
	}
	srv.MustDo(t, key, react, map[string]any{"id": id, "pm": "pm_card_chargeDeclined"}, &d)
	op := finishedOp(t, srv, id, tenantd.OpReactivate)
	require.Equal(t, tenantd.OpFailed, op.Status)
	require.Equal(t, tenantd.EPAYMENTDECLINED, *op.ErrorCode)
	tn, err := srv.DB().Ent.Tenant.Get(sys, id)
	require.NoError(t, err)
	require.Equal(t, tenantd.StateCanceled, tn.State, "a declined card leaves the tenant CANCELED")
	require.Equal(t, tenantd.EUNAUTHENTICATED, srv.Do(t, d.ReactivateTenant.APIKey, `{ viewer { actor } }`, nil).Code(),
		"the failed reactivation's key is revoked")

	srv.MustDo(t, key, react, map[string]any{"id": id, "pm": "pm_card_visa", "plan": "free"}, &d)
	waitState(t, srv, id, tenantd.StateActive)
	op = finishedOp(t, srv, id, tenantd.OpReactivate)
	require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
	var docs struct {
		Documents struct{ TotalCount int }
		Viewer    struct {
			Tenant struct{ Plan struct{ Key string } }
		}
	}
	srv.MustDo(t, d.ReactivateTenant.APIKey, `{ documents(first: 1) { totalCount } viewer { tenant { plan { key } } } }`, nil, &docs)
	require.Equal(t, 1, docs.Documents.TotalCount, "the data is intact, the new key works")
	require.Equal(t, "free", docs.Viewer.Tenant.Plan.Key)

	srv.MustDo(t, admin, requestDeletionMutation, deletionInput(id, "coming-back", nil), nil)
	r = srv.Do(t, admin, react, map[string]any{"id": id})
	require.Equal(t, tenantd.EINVALIDTRANSITION, r.Code())
	require.Contains(t, r.Errors[0].Message, "restoreTenant")
	srv.MustDo(t, admin, purgeMutation, map[string]any{"id": id, "slug": "coming-back"}, nil)
	waitState(t, srv, id, tenantd.StatePurged)
	r = srv.Do(t, admin, react, map[string]any{"id": id})
	require.Equal(t, tenantd.EINVALIDTRANSITION, r.Code())
	require.Contains(t, r.Errors[0].Message, "sign up again")
}
