package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jonboulle/clockwork"
	"github.com/stripe/stripe-go/v84"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
)

// StripeConfig configures the StripeProvider.
type StripeConfig struct {
	// SecretKey is the Stripe secret key (sk_test_… or sk_live_…). Required.
	SecretKey string
	// APIBase, when set, sends every request (API, connect, uploads, meter
	// events) to this base URL instead of Stripe's, e.g. stripe-mock's
	// "http://127.0.0.1:12111".
	APIBase string
	// Prices maps a plan key to the Stripe price id of the plan. A plan
	// missing from the map uses "price_<plankey>".
	Prices map[string]string
	// Clock is the time a pause's resume time is checked against; nil is
	// the real clock.
	Clock clockwork.Clock
}

// StripeProvider bills through Stripe. Subscribe creates a customer and a
// subscription, each with a Stripe idempotency key derived from tenantd's
// key, so that a retry within Stripe's 24-hour idempotency window replays
// the first result instead of charging again; the Charge ledger row keyed by
// tenantd's key records the outcome.
//
// The later calls (Cancel, Reactivate, ChangePlan, …) pass the operation
// step's key on to Stripe, suffixed per request of the call (a
// reactivation may attach a payment method, create a coupon and a
// subscription: ":attach", ":coupon", ":subscription"), and record their
// answer in the BillingCall ledger, which answers a replay without calling
// Stripe; Stripe's own idempotency covers a retry after a crash between
// Stripe's answer and the ledger.
type StripeProvider struct {
	sc     *stripe.Client
	prices map[string]string
	client *ent.Client
	clock  clockwork.Clock
}

var _ Provider = (*StripeProvider)(nil)

// NewStripeProvider returns a Stripe provider keeping its ledger in client.
func NewStripeProvider(cfg StripeConfig, client *ent.Client) (*StripeProvider, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("billing: the Stripe provider needs a secret key")
	}
	bc := &stripe.BackendConfig{
		// Errors are returned to the caller, who logs them; the SDK's own
		// logger would print every card decline to stderr.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.APIBase != "" {
		bc.URL = stripe.String(strings.TrimRight(cfg.APIBase, "/"))
	}
	prices := make(map[string]string, len(cfg.Prices))
	for k, v := range cfg.Prices {
		prices[k] = v
	}
	clock := cfg.Clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &StripeProvider{
		sc:     stripe.NewClient(cfg.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc))),
		prices: prices,
		client: client,
		clock:  clock,
	}, nil
}

// Name returns "stripe".
func (p *StripeProvider) Name() string { return ProviderStripe }

// PriceID returns the Stripe price id of the plan.
func (p *StripeProvider) PriceID(planKey string) string {
	if id, ok := p.prices[planKey]; ok && id != "" {
		return id
	}
	return "price_" + planKey
}

// Subscribe creates the customer (Stripe idempotency key
// req.IdempotencyKey+":customer") with req.PaymentMethod as its default
// payment method, then the subscription to the plan's price (key
// req.IdempotencyKey+":subscription"), then records the Charge row.
//
// The subscription is created with payment_behavior=error_if_incomplete, so
// a declined first payment fails the call (PAYMENT_DECLINED) instead of
// leaving an incomplete subscription behind.
//
// A key already in the ledger is answered from the ledger, with Replayed
// set and without calling Stripe. Replayed is also set when Stripe answered
// the subscription call from its idempotency cache (Idempotent-Replayed
// header), as when a previous attempt died between Stripe and the ledger.
func (p *StripeProvider) Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	// A key in the ledger was charged: answer from it without calling Stripe,
	// whose idempotency keys expire after 24 hours.
	if c, err := recorded(ctx, p.client, req.IdempotencyKey); err != nil || c != nil {
		if err != nil {
			return nil, err
		}
		return replayed(c), nil
	}
	cp := &stripe.CustomerCreateParams{
		Email:         optional(req.Email),
		Name:          optional(req.Name),
		PaymentMethod: stripe.String(req.PaymentMethod),
		InvoiceSettings: &stripe.CustomerCreateInvoiceSettingsParams{
			DefaultPaymentMethod: stripe.String(req.PaymentMethod),
		},
	}
	if req.TenantSlug != "" {
		cp.AddMetadata("tenant_slug", req.TenantSlug)
	}
	cp.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":customer"))
	cus, err := p.sc.V1Customers.Create(ctx, cp)
	if err != nil {
		return nil, mapStripeError("create customer", err)
	}

	sp := &stripe.SubscriptionCreateParams{
		Customer:        stripe.String(cus.ID),
		Items:           []*stripe.SubscriptionCreateItemParams{{Price: stripe.String(p.PriceID(req.PlanKey))}},
		PaymentBehavior: stripe.String("error_if_incomplete"),
	}
	if req.TenantSlug != "" {
		sp.AddMetadata("tenant_slug", req.TenantSlug)
	}
	sp.AddMetadata("plan_key", req.PlanKey)
	sp.SetIdempotencyKey(stripeIdempotencyKey(req.IdempotencyKey, ":subscription"))
	sub, err := p.sc.V1Subscriptions.Create(ctx, sp)
	if err != nil {
		return nil, mapStripeError("create subscription", err)
	}

	c, replayed, err := record(ctx, p.client, ent.Charge{
		Provider:       ProviderStripe,
		IdempotencyKey: req.IdempotencyKey,
		CustomerID:     cus.ID,
		SubscriptionID: sub.ID,
		PlanKey:        req.PlanKey,
		AmountCents:    req.PriceCents,
	})
	if err != nil {
		return nil, err
	}
	return &Subscription{
		Provider:       c.Provider,
		CustomerID:     c.CustomerID,
		SubscriptionID: c.SubscriptionID,
		Replayed:       replayed || idempotentReplayed(sub.LastResponse),
	}, nil
}

// CancelSubscription cancels the subscription immediately (Stripe
// idempotency key "cancel:"+id). Cancelling a subscription that is already
// cancelled succeeds.
func (p *StripeProvider) CancelSubscription(ctx context.Context, subscriptionID string) error {
	if subscriptionID == "" {
		return errors.New("billing: cancel subscription without an id")
	}
	params := &stripe.SubscriptionCancelParams{}
	params.SetIdempotencyKey(stripeIdempotencyKey("cancel:"+subscriptionID, ""))
	_, err := p.sc.V1Subscriptions.Cancel(ctx, subscriptionID, params)
	if err == nil {
		return nil
	}
	if _, err = p.ended(ctx, subscriptionID, err); err != nil {
		return fmt.Errorf("billing: stripe cancel subscription %s: %w", subscriptionID, err)
	}
	return nil
}

// ended returns the subscription if err, the error of a request that
// changes it, is an invalid_request_error and the subscription has ended:
// past Stripe's idempotency window, canceling again fails so, and the
// cancellation is done. Otherwise it returns err.
func (p *StripeProvider) ended(ctx context.Context, subscriptionID string, err error) (*stripe.Subscription, error) {
	var se *stripe.Error
	if errors.As(err, &se) && se.Type == stripe.ErrorTypeInvalidRequest {
		if sub, gerr := p.sc.V1Subscriptions.Retrieve(ctx, subscriptionID, nil); gerr == nil &&
			SubscriptionStatus(sub.Status).Ended() {
			return sub, nil
		}
	}
	return nil, err
}

// mapStripeError turns an error of the Stripe call op into tenantd's terms:
//
//   - a card_error (declined, expired, incorrect CVC, …) is PAYMENT_DECLINED
//     on field paymentMethod with Stripe's message, written for the card
//     holder;
//   - an invalid_request_error whose param concerns the payment method
//     (payment_method, invoice_settings[default_payment_method], …), e.g.
//     "No such PaymentMethod", is INVALID_INPUT on field paymentMethod;
//   - anything else (authentication, rate limit, network, idempotency key
//     reuse with other parameters, …) is wrapped and becomes INTERNAL.
func mapStripeError(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		switch {
		case se.Type == stripe.ErrorTypeCard:
			msg := strings.TrimSpace(se.Msg)
			if msg == "" {
				msg = "the card was declined"
			}
			return declined(msg)
		case se.Type == stripe.ErrorTypeInvalidRequest && strings.Contains(se.Param, "payment_method"):
			msg := strings.TrimSpace(se.Msg)
			if msg == "" {
				msg = "the payment method is not valid"
			}
			return tenantd.Invalid(FieldPaymentMethod, "%s", msg)
		}
	}
	return fmt.Errorf("billing: stripe %s: %w", op, err)
}

// maxStripeIdempotencyKey is the longest idempotency key Stripe accepts.
const maxStripeIdempotencyKey = 255

// stripeIdempotencyKey returns key+suffix, or, if that is longer than Stripe
// accepts, the hex SHA-256 of key followed by suffix: still one Stripe key
// per tenantd key.
func stripeIdempotencyKey(key, suffix string) string {
	if len(key)+len(suffix) <= maxStripeIdempotencyKey {
		return key + suffix
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + suffix
}

// idempotentReplayed reports whether Stripe answered from its idempotency
// cache.
func idempotentReplayed(r *stripe.APIResponse) bool {
	return r != nil && r.Header.Get("Idempotent-Replayed") == "true"
}

// optional returns nil for "" so that empty strings are not sent.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return stripe.String(s)
}
