package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd/internal/idempotency"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/lifecycle"
)

const maxReason = 500

// transitionAnswer is what an idempotent lifecycle mutation stores.
type transitionAnswer struct {
	TransitionID uuid.UUID `json:"transitionId"`
}

// transition fires one lifecycle event for a mutation, as the caller. With
// an idempotencyKey, a retry returns the transition the first call made.
func (r *mutationResolver) transition(ctx context.Context, input TenantTransitionInput, ev tenantd.Event) (*TenantTransitionPayload, error) {
	reason, err := reasonOf(input.Reason)
	if err != nil {
		return nil, err
	}
	v, _ := tenantd.ViewerFrom(ctx)
	req := idempotency.Request{Scope: string(ev) + ":" + v.TokenID.String(), Input: input}
	if input.IdempotencyKey != nil {
		req.Key = *input.IdempotencyKey
	}
	ans, err := idempotency.Do(ctx, r.Idempotency, req, func(ctx context.Context, _ *idempotency.Claim) (transitionAnswer, error) {
		res, err := r.Lifecycle.Fire(ctx, lifecycle.Request{
			TenantID: input.TenantID,
			Event:    ev,
			Actor:    lifecycle.ActorOf(ctx),
			Reason:   reason,
		})
		if err != nil {
			return transitionAnswer{}, err
		}
		return transitionAnswer{TransitionID: res.Transition.ID}, nil
	})
	if err != nil {
		return nil, err
	}
	tr, err := r.client().StateTransition.Get(ctx, ans.TransitionID)
	if err != nil {
		return nil, err
	}
	t, err := tr.QueryTenant().Only(ctx)
	if err != nil {
		return nil, err
	}
	return &TenantTransitionPayload{Tenant: t, Transition: tr}, nil
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
