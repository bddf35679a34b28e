package billing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
)

// Stripe's test payment method ids that the TestProvider knows.
const (
	PMCardVisa              = "pm_card_visa"
	PMCardMastercard        = "pm_card_mastercard"
	PMCardChargeDeclined    = "pm_card_chargeDeclined"
	PMCardInsufficientFunds = "pm_card_insufficientFunds"
)

// TestProvider is the built-in billing provider, used when Stripe is not
// configured. It charges nobody: it follows Stripe's test payment method ids
// (pm_card_visa and pm_card_mastercard succeed, pm_card_chargeDeclined and
// pm_card_insufficientFunds are declined, anything else is unknown) and
// records each subscription as a Charge row.
//
// Its customer and subscription ids ("cus_test_…", "sub_test_…") are derived
// from the idempotency key, and the Charge row, unique on the key, lives in
// the database: a retry, concurrent or after a restart, returns the first
// call's ids with Replayed set and writes nothing.
//
// The later calls (Cancel, Reactivate, ChangePlan, …) are rows of the
// BillingCall ledger, each holding the subscription's state as the call
// left it: a subscription's state is its latest row (or its Charge row),
// carried forward to the provider's clock (monthly periods from the
// subscription's start, a cancellation scheduled for a period end that has
// passed, a pause whose resume time has come). The test provider holds no
// name or email; the only personal data in its ledger are cancellation
// comments, which DeleteCustomer erases. Concurrent calls on one
// subscription with different keys are not serialized (the last one's
// state wins): tenantd runs one operation per tenant at a time.
type TestProvider struct {
	client *ent.Client
	clock  clockwork.Clock
}

var _ Provider = (*TestProvider)(nil)

// TestProviderOption configures a TestProvider.
type TestProviderOption func(*TestProvider)

// WithClock makes the test provider read the time from clock (billing
// periods, scheduled cancellations, prorations) instead of the real clock.
func WithClock(clock clockwork.Clock) TestProviderOption {
	return func(p *TestProvider) { p.clock = clock }
}

// NewTestProvider returns the test provider keeping its ledger in client.
func NewTestProvider(client *ent.Client, opts ...TestProviderOption) *TestProvider {
	p := &TestProvider{client: client, clock: clockwork.NewRealClock()}
	for _, o := range opts {
		o(p)
	}
	return p
}

// now returns the provider's time at the precision the databases keep.
func (p *TestProvider) now() time.Time { return p.clock.Now().UTC().Truncate(time.Microsecond) }

// Name returns "test".
func (p *TestProvider) Name() string { return ProviderTest }

// Subscribe charges req.PaymentMethod as Stripe's test card of that id would
// be charged. A declined card writes nothing. A key already in the ledger
// returns its subscription with Replayed set, whatever the rest of req.
func (p *TestProvider) Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	if c, err := recorded(ctx, p.client, req.IdempotencyKey); err != nil || c != nil {
		if err != nil {
			return nil, err
		}
		return replayed(c), nil
	}
	if err := testCharge(req.PaymentMethod); err != nil {
		return nil, err
	}
	c, replayed, err := record(ctx, p.client, ent.Charge{
		Provider:       ProviderTest,
		IdempotencyKey: req.IdempotencyKey,
		CustomerID:     derivedID("cus_test_", "customer", req.IdempotencyKey),
		SubscriptionID: derivedID("sub_test_", "subscription", req.IdempotencyKey),
		PlanKey:        req.PlanKey,
		AmountCents:    req.PriceCents,
		CreatedAt:      p.now(),
	})
	if err != nil {
		return nil, err
	}
	return &Subscription{Provider: c.Provider, CustomerID: c.CustomerID, SubscriptionID: c.SubscriptionID, Replayed: replayed}, nil
}

// CancelSubscription returns nil for a "sub_test_" id and records nothing:
// the test provider has no subscription state to change (the tenant's own
// state is tenantd's record of the cancellation), so cancelling is trivially
// immediate and idempotent. Any other id is an (internal) error: it was
// created by another provider, which is a configuration mistake.
func (p *TestProvider) CancelSubscription(ctx context.Context, subscriptionID string) error {
	if !strings.HasPrefix(subscriptionID, "sub_test_") {
		return fmt.Errorf("billing: %q is not a subscription of the test provider", subscriptionID)
	}
	return nil
}

// testCard checks a payment method as Stripe checks its test ids before any
// charge: INVALID_INPUT (Field "paymentMethod") for an unknown one.
func testCard(pm string) error {
	switch pm {
	case PMCardVisa, PMCardMastercard, PMCardChargeDeclined, PMCardInsufficientFunds:
		return nil
	}
	return tenantd.Invalid(FieldPaymentMethod,
		"unknown payment method %q; the test billing provider accepts %s",
		pm, strings.Join([]string{PMCardVisa, PMCardMastercard}, " or "))
}

// testCharge charges pm as Stripe's test card of that id would be charged:
// PAYMENT_DECLINED (Field "paymentMethod") for the declined cards.
func testCharge(pm string) error {
	if err := testCard(pm); err != nil {
		return err
	}
	switch pm {
	case PMCardChargeDeclined:
		return declined("the card was declined (" + pm + "); use another payment method")
	case PMCardInsufficientFunds:
		return declined("the card was declined for insufficient funds (" + pm + "); use another payment method")
	}
	return nil
}
