package billing

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/billingcall"
	"github.com/tenantd/tenantd/ent/charge"
)

// The test provider's lifecycle calls. Each reads the subscription's
// current state, derives the new one and records it in the ledger (see
// TestProvider).

// Cancel cancels the subscription now, or schedules its cancellation for
// the end of the current period. See [Provider.Cancel].
func (p *TestProvider) Cancel(ctx context.Context, req CancelRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := p.now()
	c := p.call(req.IdempotencyKey, billingcall.CallCancel, struct {
		SubscriptionID string
		AtPeriodEnd    bool
		Feedback       CancellationFeedback
	}{req.SubscriptionID, req.AtPeriodEnd, req.Feedback})
	c.comment = req.Comment
	return replayedState(once(ctx, p.client, now, c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		st, _, err := p.current(ctx, req.SubscriptionID, now)
		if err != nil {
			return nil, effect{}, err
		}
		switch {
		case st.Status.Ended():
		case req.AtPeriodEnd:
			st.CancelAtPeriodEnd, st.CancelAt = true, st.CurrentPeriodEnd
		default:
			st.Status, st.CanceledAt = StatusCanceled, now
			st.CancelAtPeriodEnd, st.CancelAt = false, time.Time{}
			st.Paused, st.ResumesAt = false, time.Time{}
		}
		return st, st.effect(), nil
	}))
}

// UndoCancellation takes back a cancellation scheduled for the period end.
// See [Provider.UndoCancellation].
func (p *TestProvider) UndoCancellation(ctx context.Context, req UndoCancellationRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := p.now()
	c := p.call(req.IdempotencyKey, billingcall.CallUndoCancellation, struct{ SubscriptionID string }{req.SubscriptionID})
	return replayedState(once(ctx, p.client, now, c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		st, err := p.live(ctx, "undo the cancellation of", req.SubscriptionID, now)
		if err != nil {
			return nil, effect{}, err
		}
		st.CancelAtPeriodEnd, st.CancelAt = false, time.Time{}
		return st, st.effect(), nil
	}))
}

// Reactivate resumes the subscription, or subscribes the customer anew if
// it has ended: then the first period is charged to req.PaymentMethod as
// Subscribe charges it, or, without one, to the card on file (which the
// test provider only ever accepted if it was good). See
// [Provider.Reactivate].
func (p *TestProvider) Reactivate(ctx context.Context, req ReactivateRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	if req.PaymentMethod != "" {
		if err := testCard(req.PaymentMethod); err != nil {
			return nil, err
		}
	}
	now := p.now()
	c := p.call(req.IdempotencyKey, billingcall.CallReactivate, struct {
		SubscriptionID, PlanKey string
		PriceCents              int
		PaymentMethod           string
		Coupon                  *RetentionCoupon
		TenantSlug              string
	}{req.SubscriptionID, req.PlanKey, req.PriceCents, req.PaymentMethod, req.Coupon, req.TenantSlug})
	return replayedState(once(ctx, p.client, now, c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		st, deleted, err := p.current(ctx, req.SubscriptionID, now)
		if err != nil {
			return nil, effect{}, err
		}
		if deleted {
			return nil, effect{}, fmt.Errorf("billing: reactivate %s: customer %s was deleted", req.SubscriptionID, st.CustomerID)
		}
		coupon := ""
		if req.Coupon != nil {
			coupon = derivedID("co_test_", "coupon", req.IdempotencyKey)
		}
		if !st.Status.Ended() {
			st.CancelAtPeriodEnd, st.CancelAt = false, time.Time{}
			st.Paused, st.ResumesAt = false, time.Time{}
			st.CouponID = coupon
			return st, st.effect(), nil
		}
		if req.PaymentMethod != "" {
			if err := testCharge(req.PaymentMethod); err != nil {
				return nil, effect{}, err
			}
		}
		fresh := &SubscriptionState{
			Provider:           ProviderTest,
			CustomerID:         st.CustomerID,
			SubscriptionID:     derivedID("sub_test_", "reactivation", req.IdempotencyKey),
			Status:             StatusActive,
			PlanKey:            req.PlanKey,
			PriceCents:         req.PriceCents,
			BillingCycleAnchor: now,
			CurrentPeriodStart: now,
			CurrentPeriodEnd:   addMonths(now, 1),
			CouponID:           coupon,
		}
		return fresh, fresh.effect(), nil
	}))
}

// ChangePlan moves the subscription to req.PlanKey. The card on file is
// never declined. See [Provider.ChangePlan].
func (p *TestProvider) ChangePlan(ctx context.Context, req ChangePlanRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := p.now()
	c := p.call(req.IdempotencyKey, billingcall.CallChangePlan, struct {
		SubscriptionID, PlanKey string
		PriceCents              int
		AtPeriodEnd             bool
	}{req.SubscriptionID, req.PlanKey, req.PriceCents, req.AtPeriodEnd})
	return replayedState(once(ctx, p.client, now, c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		st, err := p.live(ctx, "change the plan of", req.SubscriptionID, now)
		if err != nil {
			return nil, effect{}, err
		}
		st.PlanKey, st.PriceCents = req.PlanKey, req.PriceCents
		return st, st.effect(), nil
	}))
}

// PreviewPlanChange prorates the price difference by the time left in the
// current period, to the cent. See [Provider.PreviewPlanChange].
func (p *TestProvider) PreviewPlanChange(ctx context.Context, req PreviewPlanChangeRequest) (*ProrationPreview, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := p.now()
	st, err := p.live(ctx, "preview a plan change of", req.SubscriptionID, now)
	if err != nil {
		return nil, err
	}
	pv := &ProrationPreview{
		MonthlyDifferenceCents: req.PriceCents - st.PriceCents,
		Currency:               "usd",
		PeriodEnd:              st.CurrentPeriodEnd,
	}
	if !req.AtPeriodEnd {
		pv.ProrationCents = prorate(pv.MonthlyDifferenceCents, st.CurrentPeriodStart, st.CurrentPeriodEnd, now)
		pv.AmountDueNowCents = max(0, pv.ProrationCents)
	}
	return pv, nil
}

// Pause stops billing the subscription. See [Provider.Pause].
func (p *TestProvider) Pause(ctx context.Context, req PauseRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := p.now()
	c := p.call(req.IdempotencyKey, billingcall.CallPause, struct {
		SubscriptionID string
		ResumesAt      time.Time
	}{req.SubscriptionID, req.ResumesAt.UTC()})
	return replayedState(once(ctx, p.client, now, c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		if err := req.checkResumesAt(now); err != nil {
			return nil, effect{}, err
		}
		st, err := p.live(ctx, "pause", req.SubscriptionID, now)
		if err != nil {
			return nil, effect{}, err
		}
		st.Paused, st.ResumesAt = true, req.ResumesAt.UTC().Truncate(time.Microsecond)
		return st, st.effect(), nil
	}))
}

// Resume bills a paused subscription again. See [Provider.Resume].
func (p *TestProvider) Resume(ctx context.Context, req ResumeRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := p.now()
	c := p.call(req.IdempotencyKey, billingcall.CallResume, struct{ SubscriptionID string }{req.SubscriptionID})
	return replayedState(once(ctx, p.client, now, c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		st, err := p.live(ctx, "resume", req.SubscriptionID, now)
		if err != nil {
			return nil, effect{}, err
		}
		st.Paused, st.ResumesAt = false, time.Time{}
		return st, st.effect(), nil
	}))
}

// SubscriptionState returns the subscription's state now. See
// [Provider.SubscriptionState].
func (p *TestProvider) SubscriptionState(ctx context.Context, subscriptionID string) (*SubscriptionState, error) {
	if err := requireID("read subscription", "subscription", subscriptionID); err != nil {
		return nil, err
	}
	st, _, err := p.current(ctx, subscriptionID, p.now())
	return st, err
}

// DeleteCustomer erases the personal data the ledger holds of the customer
// (its cancellation comments) and records the deletion; the customer's
// subscriptions are canceled from then on and cannot be reactivated. An
// unknown "cus_test_" customer has nothing to erase and succeeds. See
// [Provider.DeleteCustomer].
func (p *TestProvider) DeleteCustomer(ctx context.Context, req DeleteCustomerRequest) (*CustomerDeletion, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(req.CustomerID, "cus_test_") {
		return nil, fmt.Errorf("billing: %q is not a customer of the test provider", req.CustomerID)
	}
	now := p.now()
	c := p.call(req.IdempotencyKey, billingcall.CallDeleteCustomer, struct{ CustomerID string }{req.CustomerID})
	d, replayed, err := once(ctx, p.client, now, c, func(ctx context.Context) (*CustomerDeletion, effect, error) {
		n, err := redactCustomer(ctx, p.client, req.CustomerID, now)
		if err != nil {
			return nil, effect{}, err
		}
		return &CustomerDeletion{Provider: ProviderTest, CustomerID: req.CustomerID, RedactedCalls: n},
			effect{customerID: req.CustomerID}, nil
	})
	if err != nil {
		return nil, err
	}
	d.Replayed = replayed
	return d, nil
}

// call returns the ledger call of the test provider.
func (p *TestProvider) call(key string, kind billingcall.Call, params any) call {
	return call{provider: ProviderTest, key: key, kind: kind, params: params}
}

// live returns the subscription's state now, or an error if it has ended:
// what (a verb phrase) cannot be done to it.
func (p *TestProvider) live(ctx context.Context, what, subscriptionID string, now time.Time) (*SubscriptionState, error) {
	st, _, err := p.current(ctx, subscriptionID, now)
	if err != nil {
		return nil, err
	}
	if st.Status.Ended() {
		return nil, fmt.Errorf("billing: cannot %s subscription %s: it is %s", what, subscriptionID, st.Status)
	}
	return st, nil
}

// current returns the subscription's state at now and whether its customer
// was deleted: its latest ledger row's state, or the state its Charge row
// started it in, carried forward to now. An unknown subscription is an
// error.
func (p *TestProvider) current(ctx context.Context, subscriptionID string, now time.Time) (*SubscriptionState, bool, error) {
	if !strings.HasPrefix(subscriptionID, "sub_test_") {
		return nil, false, fmt.Errorf("billing: %q is not a subscription of the test provider", subscriptionID)
	}
	sys := tenantd.SystemContext(ctx)
	var st *SubscriptionState
	row, err := p.client.BillingCall.Query().
		Where(billingcall.SubscriptionID(subscriptionID), billingcall.Provider(ProviderTest)).
		Order(ent.Desc(billingcall.FieldCreatedAt), ent.Desc(billingcall.FieldID)).
		First(sys)
	switch {
	case err == nil:
		if st, _, err = decodeResult[SubscriptionState](row); err != nil {
			return nil, false, err
		}
	case ent.IsNotFound(err):
		ch, err := p.client.Charge.Query().
			Where(charge.SubscriptionID(subscriptionID), charge.Provider(ProviderTest)).
			First(sys)
		if ent.IsNotFound(err) {
			return nil, false, fmt.Errorf("billing: no such subscription %s", subscriptionID)
		}
		if err != nil {
			return nil, false, fmt.Errorf("billing: read subscription %s: %w", subscriptionID, err)
		}
		start := ch.CreatedAt.UTC()
		st = &SubscriptionState{
			Provider: ProviderTest, CustomerID: ch.CustomerID, SubscriptionID: ch.SubscriptionID,
			Status: StatusActive, PlanKey: ch.PlanKey, PriceCents: ch.AmountCents,
			BillingCycleAnchor: start, CurrentPeriodStart: start, CurrentPeriodEnd: addMonths(start, 1),
		}
	default:
		return nil, false, fmt.Errorf("billing: read subscription %s: %w", subscriptionID, err)
	}
	st.CouponID, st.Replayed = "", false // both describe one call's answer, not the state
	st.advance(now)

	del, err := p.client.BillingCall.Query().
		Where(billingcall.CallEQ(billingcall.CallDeleteCustomer), billingcall.CustomerID(st.CustomerID)).
		First(sys)
	if ent.IsNotFound(err) {
		return st, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("billing: read customer %s: %w", st.CustomerID, err)
	}
	// Deleting a customer cancels its subscriptions, as at Stripe.
	if !st.Status.Ended() {
		st.Status, st.CanceledAt = StatusCanceled, del.CreatedAt.UTC()
		st.CancelAtPeriodEnd, st.CancelAt, st.Paused, st.ResumesAt = false, time.Time{}, false, time.Time{}
	}
	return st, true, nil
}

// advance carries the state forward to now: a cancellation scheduled for a
// period end that has passed took effect, a pause whose resume time has
// come is over, and the current period is the one now falls in.
func (s *SubscriptionState) advance(now time.Time) {
	if s.Status.Ended() {
		return
	}
	if s.CancelAtPeriodEnd && !s.CancelAt.After(now) {
		s.Status, s.CanceledAt = StatusCanceled, s.CancelAt
		s.Paused, s.ResumesAt = false, time.Time{}
		return
	}
	if s.Paused && !s.ResumesAt.IsZero() && !s.ResumesAt.After(now) {
		s.Paused, s.ResumesAt = false, time.Time{}
	}
	s.CurrentPeriodStart, s.CurrentPeriodEnd = period(s.BillingCycleAnchor, now)
}

// effect returns the ledger's record of the state.
func (s *SubscriptionState) effect() effect {
	return effect{customerID: s.CustomerID, subscriptionID: s.SubscriptionID}
}

// period returns the monthly billing period, counted from anchor, that now
// falls in (the first one if now is before anchor).
func period(anchor, now time.Time) (start, end time.Time) {
	n := (now.Year()-anchor.Year())*12 + int(now.Month()) - int(anchor.Month())
	n = max(n, 0)
	for n > 0 && addMonths(anchor, n).After(now) {
		n--
	}
	for !addMonths(anchor, n+1).After(now) {
		n++
	}
	return addMonths(anchor, n), addMonths(anchor, n+1)
}

// addMonths returns t plus n months, on the anchor's day of the month or
// the month's last day if it is shorter (Stripe's rule: a subscription
// started on 31 January renews on 28 or 29 February, then 31 March).
func addMonths(t time.Time, n int) time.Time {
	y, m := t.Year(), int(t.Month())-1+n
	y, m = y+m/12, m%12
	if m < 0 {
		y, m = y-1, m+12
	}
	month := time.Month(m + 1)
	last := time.Date(y, month+1, 0, 0, 0, 0, 0, t.Location()).Day()
	return time.Date(y, month, min(t.Day(), last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

// prorate returns diff (per period) for the part of the period [start, end)
// left at now, rounded to the cent.
func prorate(diff int, start, end, now time.Time) int {
	total := end.Sub(start).Seconds()
	left := end.Sub(now).Seconds()
	if total <= 0 || left <= 0 {
		return 0
	}
	return int(math.Round(float64(diff) * min(left, total) / total))
}
