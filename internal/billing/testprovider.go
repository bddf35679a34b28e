package billing

import (
	"context"
	"fmt"
	"strings"

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
type TestProvider struct {
	client *ent.Client
}

var _ Provider = (*TestProvider)(nil)

// NewTestProvider returns the test provider keeping its ledger in client.
func NewTestProvider(client *ent.Client) *TestProvider {
	return &TestProvider{client: client}
}

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
	switch req.PaymentMethod {
	case PMCardVisa, PMCardMastercard:
	case PMCardChargeDeclined:
		return nil, declined("the card was declined (" + req.PaymentMethod + "); use another payment method")
	case PMCardInsufficientFunds:
		return nil, declined("the card was declined for insufficient funds (" + req.PaymentMethod + "); use another payment method")
	default:
		return nil, tenantd.Invalid(FieldPaymentMethod,
			"unknown payment method %q; the test billing provider accepts %s",
			req.PaymentMethod, strings.Join([]string{PMCardVisa, PMCardMastercard}, " or "))
	}
	c, replayed, err := record(ctx, p.client, ent.Charge{
		Provider:       ProviderTest,
		IdempotencyKey: req.IdempotencyKey,
		CustomerID:     derivedID("cus_test_", "customer", req.IdempotencyKey),
		SubscriptionID: derivedID("sub_test_", "subscription", req.IdempotencyKey),
		PlanKey:        req.PlanKey,
		AmountCents:    req.PriceCents,
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
