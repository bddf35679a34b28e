package graph

import (
	"context"
	"unicode/utf8"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/lifecycle"
)

const maxReason = 500

// transition fires one lifecycle event for a mutation, as the caller.
func (r *mutationResolver) transition(ctx context.Context, input TenantTransitionInput, ev tenantd.Event) (*TenantTransitionPayload, error) {
	reason, err := reasonOf(input.Reason)
	if err != nil {
		return nil, err
	}
	res, err := r.Lifecycle.Fire(ctx, lifecycle.Request{
		TenantID: input.TenantID,
		Event:    ev,
		Actor:    lifecycle.ActorOf(ctx),
		Reason:   reason,
	})
	if err != nil {
		return nil, err
	}
	return &TenantTransitionPayload{Tenant: res.Tenant, Transition: res.Transition, Operation: res.Operation}, nil
}

func reasonOf(s *string) (string, error) {
	if s == nil {
		return "", nil
	}
	if !utf8.ValidString(*s) {
		return "", tenantd.Invalid("reason", "reason must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(*s); n > maxReason {
		return "", tenantd.Invalid("reason", "reason is %d characters long; the limit is %d", n, maxReason)
	}
	return *s, nil
}
