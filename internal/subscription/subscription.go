// Package subscription carries the lifecycle changes that have a billing
// meaning to the billing provider: a cancellation cancels the subscription
// (a CANCEL operation), a reactivation resumes it or subscribes the
// customer anew (a REACTIVATE operation). Each call to the provider is a
// step of its operation, idempotent on the step's key, so a job run twice
// calls the provider once in effect.
package subscription

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
)

// The steps.
const (
	StepCancelBilling     = "cancel_billing"
	StepReactivateBilling = "reactivate_billing"
)

// Service cancels and reactivates subscriptions.
type Service struct {
	db      *store.DB
	machine *lifecycle.Machine
	billing billing.Provider
	log     *slog.Logger
}

// Config wires a Service.
type Config struct {
	DB        *store.DB
	Lifecycle *lifecycle.Machine
	Billing   billing.Provider
	// Operations runs CANCEL and REACTIVATE: New registers the kinds.
	Operations *operation.Engine
	Logger     *slog.Logger
}

// New returns a Service and registers its operation kinds.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: cfg.DB, machine: cfg.Lifecycle, billing: cfg.Billing, log: cfg.Logger}
	// A failure after the last attempt leaves the tenant where the
	// transition took it (CANCELED, ACTIVE): the operation FAILED says the
	// provider was not told, for an operator to follow up.
	cfg.Operations.Add(operation.Kind{Name: tenantd.OpCancel, Timeout: 30 * time.Second, MaxAttempts: 12,
		Steps: []operation.Step{{Name: StepCancelBilling, Do: s.CancelBilling}}})
	cfg.Operations.Add(operation.Kind{Name: tenantd.OpReactivate, Timeout: 30 * time.Second, MaxAttempts: 12,
		Steps: []operation.Step{{Name: StepReactivateBilling, Do: s.ReactivateBilling}}})
	return s
}

// Request is a cancellation or reactivation asked for by a caller.
type Request struct {
	TenantID       uuid.UUID
	Actor          lifecycle.Actor
	Reason         string
	IdempotencyKey string
}

// Cancel cancels an ACTIVE or SUSPENDED tenant's subscription at once: the
// tenant is CANCELED and a CANCEL operation tells the billing provider, in
// one transaction.
//
// Returns NOT_FOUND, INVALID_TRANSITION, FORBIDDEN (the lifecycle's).
func (s *Service) Cancel(ctx context.Context, req Request) (*lifecycle.Result, error) {
	return s.fire(ctx, req, tenantd.EventCancel, tenantd.OpCancel)
}

// Reactivate reactivates a CANCELED tenant: it is ACTIVE again, its data
// intact, and a REACTIVATE operation resumes its subscription or
// subscribes it anew, in one transaction.
//
// Returns NOT_FOUND, INVALID_TRANSITION, FORBIDDEN (the lifecycle's).
func (s *Service) Reactivate(ctx context.Context, req Request) (*lifecycle.Result, error) {
	return s.fire(ctx, req, tenantd.EventReactivate, tenantd.OpReactivate)
}

// fire fires the event with its operation. The operation's parameters fix
// the subscription it acts on, so that its step sends the same request on
// every attempt (a reactivation may subscribe anew and move the tenant to
// another subscription).
func (s *Service) fire(ctx context.Context, req Request, ev tenantd.Event, kind tenantd.OperationKind) (*lifecycle.Result, error) {
	params := map[string]any{"provider": s.billing.Name()}
	if t, err := s.db.Ent.Tenant.Get(ctx, req.TenantID); err == nil {
		params = s.Params(t)
	}
	return s.machine.Fire(ctx, lifecycle.Request{
		TenantID: req.TenantID, Event: ev, Actor: req.Actor, Reason: req.Reason, IdempotencyKey: req.IdempotencyKey,
		Operation: &operation.Spec{Kind: kind, Params: params},
	})
}

// subscriptionOf is the subscription an operation acts on.
func subscriptionOf(r *operation.Run) string {
	id, _ := r.Op.Params["subscription"].(string)
	return id
}

// Params are the operation parameters that fix the subscription a billing
// step acts on (see fire): another kind that cancels or resumes billing as
// one of its steps (a deletion, a restore) starts with them.
func (s *Service) Params(t *ent.Tenant) map[string]any {
	params := map[string]any{"provider": s.billing.Name()}
	if t.BillingSubscriptionID != nil {
		params["subscription"] = *t.BillingSubscriptionID
	}
	return params
}

// CancelBilling is a Do step: it cancels the subscription named by the
// operation's parameters (Params) at the provider, idempotently.
func (s *Service) CancelBilling(ctx context.Context, r *operation.Run) (string, error) {
	sub := subscriptionOf(r)
	if sub == "" {
		return "no subscription to cancel", nil
	}
	provider := billing.For(s.billing, r.Tenant.Synthetic, s.db.Ent)
	if _, err := provider.Cancel(ctx, billing.CancelRequest{
		IdempotencyKey: billing.OperationKey(r.Op.ID, r.Step()), SubscriptionID: sub,
	}); err != nil {
		return "", fmt.Errorf("cancel at %s: %w", provider.Name(), err)
	}
	return "subscription canceled at " + provider.Name(), nil
}

// ReactivateBilling is a Do step: it resumes the subscription named by the
// operation's parameters (Params), or subscribes the customer anew, at the
// provider, idempotently.
func (s *Service) ReactivateBilling(ctx context.Context, r *operation.Run) (string, error) {
	t := r.Tenant
	sub := subscriptionOf(r)
	if sub == "" {
		return "no subscription to resume", nil
	}
	p, err := t.QueryPlan().Only(tenantd.SystemContext(ctx))
	if err != nil {
		return "", err
	}
	slug := ""
	if t.Slug != nil {
		slug = *t.Slug
	}
	provider := billing.For(s.billing, t.Synthetic, s.db.Ent)
	res, err := provider.Reactivate(ctx, billing.ReactivateRequest{
		IdempotencyKey: billing.OperationKey(r.Op.ID, r.Step()), SubscriptionID: sub,
		PlanKey: p.Key, PriceCents: p.PriceCents, TenantSlug: slug,
	})
	if err != nil {
		return "", fmt.Errorf("reactivate at %s: %w", provider.Name(), err)
	}
	if res.SubscriptionID != "" && res.SubscriptionID != sub {
		// Subscribed anew: the tenant bills to the new subscription.
		if err := s.db.Ent.Tenant.UpdateOneID(t.ID).SetBillingSubscriptionID(res.SubscriptionID).Exec(tenantd.SystemContext(ctx)); err != nil {
			return "", fmt.Errorf("record the new subscription: %w", err)
		}
		r.Set("subscription", res.SubscriptionID)
		return "subscribed anew at " + provider.Name(), nil
	}
	return "subscription resumed at " + provider.Name(), nil
}
