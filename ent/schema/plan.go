package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/tenantd/tenantd/ent/privacy"

	"github.com/tenantd/tenantd"
)

// Plan is a price plan. The four plans are seeded at start; a plan's
// isolation decides where its tenants' data lives (pool or silo).
type Plan struct{ ent.Schema }

// Mixin of the Plan.
func (Plan) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Plan.
func (Plan) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").Unique().Immutable().NotEmpty().
			Comment("stable identifier used by the API: free, starter, pro, enterprise"),
		field.String("name").NotEmpty(),
		field.Enum("isolation").GoType(tenantd.Isolation("")).
			Annotations(entgql.Type("Isolation")),
		field.Int("price_cents").NonNegative().Default(0),
		field.Int("position").Default(0).Comment("display order"),
		field.Int("max_documents").Optional().Nillable().Comment("nil: unlimited"),
		field.Int64("max_storage_bytes").Optional().Nillable().Comment("nil: unlimited"),
		field.Int("max_queries_per_month").Optional().Nillable().Comment("nil: unlimited"),
	}
}

// Edges of the Plan.
func (Plan) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("tenants", Tenant.Type).Ref("plan").Annotations(entgql.Skip()),
	}
}

// Annotations of the Plan.
func (Plan) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField("plans").Description("The price plans, in display order.")}
}

// Policy of the Plan.
func (Plan) Policy() ent.Policy {
	// Plans are public: the signup page lists them before anyone signs in.
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysAllowRule()},
		Mutation: privacy.MutationPolicy{allowSystem(), privacy.AlwaysDenyRule()},
	}
}
