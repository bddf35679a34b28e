// Package subscription carries the lifecycle changes that have a billing
// meaning to the billing provider: a cancellation — now, or scheduled for
// the end of the billing period and undoable until then — cancels the
// subscription (a CANCEL operation); a pause suspends the tenant and pauses
// billing until a given time (PAUSE), its end resumes both (RESUME); a
// reactivation charges or resumes the subscription and then makes the
// tenant ACTIVE (REACTIVATE). Each call to the provider is a step of its
// operation, idempotent on the step's key, so a job run twice calls the
// provider once in effect.
package subscription

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
)

// The steps.
const (
	StepCancelBilling     = "cancel_billing"
	StepReactivateBilling = "reactivate_billing"
	StepReactivate        = "reactivate"
	StepPauseBilling      = "pause_billing"
	StepResumeBilling     = "resume_billing"
)

// The modes of a CANCEL operation (its "mode" parameter).
const (
	modeNow       = "now"
	modePeriodEnd = "period_end"
	modeUndo      = "undo"
)

// MaxPause is the longest pause.
const MaxPause = 90 * 24 * time.Hour

// maxComment bounds a cancellation's comment.
const maxComment = 1000

// Service cancels, pauses, resumes and reactivates subscriptions.
type Service struct {
	db      *store.DB
	machine *lifecycle.Machine
	billing billing.Provider
	idem    *idempotency.Store
	engine  *operation.Engine
	events  *events.Publisher
	log     *slog.Logger
}

// Config wires a Service.
type Config struct {
	DB        *store.DB
	Lifecycle *lifecycle.Machine
	Billing   billing.Provider
	// Operations runs CANCEL, REACTIVATE, PAUSE and RESUME: New registers
	// the kinds.
	Operations *operation.Engine
	// Idempotency keeps the keys of the mutations that carry one.
	Idempotency *idempotency.Store
	// Events publishes the revocation of a failed reactivation's key.
	Events *events.Publisher
	Logger *slog.Logger
}

// New returns a Service and registers its operation kinds.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: cfg.DB, machine: cfg.Lifecycle, billing: cfg.Billing, idem: cfg.Idempotency, engine: cfg.Operations, events: cfg.Events, log: cfg.Logger}
	// A failure after the last attempt of CANCEL, PAUSE or RESUME leaves the
	// tenant where its transition took it: the operation FAILED says the
	// provider was not told, for an operator to follow up. A REACTIVATE
	// that fails (a declined card) leaves the tenant CANCELED: it becomes
	// ACTIVE only once billing is back.
	cfg.Operations.Add(operation.Kind{Name: tenantd.OpCancel, Timeout: 30 * time.Second, MaxAttempts: 12,
		Steps: []operation.Step{{Name: StepCancelBilling, Do: s.CancelBilling}}})
	cfg.Operations.Add(operation.Kind{Name: tenantd.OpReactivate, Timeout: 30 * time.Second, MaxAttempts: 12,
		Steps:  []operation.Step{{Name: StepReactivateBilling, Do: s.ReactivateBilling}, {Name: StepReactivate, Tx: s.reactivate}},
		OnFail: s.reactivationFailed})
	cfg.Operations.Add(operation.Kind{Name: tenantd.OpPause, Timeout: 30 * time.Second, MaxAttempts: 12,
		Steps: []operation.Step{{Name: StepPauseBilling, Do: s.pauseBilling}}})
	cfg.Operations.Add(operation.Kind{Name: tenantd.OpResume, Timeout: 30 * time.Second, MaxAttempts: 12,
		Steps: []operation.Step{{Name: StepResumeBilling, Do: s.resumeBilling}}})
	return s
}

// Params are the operation parameters that fix the subscription a billing
// step acts on: another kind that cancels or resumes billing as one of its
// steps (a deletion, a restore) starts with them.
func (s *Service) Params(t *ent.Tenant) map[string]any {
	params := map[string]any{"provider": s.billing.Name()}
	if t.BillingSubscriptionID != nil {
		params["subscription"] = *t.BillingSubscriptionID
	}
	return params
}

// subscriptionOf is the subscription an operation acts on.
func subscriptionOf(r *operation.Run) string {
	id, _ := r.Op.Params["subscription"].(string)
	return id
}

func (s *Service) provider(t *ent.Tenant) billing.Provider {
	return billing.For(s.billing, t.Synthetic, s.db.Ent)
}

// CancelBilling is a Do step: it cancels the subscription named by the
// operation's parameters (Params) at the provider — now, at the period
// end, or takes a scheduled cancellation back (the "mode" parameter) —
// idempotently.
func (s *Service) CancelBilling(ctx context.Context, r *operation.Run) (string, error) {
	sub := subscriptionOf(r)
	if sub == "" {
		return "no subscription to cancel", nil
	}
	provider := s.provider(r.Tenant)
	key := billing.OperationKey(r.Op.ID, r.Step())
	mode, _ := r.Op.Params["mode"].(string)
	if mode == modeUndo {
		if _, err := provider.UndoCancellation(ctx, billing.UndoCancellationRequest{IdempotencyKey: key, SubscriptionID: sub}); err != nil {
			return "", fmt.Errorf("undo the cancellation at %s: %w", provider.Name(), err)
		}
		return "scheduled cancellation taken back at " + provider.Name(), nil
	}
	feedback, _ := r.Op.Params["feedback"].(string)
	comment, _ := r.Op.Params["comment"].(string)
	st, err := provider.Cancel(ctx, billing.CancelRequest{
		IdempotencyKey: key, SubscriptionID: sub, AtPeriodEnd: mode == modePeriodEnd,
		Feedback: billing.CancellationFeedback(feedback), Comment: comment,
	})
	if err != nil {
		return "", fmt.Errorf("cancel at %s: %w", provider.Name(), err)
	}
	if mode == modePeriodEnd {
		return fmt.Sprintf("subscription set to cancel at the period end (%s) at %s", st.CancelAt.UTC().Format(time.RFC3339), provider.Name()), nil
	}
	return "subscription canceled at " + provider.Name(), nil
}

// ReactivateBilling is a Do step: it resumes the subscription named by the
// operation's parameters (Params), or subscribes the customer anew, at the
// provider, idempotently — on the plan and with the payment method of the
// parameters if they name one.
func (s *Service) ReactivateBilling(ctx context.Context, r *operation.Run) (string, error) {
	t := r.Tenant
	sub := subscriptionOf(r)
	if sub == "" {
		return "no subscription to resume", nil
	}
	sys := tenantd.SystemContext(ctx)
	// A cancellation's billing call may not have landed yet (a reactivation
	// right after a cancel): resuming first would leave it to cancel the
	// subscription under an ACTIVE tenant. Wait for it.
	if err := r.WaitFor(ctx, tenantd.OpCancel, time.Second); err != nil {
		return "", err
	}
	p, err := t.QueryPlan().Only(sys)
	if err != nil {
		return "", err
	}
	if key, _ := r.Op.Params["plan"].(string); key != "" && key != p.Key {
		if p, err = plans.ByKey(sys, s.db.Ent, key); err != nil {
			return "", operation.Permanent(err)
		}
	}
	slug := ""
	if t.Slug != nil {
		slug = *t.Slug
	}
	pm, _ := r.Op.Params["paymentMethod"].(string)
	provider := s.provider(t)
	res, err := provider.Reactivate(ctx, billing.ReactivateRequest{
		IdempotencyKey: billing.OperationKey(r.Op.ID, r.Step()), SubscriptionID: sub,
		PlanKey: p.Key, PriceCents: p.PriceCents, TenantSlug: slug, PaymentMethod: pm, Coupon: couponOf(r),
	})
	if err != nil {
		if tenantd.ErrorCode(err) == tenantd.EPAYMENTDECLINED || tenantd.ErrorCode(err) == tenantd.EINVALID {
			return "", operation.Permanent(err) // no retry mends a declined card
		}
		return "", fmt.Errorf("reactivate at %s: %w", provider.Name(), err)
	}
	if res.CouponID != "" {
		r.Set("couponId", res.CouponID)
	}
	if res.SubscriptionID != "" && res.SubscriptionID != sub {
		// Subscribed anew: the tenant bills to the new subscription.
		if err := s.db.Ent.Tenant.UpdateOneID(t.ID).SetBillingSubscriptionID(res.SubscriptionID).Exec(sys); err != nil {
			return "", fmt.Errorf("record the new subscription: %w", err)
		}
		r.Set("subscription", res.SubscriptionID)
		return fmt.Sprintf("subscribed anew to %s at %s", p.Key, provider.Name()), nil
	}
	if st, err := provider.SubscriptionState(ctx, sub); err == nil && st.PlanKey != "" && st.PlanKey != p.Key {
		// A resumed subscription keeps its plan: move it to the one asked for.
		if _, err := provider.ChangePlan(ctx, billing.ChangePlanRequest{
			IdempotencyKey: billing.OperationKey(r.Op.ID, r.Step()) + ":plan", SubscriptionID: sub,
			PlanKey: p.Key, PriceCents: p.PriceCents,
		}); err != nil {
			return "", fmt.Errorf("move the resumed subscription to %s at %s: %w", p.Key, provider.Name(), err)
		}
		return fmt.Sprintf("subscription resumed on %s at %s", p.Key, provider.Name()), nil
	}
	return "subscription resumed at " + provider.Name(), nil
}

// PeriodEnd returns the end of the tenant's current billing period as its
// billing provider has it now (one call to the provider), or nil when the
// tenant has no subscription or the subscription no period ahead (it was
// canceled). It is the time a cancellation at the period end would take
// effect.
func (s *Service) PeriodEnd(ctx context.Context, t *ent.Tenant) (*time.Time, error) {
	if t.BillingSubscriptionID == nil || t.State == tenantd.StateCanceled || t.State == tenantd.StatePurged {
		return nil, nil
	}
	st, err := s.provider(t).SubscriptionState(ctx, *t.BillingSubscriptionID)
	if err != nil {
		return nil, fmt.Errorf("read the billing period of tenant %s: %w", t.ID, err)
	}
	if st.CurrentPeriodEnd.IsZero() {
		return nil, nil
	}
	end := st.CurrentPeriodEnd.UTC()
	return &end, nil
}
