package graph

import (
	"context"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/subscription"
)

const maxReason = 500

// transition fires one lifecycle event for a mutation, as the caller. With
// an idempotencyKey, a retry returns the transition the first call made
// (lifecycle keeps the key).
func (r *mutationResolver) transition(ctx context.Context, input TenantTransitionInput, ev tenantd.Event) (*TenantTransitionPayload, error) {
	reason, err := reasonOf(input.Reason)
	if err != nil {
		return nil, err
	}
	req := lifecycle.Request{TenantID: input.TenantID, Event: ev, Actor: lifecycle.ActorOf(ctx), Reason: reason}
	if input.IdempotencyKey != nil {
		req.IdempotencyKey = *input.IdempotencyKey
	}
	res, err := r.Lifecycle.Fire(ctx, req)
	if err != nil {
		return nil, err
	}
	return &TenantTransitionPayload{Tenant: res.Tenant, Transition: res.Transition, Operation: res.Operation}, nil
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// scheduledCancellationOf is a tenant's scheduled cancellation for the API.
func scheduledCancellationOf(ctx context.Context, sc *subscription.Scheduled) *ScheduledCancellation {
	if sc == nil {
		return nil
	}
	out := &ScheduledCancellation{EffectiveAt: sc.EffectiveAt}
	if sc.Feedback != "" {
		f := CancellationFeedback(sc.Feedback)
		out.Feedback = &f
	}
	if !sc.RequestedAt.IsZero() {
		out.RequestedAt = &sc.RequestedAt
	}
	if sc.RequestedBy != "" {
		by := actorFor(ctx, sc.RequestedBy)
		out.RequestedBy = &by
	}
	return out
}

func reasonOf(s *string) (string, error) {
	if s == nil {
		return "", nil
	}
	if err := tenantd.CheckLine("reason", *s, maxReason); err != nil {
		return "", err
	}
	return *s, nil
}
