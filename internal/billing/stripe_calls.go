package billing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/stripe/stripe-go/v84"

	"github.com/tenantd/tenantd/ent/billingcall"
)

// The Stripe provider's lifecycle calls. Each is recorded in the BillingCall
// ledger under the operation step's key and sends Stripe that key (with a
// suffix per request) as the Idempotency-Key.

// Cancel cancels the subscription now (DELETE /v1/subscriptions/{id},
// key+":cancel") or sets cancel_at_period_end (key+":cancel"), with the
// feedback and comment as cancellation_details. See [Provider.Cancel].
func (p *StripeProvider) Cancel(ctx context.Context, req CancelRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	c := p.call(req.IdempotencyKey, billingcall.CallCancel, struct {
		SubscriptionID string
		AtPeriodEnd    bool
		Feedback       CancellationFeedback
	}{req.SubscriptionID, req.AtPeriodEnd, req.Feedback})
	c.comment = req.Comment
	return replayedState(once(ctx, p.client, p.now(), c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		var (
			sub *stripe.Subscription
			err error
		)
		if req.AtPeriodEnd {
			params := &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(true)}
			if req.Feedback != "" || req.Comment != "" {
				params.CancellationDetails = &stripe.SubscriptionUpdateCancellationDetailsParams{
					Feedback: optional(string(req.Feedback)), Comment: optional(req.Comment),
				}
			}
			params.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":cancel"))
			sub, err = p.sc.V1Subscriptions.Update(ctx, req.SubscriptionID, params)
		} else {
			params := &stripe.SubscriptionCancelParams{}
			if req.Feedback != "" || req.Comment != "" {
				params.CancellationDetails = &stripe.SubscriptionCancelCancellationDetailsParams{
					Feedback: optional(string(req.Feedback)), Comment: optional(req.Comment),
				}
			}
			params.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":cancel"))
			sub, err = p.sc.V1Subscriptions.Cancel(ctx, req.SubscriptionID, params)
		}
		if err != nil {
			// Canceling an ended subscription succeeds and changes nothing.
			if sub, err = p.ended(ctx, req.SubscriptionID, err); err != nil {
				return nil, effect{}, fmt.Errorf("billing: stripe cancel subscription %s: %w", req.SubscriptionID, err)
			}
		}
		return p.answer(sub)
	}))
}

// UndoCancellation clears cancel_at_period_end (key+":undo"). See
// [Provider.UndoCancellation].
func (p *StripeProvider) UndoCancellation(ctx context.Context, req UndoCancellationRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	c := p.call(req.IdempotencyKey, billingcall.CallUndoCancellation, struct{ SubscriptionID string }{req.SubscriptionID})
	return replayedState(once(ctx, p.client, p.now(), c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		params := &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(false)}
		params.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":undo"))
		sub, err := p.sc.V1Subscriptions.Update(ctx, req.SubscriptionID, params)
		if err != nil {
			return nil, effect{}, fmt.Errorf("billing: stripe undo cancellation of %s: %w", req.SubscriptionID, err)
		}
		return p.answer(sub)
	}))
}

// Reactivate reads the subscription, attaches req.PaymentMethod to the
// customer (key+":attach") and creates the retention coupon (key+":coupon",
// a once-redeemable repeating coupon whose id is derived from the key) if
// given, then either resumes the subscription (clears
// cancel_at_period_end and pause_collection, key+":resume") or, if it has
// ended, creates a new one for the plan's price with
// payment_behavior=error_if_incomplete (key+":subscription"), so that a
// declined first payment fails the call instead of leaving an incomplete
// subscription. See [Provider.Reactivate].
func (p *StripeProvider) Reactivate(ctx context.Context, req ReactivateRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	c := p.call(req.IdempotencyKey, billingcall.CallReactivate, struct {
		SubscriptionID, PlanKey string
		PriceCents              int
		PaymentMethod           string
		Coupon                  *RetentionCoupon
		TenantSlug              string
	}{req.SubscriptionID, req.PlanKey, req.PriceCents, req.PaymentMethod, req.Coupon, req.TenantSlug})
	return replayedState(once(ctx, p.client, p.now(), c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		cur, err := p.retrieve(ctx, req.SubscriptionID)
		if err != nil {
			return nil, effect{}, err
		}
		if cur.Customer == nil || cur.Customer.ID == "" {
			return nil, effect{}, fmt.Errorf("billing: stripe subscription %s has no customer", cur.ID)
		}
		customer := cur.Customer.ID
		if cur.Customer.Deleted {
			return nil, effect{}, fmt.Errorf("billing: reactivate %s: customer %s was deleted", req.SubscriptionID, customer)
		}
		if req.PaymentMethod != "" {
			ap := &stripe.PaymentMethodAttachParams{Customer: stripe.String(customer)}
			ap.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":attach"))
			if _, err := p.sc.V1PaymentMethods.Attach(ctx, req.PaymentMethod, ap); err != nil {
				return nil, effect{}, mapStripeError("attach payment method", err)
			}
		}
		coupon := ""
		if req.Coupon != nil {
			// The coupon's id is derived from the key: a retry past Stripe's
			// idempotency window finds it instead of making another.
			coupon = derivedID("tenantd_retention_", "coupon", req.IdempotencyKey)
			cp := &stripe.CouponCreateParams{
				ID:               stripe.String(coupon),
				PercentOff:       stripe.Float64(float64(req.Coupon.PercentOff)),
				Duration:         stripe.String(string(stripe.CouponDurationRepeating)),
				DurationInMonths: stripe.Int64(int64(req.Coupon.DurationMonths)),
				MaxRedemptions:   stripe.Int64(1),
				Name:             optional(req.Coupon.Name),
			}
			cp.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":coupon"))
			if _, err := p.sc.V1Coupons.Create(ctx, cp); err != nil && !alreadyExists(err) {
				return nil, effect{}, fmt.Errorf("billing: stripe create coupon: %w", err)
			}
		}

		var sub *stripe.Subscription
		if !SubscriptionStatus(cur.Status).Ended() {
			up := &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(false)}
			if paused(cur) {
				up.AddExtra("pause_collection", "") // "" unsets it
			}
			up.DefaultPaymentMethod = optional(req.PaymentMethod)
			if coupon != "" {
				up.Discounts = []*stripe.SubscriptionUpdateDiscountParams{{Coupon: stripe.String(coupon)}}
			}
			up.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":resume"))
			if sub, err = p.sc.V1Subscriptions.Update(ctx, cur.ID, up); err != nil {
				return nil, effect{}, mapStripeError("resume subscription "+cur.ID, err)
			}
		} else {
			sp := &stripe.SubscriptionCreateParams{
				Customer:             stripe.String(customer),
				Items:                []*stripe.SubscriptionCreateItemParams{{Price: stripe.String(p.PriceID(req.PlanKey))}},
				PaymentBehavior:      stripe.String("error_if_incomplete"),
				DefaultPaymentMethod: optional(req.PaymentMethod),
			}
			if coupon != "" {
				sp.Discounts = []*stripe.SubscriptionCreateDiscountParams{{Coupon: stripe.String(coupon)}}
			}
			if req.TenantSlug != "" {
				sp.AddMetadata("tenant_slug", req.TenantSlug)
			}
			sp.AddMetadata("plan_key", req.PlanKey)
			sp.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":subscription"))
			if sub, err = p.sc.V1Subscriptions.Create(ctx, sp); err != nil {
				return nil, effect{}, mapStripeError("create subscription", err)
			}
		}
		st, eff, err := p.answer(sub)
		if err != nil {
			return nil, effect{}, err
		}
		st.CouponID = coupon
		return st, eff, nil
	}))
}

// ChangePlan replaces the price of the subscription's item (key+":change")
// with proration_behavior=always_invoice and
// payment_behavior=error_if_incomplete, so that a declined proration
// charge leaves the plan unchanged, or proration_behavior=none for a
// PERIOD_END change. See [Provider.ChangePlan].
func (p *StripeProvider) ChangePlan(ctx context.Context, req ChangePlanRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	c := p.call(req.IdempotencyKey, billingcall.CallChangePlan, struct {
		SubscriptionID, PlanKey string
		PriceCents              int
		AtPeriodEnd             bool
	}{req.SubscriptionID, req.PlanKey, req.PriceCents, req.AtPeriodEnd})
	return replayedState(once(ctx, p.client, p.now(), c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		_, item, err := p.liveItem(ctx, "change the plan of", req.SubscriptionID)
		if err != nil {
			return nil, effect{}, err
		}
		up := &stripe.SubscriptionUpdateParams{
			Items: []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(item.ID), Price: stripe.String(p.PriceID(req.PlanKey))}},
		}
		if req.AtPeriodEnd {
			up.ProrationBehavior = stripe.String("none")
		} else {
			up.ProrationBehavior = stripe.String("always_invoice")
			up.PaymentBehavior = stripe.String("error_if_incomplete")
		}
		up.AddMetadata("plan_key", req.PlanKey)
		up.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":change"))
		sub, err := p.sc.V1Subscriptions.Update(ctx, req.SubscriptionID, up)
		if err != nil {
			return nil, effect{}, mapStripeError("change plan of "+req.SubscriptionID, err)
		}
		return p.answer(sub)
	}))
}

// PreviewPlanChange asks Stripe for the invoice the change would create now
// (POST /v1/invoices/create_preview with proration_behavior=always_invoice);
// a PERIOD_END change invoices nothing now and is not asked. See
// [Provider.PreviewPlanChange].
func (p *StripeProvider) PreviewPlanChange(ctx context.Context, req PreviewPlanChangeRequest) (*ProrationPreview, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	_, item, err := p.liveItem(ctx, "preview a plan change of", req.SubscriptionID)
	if err != nil {
		return nil, err
	}
	pv := &ProrationPreview{PeriodEnd: unixTime(item.CurrentPeriodEnd)}
	if item.Price != nil {
		pv.MonthlyDifferenceCents = req.PriceCents - int(item.Price.UnitAmount)
		pv.Currency = string(item.Price.Currency)
	}
	if req.AtPeriodEnd {
		return pv, nil
	}
	inv, err := p.sc.V1Invoices.CreatePreview(ctx, &stripe.InvoiceCreatePreviewParams{
		Subscription: stripe.String(req.SubscriptionID),
		SubscriptionDetails: &stripe.InvoiceCreatePreviewSubscriptionDetailsParams{
			Items: []*stripe.InvoiceCreatePreviewSubscriptionDetailsItemParams{
				{ID: stripe.String(item.ID), Price: stripe.String(p.PriceID(req.PlanKey))},
			},
			ProrationBehavior: stripe.String("always_invoice"),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("billing: stripe preview plan change of %s: %w", req.SubscriptionID, err)
	}
	pv.AmountDueNowCents, pv.ProrationCents = int(inv.AmountDue), int(inv.Total)
	if inv.Currency != "" {
		pv.Currency = string(inv.Currency)
	}
	return pv, nil
}

// Pause sets pause_collection with behavior void (key+":pause"). See
// [Provider.Pause].
func (p *StripeProvider) Pause(ctx context.Context, req PauseRequest) (*SubscriptionState, error) {
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
		pc := &stripe.SubscriptionUpdatePauseCollectionParams{Behavior: stripe.String("void")}
		if !req.ResumesAt.IsZero() {
			pc.ResumesAt = stripe.Int64(req.ResumesAt.Unix())
		}
		up := &stripe.SubscriptionUpdateParams{PauseCollection: pc}
		up.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":pause"))
		sub, err := p.sc.V1Subscriptions.Update(ctx, req.SubscriptionID, up)
		if err != nil {
			return nil, effect{}, fmt.Errorf("billing: stripe pause %s: %w", req.SubscriptionID, err)
		}
		return p.answer(sub)
	}))
}

// Resume unsets pause_collection (key+":resume"). See [Provider.Resume].
func (p *StripeProvider) Resume(ctx context.Context, req ResumeRequest) (*SubscriptionState, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	c := p.call(req.IdempotencyKey, billingcall.CallResume, struct{ SubscriptionID string }{req.SubscriptionID})
	return replayedState(once(ctx, p.client, p.now(), c, func(ctx context.Context) (*SubscriptionState, effect, error) {
		up := &stripe.SubscriptionUpdateParams{}
		up.AddExtra("pause_collection", "") // "" unsets it
		up.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":resume"))
		sub, err := p.sc.V1Subscriptions.Update(ctx, req.SubscriptionID, up)
		if err != nil {
			return nil, effect{}, fmt.Errorf("billing: stripe resume %s: %w", req.SubscriptionID, err)
		}
		return p.answer(sub)
	}))
}

// SubscriptionState retrieves the subscription; the period of its (first)
// item is the current period. See [Provider.SubscriptionState].
func (p *StripeProvider) SubscriptionState(ctx context.Context, subscriptionID string) (*SubscriptionState, error) {
	if err := requireID("read subscription", "subscription", subscriptionID); err != nil {
		return nil, err
	}
	sub, err := p.retrieve(ctx, subscriptionID)
	if err != nil {
		return nil, err
	}
	st, _, err := p.answer(sub)
	return st, err
}

// DeleteCustomer deletes the customer at Stripe (DELETE
// /v1/customers/{id}; Stripe ignores idempotency keys on DELETE, the key
// is sent all the same) and redacts its ledger rows. A customer Stripe no
// longer has (resource_missing) was deleted before: that succeeds. See
// [Provider.DeleteCustomer].
func (p *StripeProvider) DeleteCustomer(ctx context.Context, req DeleteCustomerRequest) (*CustomerDeletion, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := p.now()
	c := p.call(req.IdempotencyKey, billingcall.CallDeleteCustomer, struct{ CustomerID string }{req.CustomerID})
	d, replayed, err := once(ctx, p.client, now, c, func(ctx context.Context) (*CustomerDeletion, effect, error) {
		params := &stripe.CustomerDeleteParams{}
		params.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":delete"))
		if _, err := p.sc.V1Customers.Delete(ctx, req.CustomerID, params); err != nil && !resourceMissing(err) {
			return nil, effect{}, fmt.Errorf("billing: stripe delete customer %s: %w", req.CustomerID, err)
		}
		n, err := redactCustomer(ctx, p.client, req.CustomerID, now)
		if err != nil {
			return nil, effect{}, err
		}
		return &CustomerDeletion{Provider: ProviderStripe, CustomerID: req.CustomerID, RedactedCalls: n},
			effect{customerID: req.CustomerID}, nil
	})
	if err != nil {
		return nil, err
	}
	d.Replayed = replayed
	return d, nil
}

// call returns the ledger call of the Stripe provider.
func (p *StripeProvider) call(key string, kind billingcall.Call, params any) call {
	return call{provider: ProviderStripe, key: key, kind: kind, params: params}
}

// now returns the provider's time at the precision the databases keep.
func (p *StripeProvider) now() time.Time { return p.clock.Now().UTC().Truncate(time.Microsecond) }

// retrieve reads a subscription.
func (p *StripeProvider) retrieve(ctx context.Context, subscriptionID string) (*stripe.Subscription, error) {
	sub, err := p.sc.V1Subscriptions.Retrieve(ctx, subscriptionID, nil)
	if err != nil {
		return nil, fmt.Errorf("billing: stripe retrieve subscription %s: %w", subscriptionID, err)
	}
	return sub, nil
}

// liveItem reads a subscription that has not ended and its (first) item:
// what (a verb phrase) cannot be done to an ended one.
func (p *StripeProvider) liveItem(ctx context.Context, what, subscriptionID string) (*stripe.Subscription, *stripe.SubscriptionItem, error) {
	sub, err := p.retrieve(ctx, subscriptionID)
	if err != nil {
		return nil, nil, err
	}
	if SubscriptionStatus(sub.Status).Ended() {
		return nil, nil, fmt.Errorf("billing: cannot %s subscription %s: it is %s", what, subscriptionID, sub.Status)
	}
	item := firstItem(sub)
	if item == nil {
		return nil, nil, fmt.Errorf("billing: stripe subscription %s has no item", subscriptionID)
	}
	return sub, item, nil
}

// answer returns the state of the subscription Stripe answered with, and
// its ledger record.
func (p *StripeProvider) answer(sub *stripe.Subscription) (*SubscriptionState, effect, error) {
	if sub == nil {
		return nil, effect{}, errors.New("billing: stripe answered without a subscription")
	}
	st := &SubscriptionState{
		Provider:           ProviderStripe,
		SubscriptionID:     sub.ID,
		Status:             SubscriptionStatus(sub.Status),
		BillingCycleAnchor: unixTime(sub.BillingCycleAnchor),
		CancelAtPeriodEnd:  sub.CancelAtPeriodEnd,
		CancelAt:           unixTime(sub.CancelAt),
		CanceledAt:         unixTime(sub.CanceledAt),
		PlanKey:            sub.Metadata["plan_key"],
	}
	if sub.Customer != nil {
		st.CustomerID = sub.Customer.ID
	}
	if item := firstItem(sub); item != nil {
		st.CurrentPeriodStart, st.CurrentPeriodEnd = unixTime(item.CurrentPeriodStart), unixTime(item.CurrentPeriodEnd)
		if item.Price != nil {
			st.PriceCents = int(item.Price.UnitAmount)
			// The price is what is billed; the metadata only what tenantd
			// last asked for.
			if key := p.planKey(item.Price.ID); key != "" {
				st.PlanKey = key
			}
		}
	}
	if paused(sub) {
		st.Paused, st.ResumesAt = true, unixTime(sub.PauseCollection.ResumesAt)
	}
	return st, st.effect(), nil
}

// defaultPriceID matches the price ids PriceID makes up for a plan missing
// from the price map.
var defaultPriceID = regexp.MustCompile(`^price_([a-z][a-z0-9_-]*)$`)

// planKey returns the plan whose price priceID is, or "".
func (p *StripeProvider) planKey(priceID string) string {
	for key, id := range p.prices {
		if id == priceID {
			return key
		}
	}
	if m := defaultPriceID.FindStringSubmatch(priceID); m != nil {
		if _, mapped := p.prices[m[1]]; !mapped {
			return m[1]
		}
	}
	return ""
}

// firstItem returns the subscription's first item (tenantd subscribes to
// one price), or nil.
func firstItem(sub *stripe.Subscription) *stripe.SubscriptionItem {
	if sub.Items == nil || len(sub.Items.Data) == 0 {
		return nil
	}
	return sub.Items.Data[0]
}

// paused reports whether the subscription's collection is paused.
func paused(sub *stripe.Subscription) bool {
	return sub.PauseCollection != nil && sub.PauseCollection.Behavior != ""
}

// alreadyExists reports whether err is Stripe's answer to creating an
// object with an id that is taken.
func alreadyExists(err error) bool {
	var se *stripe.Error
	return errors.As(err, &se) && se.Code == stripe.ErrorCodeResourceAlreadyExists
}

// resourceMissing reports whether err is Stripe's "No such …".
func resourceMissing(err error) bool {
	var se *stripe.Error
	return errors.As(err, &se) && (se.Code == stripe.ErrorCodeResourceMissing || se.HTTPStatusCode == 404)
}

// unixTime returns the time of a Stripe timestamp; 0 is the zero time.
func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}
