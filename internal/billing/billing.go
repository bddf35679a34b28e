// Package billing charges a tenant for its plan and follows its lifecycle at
// a billing provider: it creates the customer and the subscription at
// signup, and cancels, reactivates, re-plans, pauses and deletes them as the
// tenant's operations ask.
//
// Two providers implement [Provider]: [TestProvider], the built-in default,
// which charges nobody and follows Stripe's test payment method ids, and
// [StripeProvider], which talks to Stripe (or stripe-mock) through stripe-go.
// Both are idempotent on the idempotency key tenantd passes in each request:
// the key is handed on to the provider and a ledger holds one row per key
// (Charge for signups, BillingCall for the later calls), so a retry, even
// after a crash, never charges or changes anything twice.
//
// [ParseWebhook] verifies and decodes the webhooks Stripe sends.
//
// Ledger rows are only visible to tenantd itself (ent privacy): the package
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

// Provider is a billing provider. Its calls after signup follow the tenant's
// lifecycle, each made by a step of the lifecycle operation:
//
//	cancel              Cancel (now, or at the period end; UndoCancellation takes that back)
//	reactivate          Reactivate (resumes the subscription, or subscribes anew)
//	change_plan         ChangePlan (PreviewPlanChange for a dry run)
//	purge               DeleteCustomer
//	pause / resume      Pause, Resume (billing collection, for later issues)
//
// Every call that changes something takes the operation step's idempotency
// key ([OperationKey]) and is recorded in the BillingCall ledger under it:
// a second call with the key answers the first call's result (Replayed set)
// and changes nothing, whichever replica or process makes it; the Stripe
// provider also sends the key to Stripe as the Idempotency-Key. A call that
// fails records nothing: the key stays free for the retry. (Stripe, though,
// remembers a key's failed request for 24 hours: after a declined card, a
// call with other parameters needs a new key, i.e. a new operation.) A key
// reused with other parameters fails with an error wrapping ErrKeyReused.
//
// Unless a method says otherwise, an error is internal: a missing key or
// id, a subscription or customer the provider does not know (or one of
// another provider), a call the subscription's state does not allow (such
// as changing the plan of an ended subscription: the lifecycle allows no
// such transition), a network or provider failure.
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
	// idempotent: cancelling a cancelled subscription succeeds. It is the
	// refund of a signup that failed after its charge; a lifecycle
	// cancellation calls Cancel.
	CancelSubscription(ctx context.Context, subscriptionID string) error

	// Cancel cancels the subscription now, or schedules its cancellation
	// for the end of the current period (req.AtPeriodEnd), recording the
	// customer's feedback and comment. Canceling an ended subscription
	// succeeds and changes nothing. Returns INVALID_INPUT (Field
	// "feedback") for an unknown feedback value.
	Cancel(ctx context.Context, req CancelRequest) (*SubscriptionState, error)
	// UndoCancellation takes back a cancellation scheduled for the period
	// end; without one it changes nothing. An ended subscription cannot be
	// taken back (internal error): reactivate it instead.
	UndoCancellation(ctx context.Context, req UndoCancellationRequest) (*SubscriptionState, error)
	// Reactivate resumes the subscription if it has not ended (clearing a
	// scheduled cancellation and a pause) or else subscribes the customer
	// anew to req.PlanKey, charging the first period; either way it applies
	// req.Coupon and req.PaymentMethod if given. Returns PAYMENT_DECLINED
	// (Field "paymentMethod") when the charge is declined, INVALID_INPUT
	// (Field "paymentMethod") for a payment method the provider does not
	// know, INVALID_INPUT (Field "percentOff" or "durationMonths") for a
	// coupon out of range. A deleted customer cannot be reactivated
	// (internal error).
	Reactivate(ctx context.Context, req ReactivateRequest) (*SubscriptionState, error)
	// ChangePlan moves the subscription to req.PlanKey, prorated now or
	// from the next renewal (req.AtPeriodEnd). Returns PAYMENT_DECLINED
	// (Field "paymentMethod": the customer's payment method on file) when
	// the proration charge of an upgrade is declined; the plan is then
	// unchanged.
	ChangePlan(ctx context.Context, req ChangePlanRequest) (*SubscriptionState, error)
	// PreviewPlanChange returns what ChangePlan with the same plan would
	// cost now (changePlan's dryRun). It changes nothing.
	PreviewPlanChange(ctx context.Context, req PreviewPlanChangeRequest) (*ProrationPreview, error)
	// Pause stops billing the subscription until Resume or req.ResumesAt.
	// Returns INVALID_INPUT (Field "resumesAt") if req.ResumesAt is not in
	// the future.
	Pause(ctx context.Context, req PauseRequest) (*SubscriptionState, error)
	// Resume bills a paused subscription again; without a pause it changes
	// nothing.
	Resume(ctx context.Context, req ResumeRequest) (*SubscriptionState, error)
	// SubscriptionState reads the subscription as the provider has it now,
	// among others the end of its current period. It changes nothing.
	SubscriptionState(ctx context.Context, subscriptionID string) (*SubscriptionState, error)
	// DeleteCustomer deletes the customer at the provider (which ends its
	// subscriptions) and erases the personal data the ledger holds of it.
	// Deleting a deleted or unknown customer succeeds.
	DeleteCustomer(ctx context.Context, req DeleteCustomerRequest) (*CustomerDeletion, error)
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

// record inserts the ledger row c (created at c.CreatedAt unless that is
// zero) unless a row with its idempotency key exists, and returns the stored row and whether it already existed. Two
// concurrent calls with one key are settled by the unique index: ON CONFLICT
// DO NOTHING, then the loser reads the winner's row.
func record(ctx context.Context, client *ent.Client, c ent.Charge) (*ent.Charge, bool, error) {
	ctx = tenantd.SystemContext(ctx)
	create := client.Charge.Create()
	if !c.CreatedAt.IsZero() {
		create.SetCreatedAt(c.CreatedAt).SetUpdatedAt(c.CreatedAt)
	}
	err := create.
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

// For returns the provider holding a tenant's customer: live, unless the
// tenant is synthetic (a readiness check's), whose signup never charges
// through a live provider and whose later calls go where its customer is,
// the built-in test provider keeping its ledger in client.
func For(live Provider, synthetic bool, client *ent.Client) Provider {
	if synthetic && live.Name() != ProviderTest {
		return NewTestProvider(client)
	}
	return live
}
