package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/billingcall"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/auth"
	engine "github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const changePlanMutation = `mutation($in: ChangePlanInput!) { changePlan(input: $in) {
  tenant { id plan { key } scheduledPlanChange { plan { key } effectiveAt requestedBy } }
  operation { id kind status }
  preview { from { key } to { key maxDocuments } direction effective effectiveAt amountDueNowCents prorationCents
            monthlyDifferenceCents currency periodEnd dataMoves fromIsolation toIsolation documentsToMove bytesToMove
            overages { quota limit usage } } } }`

type changePlanAnswer struct {
	ChangePlan struct {
		Tenant struct {
			ID                  uuid.UUID
			Plan                struct{ Key string }
			ScheduledPlanChange *struct {
				Plan        struct{ Key string }
				EffectiveAt time.Time
				RequestedBy string
			}
		}
		Operation *struct {
			ID           uuid.UUID
			Kind, Status string
		}
		Preview struct {
			From, To                                                  struct{ Key string }
			Direction, Effective                                      string
			EffectiveAt                                               time.Time
			AmountDueNowCents, ProrationCents, MonthlyDifferenceCents int
			Currency                                                  string
			PeriodEnd                                                 *time.Time
			DataMoves                                                 bool
			FromIsolation, ToIsolation                                string
			DocumentsToMove, BytesToMove                              int
			Overages                                                  []struct {
				Quota        string
				Limit, Usage int
			}
		}
	}
}

func changePlanInput(id uuid.UUID, plan string, extra map[string]any) map[string]any {
	in := map[string]any{"tenantId": id, "plan": plan}
	for k, v := range extra {
		in[k] = v
	}
	return map[string]any{"in": in}
}

// finishedOp waits for the newest operation of kind on the tenant to end.
func finishedOp(t *testing.T, srv *servertest.Server, id uuid.UUID, kind tenantd.OperationKind) *ent.Operation {
	t.Helper()
	sys := tenantd.SystemContext(context.Background())
	var op *ent.Operation
	require.Eventually(t, func() bool {
		var err error
		op, err = srv.DB().Ent.Operation.Query().
			Where(operation.TenantID(id), operation.KindEQ(kind)).Order(ent.Desc(operation.FieldCreatedAt)).First(sys)
		return err == nil && op.Status.Done()
	}, 30*time.Second, 5*time.Millisecond, "%s never finished", kind)
	return op
}

// TestChangePlanWithinIsolation: a dry run previews and changes nothing; an
// upgrade is an IMMEDIATE CHANGE_PLAN operation that calls the billing
// provider once (even when its steps run again) and records both plans in
// the change_plan transition; bad input changes nothing.
func TestChangePlanWithinIsolation(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			ctx := context.Background()
			sys := tenantd.SystemContext(ctx)
			a := activeTenant(t, srv, "upgrade-"+uuid.NewString()[:6], "free")
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
			calls := func() int {
				n, err := srv.DB().Ent.BillingCall.Query().Where(billingcall.CallEQ(billingcall.CallChangePlan)).Count(sys)
				require.NoError(t, err)
				return n
			}
			ops := func() int {
				n, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id), operation.KindEQ(tenantd.OpChangePlan)).Count(sys)
				require.NoError(t, err)
				return n
			}

			// The dry run.
			var d changePlanAnswer
			srv.MustDo(t, key, changePlanMutation, changePlanInput(id, "starter", map[string]any{"dryRun": true}), &d)
			p := d.ChangePlan.Preview
			require.Equal(t, "free", p.From.Key)
			require.Equal(t, "starter", p.To.Key)
			require.Equal(t, "UPGRADE", p.Direction)
			require.Equal(t, "IMMEDIATE", p.Effective, "an upgrade applies at once by default")
			require.Equal(t, 2900, p.MonthlyDifferenceCents)
			require.Positive(t, p.AmountDueNowCents, "the rest of the period is prorated")
			require.NotNil(t, p.PeriodEnd)
			require.False(t, p.DataMoves)
			require.Empty(t, p.Overages)
			require.Nil(t, d.ChangePlan.Operation)
			require.Equal(t, "free", d.ChangePlan.Tenant.Plan.Key, "a dry run changes nothing")
			require.Zero(t, ops())
			require.Zero(t, calls(), "nothing charged")

			// Bad input: a clear code, nothing changes.
			other := activeTenant(t, srv, "other-"+uuid.NewString()[:6], "free")
			for _, c := range []struct {
				name, token string
				in          map[string]any
				code, field string
			}{
				{"unknown plan", key, changePlanInput(id, "platinum", nil), tenantd.EINVALID, "plan"},
				{"the same plan", key, changePlanInput(id, "free", nil), tenantd.EINVALID, "plan"},
				{"another tenant", other.SignUp.APIKey, changePlanInput(id, "starter", nil), tenantd.ENOTFOUND, ""},
				{"no tenant", admin, changePlanInput(uuid.New(), "starter", nil), tenantd.ENOTFOUND, ""},
			} {
				r := srv.Do(t, c.token, changePlanMutation, c.in)
				require.Equal(t, c.code, r.Code(), "%s: %+v", c.name, r.Errors)
				if c.field != "" {
					require.Equal(t, c.field, r.Errors[0].Extensions["field"], c.name)
				}
			}
			require.Zero(t, ops())
			require.Zero(t, calls())

			// The upgrade, retried with its key: one operation.
			in := changePlanInput(id, "starter", map[string]any{"idempotencyKey": "upgrade-" + id.String()})
			srv.MustDo(t, key, changePlanMutation, in, &d)
			require.NotNil(t, d.ChangePlan.Operation)
			require.Equal(t, "CHANGE_PLAN", d.ChangePlan.Operation.Kind)
			opID := d.ChangePlan.Operation.ID
			var again changePlanAnswer
			srv.MustDo(t, key, changePlanMutation, in, &again)
			require.Equal(t, opID, again.ChangePlan.Operation.ID, "a retry gives the first answer")

			op := finishedOp(t, srv, id, tenantd.OpChangePlan)
			require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
			require.Equal(t, 1, ops())
			tn, err := srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			pl, err := tn.QueryPlan().Only(sys)
			require.NoError(t, err)
			require.Equal(t, "starter", pl.Key)
			require.Equal(t, tenantd.StateActive, tn.State)
			tr, err := srv.DB().Ent.StateTransition.Query().
				Where(statetransition.TenantID(id), statetransition.EventEQ(tenantd.EventChangePlan)).Only(sys)
			require.NoError(t, err)
			require.Equal(t, "free", tr.Metadata["fromPlan"])
			require.Equal(t, "starter", tr.Metadata["toPlan"])
			require.Equal(t, opID.String(), tr.Metadata["operation"])
			require.Equal(t, 1, calls(), "one billing call")
			require.NoError(t, srv.Operations().Rerun(ctx, opID), "the steps run again")
			require.Equal(t, 1, calls(), "still one billing call")

			// A partner may look, not change.
			partner, _, err := auth.New(srv.DB(), nil).CreateAdminToken(ctx, "PARTNER", "partner")
			require.NoError(t, err)
			r := srv.Do(t, partner, changePlanMutation, changePlanInput(id, "free", nil))
			require.Equal(t, tenantd.EFORBIDDEN, r.Code())
		})
	}
}

// TestChangePlanAtPeriodEnd: a downgrade waits for the end of the billing
// period, shows on the tenant, blocks a second change (CONFLICT naming it),
// can be taken back, and is applied by the sweep when the fake clock
// passes the period end.
func TestChangePlanAtPeriodEnd(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Second)
	clock := clockwork.NewFakeClockAt(start)
	srv := servertest.StartWith(t, storetest.SQLite, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
	ctx := context.Background()
	sys := tenantd.SystemContext(ctx)
	a := activeTenant(t, srv, "downgrade", "starter")
	id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey

	var d changePlanAnswer
	srv.MustDo(t, key, changePlanMutation, changePlanInput(id, "free", nil), &d)
	require.Equal(t, "DOWNGRADE", d.ChangePlan.Preview.Direction)
	require.Equal(t, "PERIOD_END", d.ChangePlan.Preview.Effective)
	require.Nil(t, d.ChangePlan.Operation)
	sc := d.ChangePlan.Tenant.ScheduledPlanChange
	require.NotNil(t, sc)
	require.Equal(t, "free", sc.Plan.Key)
	require.Equal(t, *d.ChangePlan.Preview.PeriodEnd, sc.EffectiveAt)
	require.True(t, sc.EffectiveAt.After(start.Add(27*24*time.Hour)), "a month's period: %v", sc.EffectiveAt)
	require.Equal(t, "starter", d.ChangePlan.Tenant.Plan.Key)

	r := srv.Do(t, key, changePlanMutation, changePlanInput(id, "pro", nil))
	require.Equal(t, tenantd.ECONFLICT, r.Code())
	require.Contains(t, r.Errors[0].Message, "free plan is scheduled")

	cancel := fmt.Sprintf(`mutation { cancelScheduledPlanChange(input: {tenantId: "%s"}) { tenant { scheduledPlanChange { plan { key } } } canceled { plan { key } } } }`, id)
	var c struct {
		CancelScheduledPlanChange struct {
			Tenant   struct{ ScheduledPlanChange *struct{} }
			Canceled struct{ Plan struct{ Key string } }
		}
	}
	srv.MustDo(t, key, cancel, nil, &c)
	require.Nil(t, c.CancelScheduledPlanChange.Tenant.ScheduledPlanChange)
	require.Equal(t, "free", c.CancelScheduledPlanChange.Canceled.Plan.Key)
	require.Equal(t, tenantd.EINVALID, srv.Do(t, key, cancel, nil).Code(), "nothing left to cancel")

	srv.MustDo(t, key, changePlanMutation, changePlanInput(id, "free", nil), &d)
	at := d.ChangePlan.Tenant.ScheduledPlanChange.EffectiveAt
	plan := func() string {
		tn, err := srv.DB().Ent.Tenant.Get(sys, id)
		require.NoError(t, err)
		p, err := tn.QueryPlan().Only(sys)
		require.NoError(t, err)
		return p.Key
	}
	// A day before the period end: nothing yet.
	require.NoError(t, clock.BlockUntilContext(ctx, 1))
	clock.Advance(at.Sub(start) - 24*time.Hour)
	require.NoError(t, clock.BlockUntilContext(ctx, 1), "the sweep ran and waits again")
	require.Equal(t, "starter", plan())
	// Past it: the sweep starts the change, and the tenant is on free.
	clock.Advance(25 * time.Hour)
	// BlockUntil counts any waiter on the clock, so the sweep may still have
	// been running and re-arm its timer after that advance: keep the hours
	// coming until it has started the change.
	require.Eventually(t, func() bool {
		n, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id), operation.KindEQ(tenantd.OpChangePlan)).Count(sys)
		if err == nil && n > 0 {
			return true
		}
		clock.Advance(time.Hour)
		return false
	}, 30*time.Second, 10*time.Millisecond, "the sweep starts the scheduled change")
	op := finishedOp(t, srv, id, tenantd.OpChangePlan)
	require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
	require.Equal(t, "PERIOD_END", op.Params["effective"])
	require.Equal(t, "free", plan())
	tn, err := srv.DB().Ent.Tenant.Get(sys, id)
	require.NoError(t, err)
	require.Nil(t, tn.ScheduledPlanKey, "the schedule is used up")
}

// TestChangePlanLimitsAndFailure: a downgrade whose usage exceeds the
// target plan is PLAN_LIMIT_EXCEEDED listing the overage (the dry run shows
// it), and a change whose last step fails leaves the tenant on its plan
// with the billing change taken back.
func TestChangePlanLimitsAndFailure(t *testing.T) {
	t.Parallel()
	fail := make(chan struct{}, 1)
	srv := servertest.StartWith(t, storetest.SQLite, nil, []server.Option{server.WithOperationHooks(engine.Hooks{
		BeforeStep: func(kind tenantd.OperationKind, step string, _ int) error {
			if kind == tenantd.OpChangePlan && step == "apply" {
				select {
				case <-fail:
					return engine.Permanent(fmt.Errorf("injected failure"))
				default:
				}
			}
			return nil
		}})})
	ctx := context.Background()
	sys := tenantd.SystemContext(ctx)
	a := activeTenant(t, srv, "over-limits", "starter")
	id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
	for i := range 1001 {
		_, _, err := srv.Workspaces().Upload(sys, id, fmt.Sprintf("doc %d", i), "x")
		require.NoError(t, err)
	}
	var d changePlanAnswer
	srv.MustDo(t, key, changePlanMutation, changePlanInput(id, "free", map[string]any{"dryRun": true}), &d)
	require.Len(t, d.ChangePlan.Preview.Overages, 1)
	require.Equal(t, "documents", d.ChangePlan.Preview.Overages[0].Quota)
	require.Equal(t, 1000, d.ChangePlan.Preview.Overages[0].Limit)
	require.Equal(t, 1001, d.ChangePlan.Preview.Overages[0].Usage)
	r := srv.Do(t, key, changePlanMutation, changePlanInput(id, "free", map[string]any{"effective": "IMMEDIATE"}))
	require.Equal(t, tenantd.EPLANLIMIT, r.Code())
	require.Contains(t, r.Errors[0].Message, "documents 1001 of at most 1000")
	require.NotEmpty(t, r.Errors[0].Extensions["overages"])
	n, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id), operation.KindEQ(tenantd.OpChangePlan)).Count(sys)
	require.NoError(t, err)
	require.Zero(t, n, "nothing started")

	// Within limits, but the last step fails: the tenant stays on starter,
	// and the subscription moves back.
	fail <- struct{}{}
	srv.MustDo(t, key, changePlanMutation, changePlanInput(id, "pro", map[string]any{"dryRun": true}), &d)
	require.True(t, d.ChangePlan.Preview.DataMoves)
	require.Equal(t, 1001, d.ChangePlan.Preview.DocumentsToMove)
	b := activeTenant(t, srv, "fails-later", "free")
	id, key = b.SignUp.Tenant.ID, b.SignUp.APIKey
	srv.MustDo(t, key, changePlanMutation, changePlanInput(id, "starter", nil), &d)
	op := finishedOp(t, srv, id, tenantd.OpChangePlan)
	require.Equal(t, tenantd.OpFailed, op.Status)
	require.Contains(t, *op.ErrorMessage, "injected failure")
	tn, err := srv.DB().Ent.Tenant.Get(sys, id)
	require.NoError(t, err)
	p, err := tn.QueryPlan().Only(sys)
	require.NoError(t, err)
	require.Equal(t, "free", p.Key)
	require.Equal(t, tenantd.StateActive, tn.State, "a failed change leaves the state alone")
	changes, err := srv.DB().Ent.BillingCall.Query().Where(billingcall.CallEQ(billingcall.CallChangePlan)).All(sys)
	require.NoError(t, err)
	require.Len(t, changes, 2, "the change and its undo")
	var last struct {
		PlanKey string `json:"plan_key"`
	}
	require.NoError(t, json.Unmarshal(changes[1].Result, &last))
	require.Equal(t, "free", last.PlanKey, "billed on free again")
}
