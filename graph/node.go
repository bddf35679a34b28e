package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/admintoken"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/idempotencykey"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/plan"
	"github.com/tenantd/tenantd/ent/privacy"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/ent/winbackcampaign"
)

// nodeType finds the table of a UUID by asking each node table in turn,
// with the caller's privacy: an object the caller cannot see is not found.
// The most asked-for types come first.
func (r *Resolver) nodeType(ctx context.Context, id uuid.UUID) (string, error) {
	c := r.client()
	probes := []struct {
		table string
		exist func() (bool, error)
	}{
		{tenant.Table, func() (bool, error) { return c.Tenant.Query().Where(tenant.ID(id)).Exist(ctx) }},
		{operation.Table, func() (bool, error) { return c.Operation.Query().Where(operation.ID(id)).Exist(ctx) }},
		{statetransition.Table, func() (bool, error) {
			return c.StateTransition.Query().Where(statetransition.ID(id)).Exist(ctx)
		}},
		{plan.Table, func() (bool, error) { return c.Plan.Query().Where(plan.ID(id)).Exist(ctx) }},
		{apikey.Table, func() (bool, error) { return c.APIKey.Query().Where(apikey.ID(id)).Exist(ctx) }},
		{admintoken.Table, func() (bool, error) { return c.AdminToken.Query().Where(admintoken.ID(id)).Exist(ctx) }},
		{idempotencykey.Table, func() (bool, error) {
			return c.IdempotencyKey.Query().Where(idempotencykey.ID(id)).Exist(ctx)
		}},
		{winbackcampaign.Table, func() (bool, error) {
			return c.WinBackCampaign.Query().Where(winbackcampaign.ID(id)).Exist(ctx)
		}},
	}
	for _, p := range probes {
		ok, err := p.exist()
		if errors.Is(err, privacy.Deny) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("resolve node %s: %w", id, err)
		}
		if ok {
			return p.table, nil
		}
	}
	return "", notFound("object", id)
}

func notFound(what string, id uuid.UUID) error {
	return tenantd.Errorf(tenantd.ENOTFOUND, "no %s with id %s", what, id)
}

// one translates ent's not-found into NOT_FOUND for the given kind of object.
func one[T any](v T, err error, what string, id uuid.UUID) (T, error) {
	if ent.IsNotFound(err) {
		var zero T
		return zero, notFound(what, id)
	}
	return v, err
}
