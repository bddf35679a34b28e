package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
	"github.com/tenantd/tenantd/ent/privacy"

	"github.com/tenantd/tenantd"
)

// StateTransition is one row of a tenant's append-only, hash-chained history.
// Rows are written by internal/lifecycle only and never updated or deleted.
type StateTransition struct{ ent.Schema }

// Mixin of the StateTransition.
func (StateTransition) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the StateTransition.
func (StateTransition) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Immutable(),
		field.Int("seq").Positive().Immutable().
			Annotations(entgql.OrderField("SEQ")).
			Comment("per-tenant, gap-free, starting at 1"),
		field.Enum("event").GoType(tenantd.Event("")).Immutable().
			Annotations(entgql.Type("LifecycleEvent")),
		field.Enum("from_state").GoType(tenantd.State("")).Optional().Nillable().Immutable().
			Annotations(entgql.Type("TenantState")).
			Comment("nil for signup"),
		field.Enum("to_state").GoType(tenantd.State("")).Immutable().
			Annotations(entgql.Type("TenantState")),
		field.Enum("triggered_by").GoType(tenantd.Trigger("")).Immutable().
			Annotations(entgql.Type("TriggeredBy")),
		field.String("actor").Immutable().Comment("token prefix or worker name; never personal data"),
		field.String("reason").Default("").Immutable().
			Comment("free text that may hold personal data: erasable (chain version 2), committed to by text_hash"),
		field.JSON("metadata", map[string]any{}).Optional().Immutable().
			Annotations(entgql.Type("Map")).
			Comment("structured facts, never personal data: inside the hash"),
		field.JSON("private", map[string]any{}).Optional().Immutable().
			Annotations(entgql.Skip()).
			Comment("details that may hold personal data (a comment, a display name): erasable like reason"),
		field.Int("chain_version").Default(1).Immutable().Annotations(entgql.Skip()).
			Comment("1: reason and metadata inside the hash; 2: reason and private committed to by text_hash"),
		field.String("text_salt").Default("").Immutable().Annotations(entgql.Skip()).
			Comment("random salt of text_hash; erased with the text"),
		field.String("text_hash").Default("").Immutable().Annotations(entgql.Skip()).
			Comment("hex SHA-256 over text_salt and the canonical reason and private: what the chain holds of the text"),
		field.Time("erased_at").Optional().Nillable().Immutable().Annotations(entgql.Skip()).
			Comment("when the erasable text was erased (purge)"),
		field.Time("occurred_at").Default(Unset).Immutable().
			Annotations(entgql.OrderField("OCCURRED_AT")),
		field.String("prev_hash").Immutable().Comment("hash of the previous row; empty for seq 1"),
		field.String("hash").Immutable().Comment("hex SHA-256 over prev_hash and the canonical row"),
	}
}

// Edges of the StateTransition.
func (StateTransition) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("tenant", Tenant.Type).Ref("transitions").Field("tenant_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of the StateTransition.
func (StateTransition) Indexes() []ent.Index {
	return []ent.Index{
		// The unique (tenant, seq) pair is the last wall against a forked chain.
		index.Fields("tenant_id", "seq").Unique(),
		index.Fields("occurred_at"),
	}
}

// Annotations of the StateTransition.
func (StateTransition) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Hooks of the StateTransition: see hooks.go.
func (StateTransition) Hooks() []ent.Hook { return []ent.Hook{onlyLifecycleWritesHistory()} }

// Policy of the StateTransition.
func (StateTransition) Policy() ent.Policy {
	return privacy.Policy{
		Query: tenantScopedPolicy().Query,
		Mutation: privacy.MutationPolicy{
			// The history is append-only: not even tenantd itself updates or deletes it.
			privacy.DenyMutationOperationRule(ent.OpUpdate | ent.OpUpdateOne | ent.OpDelete | ent.OpDeleteOne),
			allowSystem(),
			privacy.AlwaysDenyRule(),
		},
	}
}
