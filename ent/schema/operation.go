package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// Operation is a long-running action on a tenant, carried out step by step by
// a River worker. Its row is the source of truth for progress.
type Operation struct{ ent.Schema }

// Mixin of the Operation.
func (Operation) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Operation.
func (Operation) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Immutable(),
		field.Enum("kind").GoType(tenantd.OperationKind("")).Immutable().
			Annotations(entgql.Type("OperationKind")),
		field.Enum("status").GoType(tenantd.OperationStatus("")).Default(string(tenantd.OpQueued)).
			Annotations(entgql.Type("OperationStatus"), entgql.OrderField("STATUS")),
		field.JSON("steps", []tenantd.OperationStep{}).
			Annotations(entgql.Type("[OperationStep!]")),
		field.Int("progress_done").Default(0).NonNegative().Annotations(entgql.Skip()),
		field.Int("progress_total").Default(0).NonNegative().Annotations(entgql.Skip()),
		field.Int("attempt").Default(0).NonNegative(),
		field.String("error_code").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("error_message").Optional().Nillable().Annotations(entgql.Skip()),
		field.JSON("params", map[string]any{}).Optional().
			Annotations(entgql.Type("Map")).
			Comment("what the operation was asked to do, e.g. the target plan"),
		field.JSON("result", map[string]any{}).Optional().
			Annotations(entgql.Type("Map")),
		field.String("requested_by"),
		field.String("idempotency_key").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int64("job_id").Optional().Nillable().Annotations(entgql.Skip()).
			Comment("the River job carrying the operation"),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
	}
}

// Edges of the Operation.
func (Operation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("tenant", Tenant.Type).Ref("operations").Field("tenant_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of the Operation.
func (Operation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "created_at"),
		index.Fields("kind", "status"),
	}
}

// Annotations of the Operation.
func (Operation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of the Operation.
func (Operation) Policy() ent.Policy {
	return tenantScopedPolicy()
}
