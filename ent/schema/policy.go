package schema

import (
	"context"

	"entgo.io/ent/entql"

	"github.com/tenantd/tenantd/ent"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/privacy"
)

// The privacy rules are the first wall of tenant isolation: a TENANT viewer's
// queries are filtered to its own tenant in the database query itself, so an
// id of another tenant simply is not found. Writes go through capability
// packages, which authorize the caller and then act as SYSTEM; a viewer that
// is not SYSTEM cannot write through ent at all.

// allowSystem allows everything to tenantd's own work.
func allowSystem() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if v, ok := tenantd.ViewerFrom(ctx); ok && v.Role == tenantd.RoleSystem {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// allowOperators lets ADMIN and PARTNER viewers read everything.
func allowOperators() privacy.QueryRule {
	return privacy.QueryRuleFunc(func(ctx context.Context, _ entQuery) error {
		if v, ok := tenantd.ViewerFrom(ctx); ok && (v.Role == tenantd.RoleAdmin || v.Role == tenantd.RolePartner) {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// allowAdmins lets ADMIN viewers read.
func allowAdmins() privacy.QueryRule {
	return privacy.QueryRuleFunc(func(ctx context.Context, _ entQuery) error {
		if v, ok := tenantd.ViewerFrom(ctx); ok && v.Role == tenantd.RoleAdmin {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// filterToOwnTenant narrows a TENANT viewer's query to its own tenant. The
// filter is applied to the entity's tenant_id column, or to its id for the
// Tenant entity itself.
func filterToOwnTenant() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v, ok := tenantd.ViewerFrom(ctx)
		if !ok || v.Role != tenantd.RoleTenant {
			return privacy.Skip
		}
		switch f := f.(type) {
		case interface{ WhereTenantID(entql.ValueP) }:
			f.WhereTenantID(entql.ValueEQ(v.TenantID))
		case *ent.TenantFilter:
			f.WhereID(entql.ValueEQ(v.TenantID))
		default:
			return privacy.Denyf("tenant viewers cannot read %T", f)
		}
		return privacy.Allow
	})
}

// tenantScopedPolicy is the policy of every entity that belongs to a tenant.
func tenantScopedPolicy() privacy.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowSystem(),
			allowOperators(),
			filterToOwnTenant(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			allowSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// entQuery is the query argument of a generic rule.
type entQuery = ent.Query

// systemOnlyPolicy is the policy of tenantd's internal bookkeeping: only
// tenantd itself reads or writes it.
func systemOnlyPolicy() privacy.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{allowSystem(), privacy.AlwaysDenyRule()},
	}
}
