package graph

import (
	"context"

	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/tenant"
)

// tenantFilter is the tenants connection's filter: where, and for
// operators, unless where names synthetic at its top level (synthetic or
// syntheticNEQ), only the real tenants: readiness checks' and load tests'
// synthetic tenants are left out of the list by default. where: {synthetic:
// true} lists them. A tenant key's list is its own tenant, synthetic or not.
func tenantFilter(ctx context.Context, where *ent.TenantWhereInput) func(*ent.TenantQuery) (*ent.TenantQuery, error) {
	return func(q *ent.TenantQuery) (*ent.TenantQuery, error) {
		q, err := where.Filter(q)
		if err != nil {
			return nil, err
		}
		if tenantView(ctx) {
			return q, nil
		}
		if where == nil || (where.Synthetic == nil && where.SyntheticNEQ == nil) {
			q = q.Where(tenant.Synthetic(false))
		}
		return q, nil
	}
}
