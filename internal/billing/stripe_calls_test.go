package billing_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/billing/stripemock"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// What the Stripe provider's lifecycle calls send: the requests that reach
// stripe-mock (through the recording proxy), their parameters and their
// Idempotency-Key. The ledger is exercised by the conformance suite; these
// run on SQLite alone.

// stripeBundle is a Stripe provider behind a recording proxy, with a
// signup's subscription.
type stripeBundle struct {
	proxy *stripemock.Proxy
	db    *store.DB
	p     *billing.StripeProvider
	sub   *billing.Subscription
}

func setupStripe(t *testing.T, apiBase string) *stripeBundle {
	t.Helper()
	b := &stripeBundle{proxy: stripemock.NewProxy(t, apiBase), db: storetest.New(t, storetest.SQLite)}
	b.p = b.provider(t, b.db)
	sub, err := b.p.Subscribe(context.Background(), request("signup-stripe-calls", billing.PMCardVisa))
	require.NoError(t, err)
	b.sub = sub
	for _, m := range []string{"GET", "POST", "DELETE"} {
		b.proxy.SetFields(m, "/v1/subscriptions/*", map[string]any{"customer": sub.CustomerID})
	}
	return b
}

// provider returns a Stripe provider over db behind the bundle's proxy.
func (b *stripeBundle) provider(t *testing.T, db *store.DB) *billing.StripeProvider {
	t.Helper()
	p, err := billing.NewStripeProvider(billing.StripeConfig{
		SecretKey: "sk_test_123", APIBase: b.proxy.URL,
		Prices: map[string]string{"pro": "price_1ProMonthly"},
		Clock:  clockwork.NewFakeClockAt(t0),
	}, db.Ent)
	require.NoError(t, err)
	return p
}

// sent is what a test expects of one request.
type sent struct {
	method, path, key string
	// form holds parameters the request must carry ("" for a parameter
	// sent empty, as pause_collection= unsets it); absent lists ones it
	// must not.
	form   map[string]string
	absent []string
}

// anyKey stands for the random key stripe-go sends with a POST that was
// given none (a preview, which changes nothing).
const anyKey = "*"

// requireSent checks the requests since the first n.
func requireSent(t *testing.T, proxy *stripemock.Proxy, n int, want ...sent) {
	t.Helper()
	got := proxy.Requests()[n:]
	require.Len(t, got, len(want), "%v", got)
	for i, w := range want {
		g := got[i]
		require.Equal(t, w.method+" "+w.path, g.String(), "request %d", i)
		if w.key == anyKey {
			require.NotEmpty(t, g.IdempotencyKey, "%s", g)
		} else {
			require.Equal(t, w.key, g.IdempotencyKey, "%s", g)
		}
		for k, v := range w.form {
			require.Contains(t, g.Form, k, "%s: %v", g, g.Form)
			require.Equal(t, v, g.Form.Get(k), "%s %s", g, k)
		}
		for _, k := range w.absent {
			require.NotContains(t, g.Form, k, "%s", g)
		}
	}
}

// One stripe-mock for all: it takes seconds of CPU to load its spec.
func TestStripeProviderCalls(t *testing.T) {
	t.Parallel()
	apiBase := stripemock.Start(t)
	for name, fn := range map[string]func(t *testing.T, apiBase string){
		"send": testStripeCallsSend,
		"retry after a crash sends the same keys": testStripeRetryAfterCrash,
		"answers": testStripeAnswers,
		"errors":  testStripeCallErrors,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, apiBase)
		})
	}
}

func testStripeCallsSend(t *testing.T, apiBase string) {
	ctx := context.Background()
	resumesAt := t0.AddDate(0, 0, 10)

	cases := []struct {
		name string
		// ended has the subscription answer as canceled.
		ended bool
		call  func(b *stripeBundle) error
		want  func(b *stripeBundle) []sent
		// noLedger is set for the calls that record nothing.
		noLedger bool
	}{
		{
			name: "cancel now",
			call: func(b *stripeBundle) error {
				_, err := b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID,
					Feedback: billing.FeedbackTooExpensive, Comment: "too dear"})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{{method: "DELETE", path: "/v1/subscriptions/" + b.sub.SubscriptionID, key: "k:cancel",
					form: map[string]string{"cancellation_details[feedback]": "too_expensive", "cancellation_details[comment]": "too dear"}}}
			},
		},
		{
			name: "cancel at period end",
			call: func(b *stripeBundle) error {
				_, err := b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID, AtPeriodEnd: true,
					Feedback: billing.FeedbackSwitchedService})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{{method: "POST", path: "/v1/subscriptions/" + b.sub.SubscriptionID, key: "k:cancel",
					form:   map[string]string{"cancel_at_period_end": "true", "cancellation_details[feedback]": "switched_service"},
					absent: []string{"cancellation_details[comment]"}}}
			},
		},
		{
			name: "undo cancellation",
			call: func(b *stripeBundle) error {
				_, err := b.p.UndoCancellation(ctx, billing.UndoCancellationRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{{method: "POST", path: "/v1/subscriptions/" + b.sub.SubscriptionID, key: "k:undo",
					form: map[string]string{"cancel_at_period_end": "false"}}}
			},
		},
		{
			// stripe-mock's subscription has a pause and a scheduled
			// cancellation: both are cleared.
			name: "reactivate resumes",
			call: func(b *stripeBundle) error {
				_, err := b.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID,
					PlanKey: "pro", PriceCents: 9900, PaymentMethod: billing.PMCardMastercard,
					Coupon: &billing.RetentionCoupon{PercentOff: 25, DurationMonths: 3, Name: "Welcome back"}})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{
					{method: "GET", path: "/v1/subscriptions/" + b.sub.SubscriptionID},
					{method: "POST", path: "/v1/payment_methods/pm_card_mastercard/attach", key: "k:attach",
						form: map[string]string{"customer": b.sub.CustomerID}},
					{method: "POST", path: "/v1/coupons", key: "k:coupon", form: map[string]string{
						"percent_off": "25.0000", "duration": "repeating", "duration_in_months": "3", "max_redemptions": "1", "name": "Welcome back"}},
					{method: "POST", path: "/v1/subscriptions/" + b.sub.SubscriptionID, key: "k:resume", form: map[string]string{
						"cancel_at_period_end": "false", "pause_collection": "", "default_payment_method": "pm_card_mastercard"}},
				}
			},
		},
		{
			name:  "reactivate subscribes anew",
			ended: true,
			call: func(b *stripeBundle) error {
				_, err := b.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID,
					PlanKey: "pro", PriceCents: 9900, TenantSlug: "acme"})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{
					{method: "GET", path: "/v1/subscriptions/" + b.sub.SubscriptionID},
					{method: "POST", path: "/v1/subscriptions", key: "k:subscription", form: map[string]string{
						"customer": b.sub.CustomerID, "items[0][price]": "price_1ProMonthly", "payment_behavior": "error_if_incomplete",
						"metadata[plan_key]": "pro", "metadata[tenant_slug]": "acme"},
						absent: []string{"default_payment_method", "discounts[0][coupon]"}},
				}
			},
		},
		{
			name: "change plan now",
			call: func(b *stripeBundle) error {
				_, err := b.p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID, PlanKey: "pro", PriceCents: 9900})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{
					{method: "GET", path: "/v1/subscriptions/" + b.sub.SubscriptionID},
					{method: "POST", path: "/v1/subscriptions/" + b.sub.SubscriptionID, key: "k:change", form: map[string]string{
						"items[0][price]": "price_1ProMonthly", "proration_behavior": "always_invoice",
						"payment_behavior": "error_if_incomplete", "metadata[plan_key]": "pro"}},
				}
			},
		},
		{
			name: "change plan at period end",
			call: func(b *stripeBundle) error {
				_, err := b.p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID, PlanKey: "free", PriceCents: 0, AtPeriodEnd: true})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{
					{method: "GET", path: "/v1/subscriptions/" + b.sub.SubscriptionID},
					{method: "POST", path: "/v1/subscriptions/" + b.sub.SubscriptionID, key: "k:change",
						form:   map[string]string{"items[0][price]": "price_free", "proration_behavior": "none"},
						absent: []string{"payment_behavior"}},
				}
			},
		},
		{
			name:     "preview plan change",
			noLedger: true,
			call: func(b *stripeBundle) error {
				_, err := b.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{SubscriptionID: b.sub.SubscriptionID, PlanKey: "pro", PriceCents: 9900})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{
					{method: "GET", path: "/v1/subscriptions/" + b.sub.SubscriptionID},
					{method: "POST", path: "/v1/invoices/create_preview", key: anyKey, form: map[string]string{
						"subscription": b.sub.SubscriptionID, "subscription_details[items][0][price]": "price_1ProMonthly",
						"subscription_details[proration_behavior]": "always_invoice"}},
				}
			},
		},
		{
			name:     "preview plan change at period end",
			noLedger: true,
			call: func(b *stripeBundle) error {
				_, err := b.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{SubscriptionID: b.sub.SubscriptionID, PlanKey: "pro", PriceCents: 9900, AtPeriodEnd: true})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{{method: "GET", path: "/v1/subscriptions/" + b.sub.SubscriptionID}}
			},
		},
		{
			name: "pause",
			call: func(b *stripeBundle) error {
				_, err := b.p.Pause(ctx, billing.PauseRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID, ResumesAt: resumesAt})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{{method: "POST", path: "/v1/subscriptions/" + b.sub.SubscriptionID, key: "k:pause", form: map[string]string{
					"pause_collection[behavior]": "void", "pause_collection[resumes_at]": strconv.FormatInt(resumesAt.Unix(), 10)}}}
			},
		},
		{
			name: "resume",
			call: func(b *stripeBundle) error {
				_, err := b.p.Resume(ctx, billing.ResumeRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{{method: "POST", path: "/v1/subscriptions/" + b.sub.SubscriptionID, key: "k:resume",
					form: map[string]string{"pause_collection": ""}}}
			},
		},
		{
			name: "delete customer",
			call: func(b *stripeBundle) error {
				_, err := b.p.DeleteCustomer(ctx, billing.DeleteCustomerRequest{IdempotencyKey: "k", CustomerID: b.sub.CustomerID})
				return err
			},
			want: func(b *stripeBundle) []sent {
				return []sent{{method: "DELETE", path: "/v1/customers/" + b.sub.CustomerID, key: "k:delete"}}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setupStripe(t, apiBase)
			if c.ended {
				b.proxy.SetFields("GET", "/v1/subscriptions/"+b.sub.SubscriptionID, map[string]any{"status": "canceled"})
			}
			n := len(b.proxy.Requests())
			require.NoError(t, c.call(b))
			requireSent(t, b.proxy, n, c.want(b)...)
			if c.noLedger {
				require.Empty(t, calls(t, b.db.Ent))
				return
			}
			require.Len(t, calls(t, b.db.Ent), 1)

			// Again with the key: answered from the ledger, Stripe not asked.
			n = len(b.proxy.Requests())
			require.NoError(t, c.call(b))
			require.Len(t, b.proxy.Requests(), n)
		})
	}
}

// If the ledger row is lost (a crash between Stripe's answer and the
// ledger; here: another database), the retry sends Stripe the same
// requests with the same keys, and Stripe answers them from its
// idempotency cache instead of acting twice.
func testStripeRetryAfterCrash(t *testing.T, apiBase string) {
	ctx := context.Background()
	b := setupStripe(t, apiBase)
	b.proxy.SetFields("GET", "/v1/subscriptions/"+b.sub.SubscriptionID, map[string]any{"status": "canceled"})
	req := billing.ReactivateRequest{IdempotencyKey: billing.OperationKey(uuid.New(), "billing"), SubscriptionID: b.sub.SubscriptionID,
		PlanKey: "pro", PriceCents: 9900, PaymentMethod: billing.PMCardVisa, Coupon: &billing.RetentionCoupon{PercentOff: 20, DurationMonths: 6}}

	n := len(b.proxy.Mutations())
	_, err := b.p.Reactivate(ctx, req)
	require.NoError(t, err)
	first := b.proxy.Mutations()[n:]
	require.Len(t, first, 3) // attach, coupon, subscription
	coupon := first[1].Form.Get("id")
	require.Regexp(t, `^tenantd_retention_[0-9a-f]{24}$`, coupon, "the coupon's id is derived from the key")
	require.Equal(t, coupon, first[2].Form.Get("discounts[0][coupon]"))

	n = len(b.proxy.Mutations())
	_, err = b.provider(t, storetest.New(t, storetest.SQLite)).Reactivate(ctx, req)
	require.NoError(t, err)
	again := b.proxy.Mutations()[n:]
	require.Len(t, again, len(first))
	for i := range first {
		require.Equal(t, first[i].String(), again[i].String())
		require.Equal(t, first[i].IdempotencyKey, again[i].IdempotencyKey)
		require.Equal(t, first[i].Form, again[i].Form, "Stripe replays a key only for the same parameters")
	}
}

func testStripeAnswers(t *testing.T, apiBase string) {
	ctx := context.Background()
	b := setupStripe(t, apiBase)
	start, end := t0, t0.AddDate(0, 1, 0)
	b.proxy.SetFields("GET", "/v1/subscriptions/"+b.sub.SubscriptionID, map[string]any{
		"status":               "past_due",
		"billing_cycle_anchor": start.Unix(),
		"cancel_at_period_end": true,
		"cancel_at":            end.Unix(),
		"canceled_at":          nil,
		"pause_collection":     map[string]any{"behavior": "void", "resumes_at": start.AddDate(0, 0, 5).Unix()},
		"metadata":             map[string]any{"plan_key": "starter"},
		"items": map[string]any{"object": "list", "data": []any{map[string]any{
			"id": "si_1", "object": "subscription_item",
			"current_period_start": start.Unix(), "current_period_end": end.Unix(),
			"price": map[string]any{"id": "price_1ProMonthly", "object": "price", "unit_amount": 9900, "currency": "usd"},
		}}},
	})
	st, err := b.p.SubscriptionState(ctx, b.sub.SubscriptionID)
	require.NoError(t, err)
	require.Equal(t, billing.SubscriptionState{
		Provider: "stripe", CustomerID: b.sub.CustomerID, SubscriptionID: b.sub.SubscriptionID,
		Status:  billing.StatusPastDue,
		PlanKey: "pro", PriceCents: 9900, // the price billed wins over the metadata
		BillingCycleAnchor: start, CurrentPeriodStart: start, CurrentPeriodEnd: end,
		CancelAtPeriodEnd: true, CancelAt: end,
		Paused: true, ResumesAt: start.AddDate(0, 0, 5),
	}, *st)

	pv, err := b.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{SubscriptionID: b.sub.SubscriptionID, PlanKey: "starter", PriceCents: 2900})
	require.NoError(t, err)
	require.Equal(t, -7000, pv.MonthlyDifferenceCents)
	require.Equal(t, end, pv.PeriodEnd)

	b.proxy.SetFields("POST", "/v1/invoices/create_preview", map[string]any{"amount_due": 0, "total": -3500, "currency": "usd"})
	pv, err = b.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{SubscriptionID: b.sub.SubscriptionID, PlanKey: "starter", PriceCents: 2900})
	require.NoError(t, err)
	require.Equal(t, billing.ProrationPreview{AmountDueNowCents: 0, ProrationCents: -3500, MonthlyDifferenceCents: -7000, Currency: "usd", PeriodEnd: end}, *pv)
}

func testStripeCallErrors(t *testing.T, apiBase string) {
	ctx := context.Background()
	declined := map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
		"message": "Your card has insufficient funds."}
	missing := map[string]any{"type": "invalid_request_error", "code": "resource_missing", "param": "id", "message": "No such subscription"}

	t.Run("a declined proration charge", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, apiBase)
		b.proxy.Fail("POST", "/v1/subscriptions/"+b.sub.SubscriptionID, 402, declined)
		_, err := b.p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID, PlanKey: "pro", PriceCents: 9900})
		require.Equal(t, tenantd.EPAYMENTDECLINED, tenantd.ErrorCode(err), "%v", err)
		require.Equal(t, billing.FieldPaymentMethod, tenantd.AsError(err).Field)
		require.Equal(t, "Your card has insufficient funds.", tenantd.AsError(err).Message)
		require.Empty(t, calls(t, b.db.Ent))
	})

	t.Run("canceling an ended subscription", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, apiBase)
		b.proxy.Fail("DELETE", "/v1/subscriptions/"+b.sub.SubscriptionID, 400, map[string]any{
			"type": "invalid_request_error", "message": "This subscription is already canceled."})
		b.proxy.SetFields("GET", "/v1/subscriptions/"+b.sub.SubscriptionID, map[string]any{"status": "canceled"})
		st, err := b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID})
		require.NoError(t, err)
		require.Equal(t, billing.StatusCanceled, st.Status)
		require.Len(t, calls(t, b.db.Ent), 1)
		// The signup refund takes the same path.
		require.NoError(t, b.p.CancelSubscription(ctx, b.sub.SubscriptionID))
	})

	t.Run("an unknown subscription", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, apiBase)
		id := "sub_unknown"
		b.proxy.Fail("GET", "/v1/subscriptions/"+id, 404, missing)
		b.proxy.Fail("DELETE", "/v1/subscriptions/"+id, 404, missing)
		b.proxy.Fail("POST", "/v1/subscriptions/"+id, 404, missing)
		errs := []error{
			second(b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "k1", SubscriptionID: id})),
			second(b.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: "k2", SubscriptionID: id, PlanKey: "pro", PriceCents: 9900})),
			second(b.p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: "k3", SubscriptionID: id, PlanKey: "pro", PriceCents: 9900})),
			second(b.p.Pause(ctx, billing.PauseRequest{IdempotencyKey: "k4", SubscriptionID: id})),
			second(b.p.SubscriptionState(ctx, id)),
		}
		for i, err := range errs {
			require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err), "call %d: %v", i, err)
		}
		require.Empty(t, calls(t, b.db.Ent))
	})

	t.Run("changing an ended subscription", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, apiBase)
		b.proxy.SetFields("GET", "/v1/subscriptions/"+b.sub.SubscriptionID, map[string]any{"status": "canceled"})
		n := len(b.proxy.Mutations())
		_, err := b.p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: "k", SubscriptionID: b.sub.SubscriptionID, PlanKey: "pro", PriceCents: 9900})
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))
		require.Contains(t, err.Error(), "canceled")
		require.Len(t, b.proxy.Mutations(), n, "nothing is sent")
	})

	t.Run("a customer that cannot be deleted", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, apiBase)
		_, err := b.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "k1", SubscriptionID: b.sub.SubscriptionID, AtPeriodEnd: true, Comment: "bye"})
		require.NoError(t, err)
		b.proxy.Fail("DELETE", "/v1/customers/"+b.sub.CustomerID, 400, map[string]any{"type": "invalid_request_error", "message": "nope"})
		_, err = b.p.DeleteCustomer(ctx, billing.DeleteCustomerRequest{IdempotencyKey: "k2", CustomerID: b.sub.CustomerID})
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))
		rows := calls(t, b.db.Ent)
		require.Len(t, rows, 1, "the deletion is not recorded")
		require.NotNil(t, rows[0].Comment, "nor is anything redacted: the retry does it")
	})
}
