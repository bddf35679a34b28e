package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/tenantd/tenantd/ent/privacy"

	"github.com/tenantd/tenantd"
)

// TenantStateCount keeps the number of tenants per state, so that the state
// audit answers without scanning the tenants table. Each state is spread over
// a few slots (chosen from the tenant id) so that concurrent transitions of
// different tenants rarely wait on the same counter row.
type TenantStateCount struct{ ent.Schema }

// Fields of the TenantStateCount.
func (TenantStateCount) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("state").GoType(tenantd.State("")),
		field.Int("slot").NonNegative(),
		field.Int64("count").Default(0),
	}
}

// Indexes of the TenantStateCount.
func (TenantStateCount) Indexes() []ent.Index {
	return []ent.Index{index.Fields("state", "slot").Unique()}
}

// Annotations of the TenantStateCount.
func (TenantStateCount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the TenantStateCount.
func (TenantStateCount) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem(), allowOperators(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{allowSystem(), privacy.AlwaysDenyRule()},
	}
}
