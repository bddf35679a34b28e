// Package billing charges a tenant for its plan: it creates the customer and
// the subscription at a billing provider and keeps the Charge ledger.
//
// Two providers implement [Provider]: [TestProvider], the built-in default,
// which charges nobody and follows Stripe's test payment method ids, and
// [StripeProvider], which talks to Stripe (or stripe-mock) through stripe-go.
// Both are idempotent on the idempotency key tenantd passes in
// [SubscribeRequest]: the key is handed on to the provider and the ledger
// holds one Charge row per key, so a retry, even after a crash, never
// charges twice.
//
// [ParseWebhook] verifies and decodes the webhooks Stripe sends.
//
// Charge rows are only visible to tenantd itself (ent privacy): the package
// reads and writes them with [tenantd.SystemContext]; callers authorize the
// request before they call a provider.
package billing

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/charge"
)

// Provider names as returned by Provider.Name and stored in Charge.provider.
const (
	ProviderTest   = "test"
	ProviderStripe = "stripe"
)

// SubscribeRequest asks a provider to create a customer and subscribe it to
// a plan.
type SubscribeRequest struct {
	// IdempotencyKey is tenantd's key for this signup; it is passed on to the
	// provider so that a retry never charges twice. Required.
	IdempotencyKey string
	// Email, Name and TenantSlug describe the customer.
	Email, Name, TenantSlug string
	// PlanKey is the plan subscribed to.
	PlanKey string
	// PriceCents is the plan's price, recorded in the ledger.
	PriceCents int
	// PaymentMethod is the provider's payment method id, e.g. pm_card_visa.
	PaymentMethod string
}

// Subscription is the result of a successful Subscribe.
type Subscription struct {
	// Provider is the name of the provider that created the subscription.
	Provider string
	// CustomerID and SubscriptionID are the provider's ids.
	CustomerID, SubscriptionID string
	// Replayed is true if the idempotency key had been used before: the ids
	// are those of the first call and nothing new was charged.
	Replayed bool
}

// Provider is a billing provider.
type Provider interface {
	// Name returns "test" or "stripe".
	Name() string
	// Subscribe creates the customer and the subscription (the "charge"). It
	// is idempotent on req.IdempotencyKey.
	//
	// It returns a *tenantd.Error with code PAYMENT_DECLINED (Field
	// "paymentMethod", a message a person can act on) when the card is
	// declined, and INVALID_INPUT (Field "paymentMethod") for a payment
	// method the provider does not know. Any other error is internal.
	Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error)
	// CancelSubscription cancels the subscription immediately. It is
	// idempotent: cancelling a cancelled subscription succeeds.
	CancelSubscription(ctx context.Context, subscriptionID string) error
}

// FieldPaymentMethod is the input field that PAYMENT_DECLINED and
// INVALID_INPUT errors of Subscribe name.
const FieldPaymentMethod = "paymentMethod"

// declined returns the PAYMENT_DECLINED error with msg.
func declined(msg string) *tenantd.Error {
	return &tenantd.Error{Code: tenantd.EPAYMENTDECLINED, Field: FieldPaymentMethod, Message: msg}
}

// checkRequest validates what every provider needs.
func checkRequest(req SubscribeRequest) error {
	if req.IdempotencyKey == "" {
		// tenantd's own key, not the caller's input: a bug, hence INTERNAL.
		return errors.New("billing: subscribe without an idempotency key")
	}
	if req.PaymentMethod == "" {
		return tenantd.Invalid(FieldPaymentMethod, "a payment method is required")
	}
	return nil
}

// recorded returns the ledger row of the idempotency key, or nil if the key
// has not been charged.
func recorded(ctx context.Context, client *ent.Client, key string) (*ent.Charge, error) {
	c, err := client.Charge.Query().Where(charge.IdempotencyKey(key)).Only(tenantd.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("billing: read charge: %w", err)
	}
	return c, nil
}

// replayed returns the Subscription of a ledger row found again.
func replayed(c *ent.Charge) *Subscription {
	return &Subscription{Provider: c.Provider, CustomerID: c.CustomerID, SubscriptionID: c.SubscriptionID, Replayed: true}
}

// record inserts the ledger row c unless a row with its idempotency key
// exists, and returns the stored row and whether it already existed. Two
// concurrent calls with one key are settled by the unique index: ON CONFLICT
// DO NOTHING, then the loser reads the winner's row.
func record(ctx context.Context, client *ent.Client, c ent.Charge) (*ent.Charge, bool, error) {
	ctx = tenantd.SystemContext(ctx)
	err := client.Charge.Create().
		SetProvider(c.Provider).
		SetIdempotencyKey(c.IdempotencyKey).
		SetCustomerID(c.CustomerID).
		SetSubscriptionID(c.SubscriptionID).
		SetPlanKey(c.PlanKey).
		SetAmountCents(c.AmountCents).
		OnConflictColumns(charge.FieldIdempotencyKey).DoNothing().
		Exec(ctx)
	switch {
	case err == nil:
		stored := c
		return &stored, false, nil
	case errors.Is(err, sql.ErrNoRows): // DO NOTHING returned no row: the key is taken
	default:
		return nil, false, fmt.Errorf("billing: record charge: %w", err)
	}
	stored, err := recorded(ctx, client, c.IdempotencyKey)
	if err == nil && stored == nil {
		err = fmt.Errorf("billing: charge %q conflicted but is not there", c.IdempotencyKey)
	}
	if err != nil {
		return nil, false, err
	}
	return stored, true, nil
}

// derivedID returns prefix followed by 24 hex digits derived from the kind
// and the idempotency key: the same key always yields the same id.
func derivedID(prefix, kind, key string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + key))
	return prefix + hex.EncodeToString(sum[:12])
}
