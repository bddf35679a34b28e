package billing

import (
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// This file holds the requests and answers of the calls a lifecycle
// operation makes after signup. Every call that changes something takes an
// idempotency key, which the operation step derives with [OperationKey]:
// the provider records the call's first answer under the key (the
// BillingCall ledger) and answers every later call with the key from it, so
// a step that runs twice, even after a crash or on another replica, calls
// the provider once in effect.

// OperationKey returns the idempotency key of the billing call made by the
// step named step of the operation operationID: the same step of the same
// operation always gets the same key, another step or operation another.
func OperationKey(operationID uuid.UUID, step string) string {
	return "tenantd-op-" + operationID.String() + ":" + step
}

// ErrKeyReused is wrapped by the error of a call whose idempotency key was
// used before by a different call or with different parameters. It is
// tenantd's bug, not the client's (the key is derived by an operation
// step), hence an internal error. Stripe answers the same with an
// idempotency_error.
var ErrKeyReused = errors.New("billing: idempotency key reused with other parameters")

// SubscriptionStatus is a subscription's status, with Stripe's values.
type SubscriptionStatus string

// The subscription statuses. The test provider uses active and canceled.
const (
	StatusActive            SubscriptionStatus = "active"
	StatusCanceled          SubscriptionStatus = "canceled"
	StatusPastDue           SubscriptionStatus = "past_due"
	StatusUnpaid            SubscriptionStatus = "unpaid"
	StatusTrialing          SubscriptionStatus = "trialing"
	StatusIncomplete        SubscriptionStatus = "incomplete"
	StatusIncompleteExpired SubscriptionStatus = "incomplete_expired"
	StatusPaused            SubscriptionStatus = "paused"
)

// Ended reports whether a subscription of status s is over: it bills no
// more and cannot be changed, only replaced by a new one.
func (s SubscriptionStatus) Ended() bool {
	return s == StatusCanceled || s == StatusIncompleteExpired
}

// SubscriptionState is what the provider knows of a subscription, as a call
// left it.
type SubscriptionState struct {
	// Provider is the name of the provider holding the subscription.
	Provider string `json:"provider"`
	// CustomerID and SubscriptionID are the provider's ids. After a
	// Reactivate that subscribed anew, SubscriptionID is the new
	// subscription's id: the caller records it on the tenant.
	CustomerID     string `json:"customer_id"`
	SubscriptionID string `json:"subscription_id"`
	// Status is the subscription's status.
	Status SubscriptionStatus `json:"status"`
	// PlanKey is the plan billed from the next renewal on ("" if the
	// provider's price is not one of tenantd's plans); PriceCents its
	// monthly price.
	PlanKey    string `json:"plan_key"`
	PriceCents int    `json:"price_cents"`
	// BillingCycleAnchor is the moment the billing periods are counted
	// from; CurrentPeriodStart and CurrentPeriodEnd bound the period that is
	// paid for. A PERIOD_END plan change or cancellation takes effect at
	// CurrentPeriodEnd.
	BillingCycleAnchor time.Time `json:"billing_cycle_anchor"`
	CurrentPeriodStart time.Time `json:"current_period_start"`
	CurrentPeriodEnd   time.Time `json:"current_period_end"`
	// CancelAtPeriodEnd is set while a cancellation is scheduled; CancelAt
	// is when it takes effect. CanceledAt is when the subscription was
	// canceled (zero while it is not).
	CancelAtPeriodEnd bool      `json:"cancel_at_period_end"`
	CancelAt          time.Time `json:"cancel_at"`
	CanceledAt        time.Time `json:"canceled_at"`
	// Paused is set while collection is paused (nothing is billed);
	// ResumesAt, if not zero, is when collection resumes by itself.
	Paused    bool      `json:"paused"`
	ResumesAt time.Time `json:"resumes_at"`
	// CouponID is the provider's id of the retention coupon applied by the
	// call that returned this state (Reactivate), "" if none.
	CouponID string `json:"coupon_id,omitempty"`
	// Replayed is true if the idempotency key had been used before: this is
	// the first call's answer and nothing was done again.
	Replayed bool `json:"-"`
}

// CancellationFeedback is the customer's reason for canceling, with
// Stripe's values of cancellation_details.feedback.
type CancellationFeedback string

// The cancellation feedback values.
const (
	FeedbackCustomerService CancellationFeedback = "customer_service"
	FeedbackLowQuality      CancellationFeedback = "low_quality"
	FeedbackMissingFeatures CancellationFeedback = "missing_features"
	FeedbackOther           CancellationFeedback = "other"
	FeedbackSwitchedService CancellationFeedback = "switched_service"
	FeedbackTooComplex      CancellationFeedback = "too_complex"
	FeedbackTooExpensive    CancellationFeedback = "too_expensive"
	FeedbackUnused          CancellationFeedback = "unused"
)

// Valid reports whether f is empty or one of the feedback values.
func (f CancellationFeedback) Valid() bool {
	switch f {
	case "", FeedbackCustomerService, FeedbackLowQuality, FeedbackMissingFeatures, FeedbackOther,
		FeedbackSwitchedService, FeedbackTooComplex, FeedbackTooExpensive, FeedbackUnused:
		return true
	}
	return false
}

// Input fields that errors of the calls name, besides FieldPaymentMethod.
const (
	FieldFeedback       = "feedback"
	FieldResumesAt      = "resumesAt"
	FieldPercentOff     = "percentOff"
	FieldDurationMonths = "durationMonths"
)

// CancelRequest asks to cancel a subscription, now or at the end of the
// period paid for.
type CancelRequest struct {
	// IdempotencyKey is the operation step's key ([OperationKey]). Required.
	IdempotencyKey string
	// SubscriptionID is the provider's subscription id. Required.
	SubscriptionID string
	// AtPeriodEnd schedules the cancellation for the end of the current
	// period (Stripe's cancel_at_period_end) instead of canceling now;
	// [Provider.UndoCancellation] takes it back until then.
	AtPeriodEnd bool
	// Feedback is the customer's reason, optional.
	Feedback CancellationFeedback
	// Comment is the customer's free text, optional. It is personal data:
	// the ledger keeps it apart and DeleteCustomer erases it.
	Comment string
}

// UndoCancellationRequest takes back a cancellation scheduled for the end
// of the period.
type UndoCancellationRequest struct {
	// IdempotencyKey is the operation step's key. Required.
	IdempotencyKey string
	// SubscriptionID is the provider's subscription id. Required.
	SubscriptionID string
}

// RetentionCoupon is a discount offered to win a customer back: PercentOff
// percent off every invoice for DurationMonths months.
type RetentionCoupon struct {
	// PercentOff is the discount in whole percent, 1–100.
	PercentOff int
	// DurationMonths is how many monthly invoices are discounted, 1–36.
	DurationMonths int
	// Name is shown on the customer's invoices, optional.
	Name string
}

// Validate returns INVALID_INPUT naming percentOff or durationMonths if the
// coupon is out of range; callers validate a campaign's coupon with it when
// it is defined, long before a reactivation applies it.
func (c RetentionCoupon) Validate() error {
	if c.PercentOff < 1 || c.PercentOff > 100 {
		return tenantd.Invalid(FieldPercentOff, "percentOff must be between 1 and 100, not %d", c.PercentOff)
	}
	if c.DurationMonths < 1 || c.DurationMonths > 36 {
		return tenantd.Invalid(FieldDurationMonths, "durationMonths must be between 1 and 36, not %d", c.DurationMonths)
	}
	return nil
}

// ReactivateRequest asks to bill a customer again after a cancellation.
type ReactivateRequest struct {
	// IdempotencyKey is the operation step's key. Required.
	IdempotencyKey string
	// SubscriptionID is the tenant's last subscription. Required. If it has
	// not ended (a cancellation is only scheduled, or collection is paused)
	// it is resumed; if it has ended, the customer is subscribed anew and
	// the answer carries the new subscription's id.
	SubscriptionID string
	// PlanKey and PriceCents are the plan a new subscription is for.
	// Required; a resumed subscription keeps its plan (see ChangePlan).
	PlanKey    string
	PriceCents int
	// PaymentMethod, optional, becomes the subscription's payment method;
	// without it the customer's default is charged.
	PaymentMethod string
	// Coupon, optional, is applied to the subscription.
	Coupon *RetentionCoupon
	// TenantSlug is recorded with a new subscription, optional.
	TenantSlug string
}

// ChangePlanRequest asks to move a subscription to another plan.
type ChangePlanRequest struct {
	// IdempotencyKey is the operation step's key. Required.
	IdempotencyKey string
	// SubscriptionID is the provider's subscription id. Required.
	SubscriptionID string
	// PlanKey and PriceCents are the new plan and its monthly price.
	PlanKey    string
	PriceCents int
	// AtPeriodEnd bills the new price from the next renewal on and
	// prorates nothing (a PERIOD_END change; it may be made any time
	// before the period ends). Otherwise the change is prorated now: the
	// difference for the rest of the period is invoiced (or credited)
	// immediately (an IMMEDIATE change).
	AtPeriodEnd bool
}

// PreviewPlanChangeRequest asks what a plan change would cost; it changes
// nothing and takes no idempotency key.
type PreviewPlanChangeRequest struct {
	// SubscriptionID is the provider's subscription id. Required.
	SubscriptionID string
	// PlanKey and PriceCents are the new plan and its monthly price.
	PlanKey    string
	PriceCents int
	// AtPeriodEnd previews a PERIOD_END change (nothing is due now).
	AtPeriodEnd bool
}

// ProrationPreview is what a plan change would cost.
type ProrationPreview struct {
	// AmountDueNowCents is what would be charged at once: the proration
	// for the rest of the period, or 0 for a downgrade (whose credit goes
	// to the customer's balance) and a PERIOD_END change.
	AmountDueNowCents int
	// ProrationCents is the signed proration for the rest of the period: a
	// charge if positive, a credit if negative.
	ProrationCents int
	// MonthlyDifferenceCents is the new monthly price minus the one billed
	// now.
	MonthlyDifferenceCents int
	// Currency is the ISO currency code, lower case (Stripe's "usd").
	Currency string
	// PeriodEnd is the end of the current period: where a PERIOD_END
	// change takes effect and a prorated one stops being prorated.
	PeriodEnd time.Time
}

// PauseRequest asks to stop billing a subscription for a while (Stripe's
// pause_collection with behavior void: invoices of the pause are voided).
type PauseRequest struct {
	// IdempotencyKey is the operation step's key. Required.
	IdempotencyKey string
	// SubscriptionID is the provider's subscription id. Required.
	SubscriptionID string
	// ResumesAt, if not zero, resumes billing by itself at that time,
	// which must be in the future.
	ResumesAt time.Time
}

// ResumeRequest asks to bill a paused subscription again.
type ResumeRequest struct {
	// IdempotencyKey is the operation step's key. Required.
	IdempotencyKey string
	// SubscriptionID is the provider's subscription id. Required.
	SubscriptionID string
}

// DeleteCustomerRequest asks to delete a customer and the personal data the
// provider holds of it: the last billing step of a purge.
type DeleteCustomerRequest struct {
	// IdempotencyKey is the operation step's key. Required.
	IdempotencyKey string
	// CustomerID is the provider's customer id. Required.
	CustomerID string
}

// CustomerDeletion is the answer of DeleteCustomer.
type CustomerDeletion struct {
	// Provider is the name of the provider that deleted the customer.
	Provider string `json:"provider"`
	// CustomerID is the deleted customer.
	CustomerID string `json:"customer_id"`
	// RedactedCalls is how many ledger rows of the customer this deletion
	// redacted (erased their personal data and marked them redacted).
	RedactedCalls int `json:"redacted_calls"`
	// Replayed is true if the idempotency key had been used before.
	Replayed bool `json:"-"`
}

// requireKey and requireID return the internal error of a request missing
// what tenantd itself (not the client) must supply.
func requireKey(call, key string) error {
	if key == "" {
		return errors.New("billing: " + call + " without an idempotency key")
	}
	return nil
}

func requireID(call, what, id string) error {
	if id == "" {
		return errors.New("billing: " + call + " without a " + what + " id")
	}
	return nil
}

func (r CancelRequest) validate() error {
	if err := requireKey("cancel", r.IdempotencyKey); err != nil {
		return err
	}
	if err := requireID("cancel", "subscription", r.SubscriptionID); err != nil {
		return err
	}
	if !r.Feedback.Valid() {
		return tenantd.Invalid(FieldFeedback, "unknown cancellation feedback %q", string(r.Feedback))
	}
	return nil
}

func (r UndoCancellationRequest) validate() error {
	if err := requireKey("undo cancellation", r.IdempotencyKey); err != nil {
		return err
	}
	return requireID("undo cancellation", "subscription", r.SubscriptionID)
}

func (r ReactivateRequest) validate() error {
	if err := requireKey("reactivate", r.IdempotencyKey); err != nil {
		return err
	}
	if err := requireID("reactivate", "subscription", r.SubscriptionID); err != nil {
		return err
	}
	if r.PlanKey == "" || r.PriceCents < 0 {
		return errors.New("billing: reactivate without a plan")
	}
	if r.Coupon != nil {
		return r.Coupon.Validate()
	}
	return nil
}

func (r ChangePlanRequest) validate() error {
	if err := requireKey("change plan", r.IdempotencyKey); err != nil {
		return err
	}
	if err := requireID("change plan", "subscription", r.SubscriptionID); err != nil {
		return err
	}
	if r.PlanKey == "" || r.PriceCents < 0 {
		return errors.New("billing: change plan without a plan")
	}
	return nil
}

func (r PreviewPlanChangeRequest) validate() error {
	if err := requireID("preview plan change", "subscription", r.SubscriptionID); err != nil {
		return err
	}
	if r.PlanKey == "" || r.PriceCents < 0 {
		return errors.New("billing: preview plan change without a plan")
	}
	return nil
}

func (r PauseRequest) validate() error {
	if err := requireKey("pause", r.IdempotencyKey); err != nil {
		return err
	}
	return requireID("pause", "subscription", r.SubscriptionID)
}

// checkResumesAt is checked when the pause is made, not when a step that
// made it runs again later: a replay answers from the ledger first.
func (r PauseRequest) checkResumesAt(now time.Time) error {
	if !r.ResumesAt.IsZero() && !r.ResumesAt.After(now) {
		return tenantd.Invalid(FieldResumesAt, "resumesAt must be in the future")
	}
	return nil
}

func (r ResumeRequest) validate() error {
	if err := requireKey("resume", r.IdempotencyKey); err != nil {
		return err
	}
	return requireID("resume", "subscription", r.SubscriptionID)
}

func (r DeleteCustomerRequest) validate() error {
	if err := requireKey("delete customer", r.IdempotencyKey); err != nil {
		return err
	}
	return requireID("delete customer", "customer", r.CustomerID)
}
