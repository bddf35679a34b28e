package graph

import (
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/tenant"
)

// tenantFilter is the tenants connection's filter: where, and unless where
// names synthetic at its top level (synthetic or syntheticNEQ), only the
// real tenants: readiness checks' and load tests' synthetic tenants are
// left out of the list by default. where: {synthetic: true} lists them.
func tenantFilter(where *ent.TenantWhereInput) func(*ent.TenantQuery) (*ent.TenantQuery, error) {
	return func(q *ent.TenantQuery) (*ent.TenantQuery, error) {
		q, err := where.Filter(q)
		if err != nil {
			return nil, err
		}
		if where == nil || (where.Synthetic == nil && where.SyntheticNEQ == nil) {
			q = q.Where(tenant.Synthetic(false))
		}
		return q, nil
	}
}
