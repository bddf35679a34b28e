package billing_test

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// The test provider's subscription state across its lifecycle calls, on a
// fake clock: what the conformance suite cannot assert of stateless
// stripe-mock.

type testBundle struct {
	db    *store.DB
	clock *clockwork.FakeClock
	p     *billing.TestProvider
	sub   *billing.Subscription
}

// setupTest signs up on starter (2900) at t0 (1 November: a 30-day period).
func setupTest(t *testing.T, db *store.DB) *testBundle {
	t.Helper()
	b := &testBundle{db: db, clock: clockwork.NewFakeClockAt(t0)}
	b.p = billing.NewTestProvider(db.Ent, billing.WithClock(b.clock))
	sub, err := b.p.Subscribe(context.Background(), request("signup-lifecycle", billing.PMCardVisa))
	require.NoError(t, err)
	b.sub = sub
	return b
}

func (b *testBundle) state(t *testing.T, id string) *billing.SubscriptionState {
	t.Helper()
	st, err := b.p.SubscriptionState(context.Background(), id)
	require.NoError(t, err)
	return st
}

const day = 24 * time.Hour

func TestTestProviderPeriods(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setupTest(t, db)
		st := b.state(t, b.sub.SubscriptionID)
		require.Equal(t, billing.SubscriptionState{
			Provider: "test", CustomerID: b.sub.CustomerID, SubscriptionID: b.sub.SubscriptionID,
			Status: billing.StatusActive, PlanKey: "starter", PriceCents: 2900,
			BillingCycleAnchor: t0, CurrentPeriodStart: t0, CurrentPeriodEnd: t0.AddDate(0, 1, 0),
		}, *st)

		b.clock.Advance(45 * day)
		st = b.state(t, b.sub.SubscriptionID)
		require.Equal(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), st.CurrentPeriodStart)
		require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), st.CurrentPeriodEnd)
	})
}

func TestTestProviderLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setupTest(t, db)
		id := b.sub.SubscriptionID

		// Scheduled for the period end, taken back, scheduled again.
		st, err := b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "c1", SubscriptionID: id, AtPeriodEnd: true, Feedback: billing.FeedbackTooExpensive})
		require.NoError(t, err)
		require.Equal(t, billing.StatusActive, st.Status)
		require.True(t, st.CancelAtPeriodEnd)
		require.Equal(t, t0.AddDate(0, 1, 0), st.CancelAt)

		st, err = b.p.UndoCancellation(ctx, billing.UndoCancellationRequest{IdempotencyKey: "u1", SubscriptionID: id})
		require.NoError(t, err)
		require.False(t, st.CancelAtPeriodEnd)
		require.True(t, st.CancelAt.IsZero())

		_, err = b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "c2", SubscriptionID: id, AtPeriodEnd: true})
		require.NoError(t, err)
		b.clock.Advance(29 * day)
		require.Equal(t, billing.StatusActive, b.state(t, id).Status, "the period has a day left")

		// The period ends: canceled then, not when it was read.
		b.clock.Advance(2 * day)
		st = b.state(t, id)
		require.Equal(t, billing.StatusCanceled, st.Status)
		require.Equal(t, t0.AddDate(0, 1, 0), st.CanceledAt)

		_, err = b.p.UndoCancellation(ctx, billing.UndoCancellationRequest{IdempotencyKey: "u2", SubscriptionID: id})
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))
		require.Contains(t, err.Error(), "canceled")
		_, err = b.p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: "p1", SubscriptionID: id, PlanKey: "pro", PriceCents: 9900})
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))

		// Reactivation subscribes anew, from now; the old one stays ended.
		_, err = b.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: "r1", SubscriptionID: id, PlanKey: "pro", PriceCents: 9900,
			PaymentMethod: billing.PMCardInsufficientFunds})
		require.Equal(t, tenantd.EPAYMENTDECLINED, tenantd.ErrorCode(err))
		require.Contains(t, tenantd.AsError(err).Message, "insufficient funds")
		now := b.clock.Now().UTC()
		st, err = b.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: "r1", SubscriptionID: id, PlanKey: "pro", PriceCents: 9900,
			Coupon: &billing.RetentionCoupon{PercentOff: 30, DurationMonths: 3}})
		require.NoError(t, err, "a declined key is free for the retry")
		require.False(t, st.Replayed)
		require.Regexp(t, `^sub_test_[0-9a-f]{24}$`, st.SubscriptionID)
		require.NotEqual(t, id, st.SubscriptionID)
		require.Regexp(t, `^co_test_[0-9a-f]{24}$`, st.CouponID)
		require.Equal(t, billing.SubscriptionState{
			Provider: "test", CustomerID: b.sub.CustomerID, SubscriptionID: st.SubscriptionID,
			Status: billing.StatusActive, PlanKey: "pro", PriceCents: 9900,
			BillingCycleAnchor: now, CurrentPeriodStart: now, CurrentPeriodEnd: now.AddDate(0, 1, 0),
		}, *b.state(t, st.SubscriptionID), "the coupon belongs to the call's answer, not to the state")
		require.Equal(t, billing.StatusCanceled, b.state(t, id).Status)
		fresh := st.SubscriptionID

		// Plan change and pause on the new subscription.
		st, err = b.p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: "p2", SubscriptionID: fresh, PlanKey: "enterprise", PriceCents: 49900})
		require.NoError(t, err)
		require.Equal(t, "enterprise", st.PlanKey)
		require.Equal(t, 49900, b.state(t, fresh).PriceCents)

		resumesAt := b.clock.Now().Add(3 * day)
		st, err = b.p.Pause(ctx, billing.PauseRequest{IdempotencyKey: "z1", SubscriptionID: fresh, ResumesAt: resumesAt})
		require.NoError(t, err)
		require.True(t, st.Paused)
		require.Equal(t, resumesAt.UTC(), st.ResumesAt)
		b.clock.Advance(3 * day)
		require.False(t, b.state(t, fresh).Paused, "the pause ends by itself")
		_, err = b.p.Pause(ctx, billing.PauseRequest{IdempotencyKey: "z2", SubscriptionID: fresh})
		require.NoError(t, err)
		b.clock.Advance(300 * day)
		require.True(t, b.state(t, fresh).Paused, "a pause without an end lasts")
		st, err = b.p.Resume(ctx, billing.ResumeRequest{IdempotencyKey: "z3", SubscriptionID: fresh})
		require.NoError(t, err)
		require.False(t, st.Paused)

		// A pause made, then its step run again after its resume time: the
		// replay answers from the ledger, not "resumesAt must be in the future".
		req := billing.PauseRequest{IdempotencyKey: "z4", SubscriptionID: fresh, ResumesAt: b.clock.Now().Add(day)}
		_, err = b.p.Pause(ctx, req)
		require.NoError(t, err)
		b.clock.Advance(2 * day)
		st, err = b.p.Pause(ctx, req)
		require.NoError(t, err)
		require.True(t, st.Replayed)

		// A live subscription is resumed by Reactivate: a scheduled
		// cancellation and a pause are cleared; a declined card is not
		// charged, so it does not matter.
		_, err = b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "c3", SubscriptionID: fresh, AtPeriodEnd: true})
		require.NoError(t, err)
		_, err = b.p.Pause(ctx, billing.PauseRequest{IdempotencyKey: "z5", SubscriptionID: fresh})
		require.NoError(t, err)
		st, err = b.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: "r2", SubscriptionID: fresh, PlanKey: "pro", PriceCents: 9900,
			PaymentMethod: billing.PMCardChargeDeclined})
		require.NoError(t, err)
		require.Equal(t, fresh, st.SubscriptionID)
		require.False(t, st.CancelAtPeriodEnd)
		require.False(t, st.Paused)
		require.Equal(t, "enterprise", st.PlanKey, "a resumed subscription keeps its plan")

		// Canceled now.
		st, err = b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "c4", SubscriptionID: fresh})
		require.NoError(t, err)
		require.Equal(t, billing.StatusCanceled, st.Status)
		require.Equal(t, b.clock.Now().UTC().Truncate(time.Microsecond), st.CanceledAt)

		// The Charge ledger still holds the one signup.
		require.Len(t, charges(t, db.Ent), 1)
	})
}

func TestTestProviderPreviewPlanChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setupTest(t, db)
		b.clock.Advance(12 * day) // 18 of 30 days left

		pv, err := b.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{SubscriptionID: b.sub.SubscriptionID, PlanKey: "pro", PriceCents: 9900})
		require.NoError(t, err)
		require.Equal(t, billing.ProrationPreview{AmountDueNowCents: 4200, ProrationCents: 4200, MonthlyDifferenceCents: 7000,
			Currency: "usd", PeriodEnd: t0.AddDate(0, 1, 0)}, *pv)

		pv, err = b.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{SubscriptionID: b.sub.SubscriptionID, PlanKey: "free", PriceCents: 0})
		require.NoError(t, err)
		require.Equal(t, -1740, pv.ProrationCents, "a downgrade is credited")
		require.Zero(t, pv.AmountDueNowCents)
		require.Equal(t, -2900, pv.MonthlyDifferenceCents)

		pv, err = b.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{SubscriptionID: b.sub.SubscriptionID, PlanKey: "pro", PriceCents: 9900, AtPeriodEnd: true})
		require.NoError(t, err)
		require.Zero(t, pv.AmountDueNowCents)
		require.Zero(t, pv.ProrationCents)
		require.Equal(t, 7000, pv.MonthlyDifferenceCents)
		require.Empty(t, calls(t, db.Ent))
	})
}

func TestTestProviderDeleteCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setupTest(t, db)
		other, err := b.p.Subscribe(ctx, request("signup-other", billing.PMCardVisa))
		require.NoError(t, err)
		_, err = b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "c1", SubscriptionID: b.sub.SubscriptionID, AtPeriodEnd: true, Comment: "Ada Lovelace here"})
		require.NoError(t, err)
		_, err = b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "c2", SubscriptionID: other.SubscriptionID, AtPeriodEnd: true, Comment: "someone else"})
		require.NoError(t, err)

		d, err := b.p.DeleteCustomer(ctx, billing.DeleteCustomerRequest{IdempotencyKey: "d1", CustomerID: b.sub.CustomerID})
		require.NoError(t, err)
		require.Equal(t, billing.CustomerDeletion{Provider: "test", CustomerID: b.sub.CustomerID, RedactedCalls: 1}, *d)
		for _, row := range calls(t, db.Ent) {
			switch row.CustomerID {
			case b.sub.CustomerID:
				require.Nil(t, row.Comment)
				if row.Call == "cancel" {
					require.NotNil(t, row.RedactedAt)
				}
			case other.CustomerID:
				require.NotNil(t, row.Comment, "another customer's data stays")
				require.Nil(t, row.RedactedAt)
			}
		}

		// Deleting a customer cancels its subscriptions, and ends its
		// billing: no reactivation.
		st := b.state(t, b.sub.SubscriptionID)
		require.Equal(t, billing.StatusCanceled, st.Status)
		require.False(t, st.CancelAtPeriodEnd)
		_, err = b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "c3", SubscriptionID: b.sub.SubscriptionID})
		require.NoError(t, err, "canceling it again succeeds")
		_, err = b.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: "r1", SubscriptionID: b.sub.SubscriptionID, PlanKey: "pro", PriceCents: 9900})
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))
		require.Contains(t, err.Error(), "deleted")
		require.Equal(t, billing.StatusActive, b.state(t, other.SubscriptionID).Status)

		_, err = b.p.DeleteCustomer(ctx, billing.DeleteCustomerRequest{IdempotencyKey: "d2", CustomerID: "cus_1Stripe"})
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err), "a customer of another provider")
		_, err = b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "c4", SubscriptionID: "sub_test_000000000000000000000000"})
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err), "an unknown subscription")
		require.Contains(t, err.Error(), "no such subscription")
	})
}

func TestOperationKey(t *testing.T) {
	op := [16]byte{1, 2, 3}
	require.Equal(t, "tenantd-op-01020300-0000-0000-0000-000000000000:billing", billing.OperationKey(op, "billing"))
	require.Equal(t, billing.OperationKey(op, "billing"), billing.OperationKey(op, "billing"))
	require.NotEqual(t, billing.OperationKey(op, "billing"), billing.OperationKey(op, "cancel_subscription"))
	require.NotEqual(t, billing.OperationKey(op, "billing"), billing.OperationKey([16]byte{9}, "billing"))
}
