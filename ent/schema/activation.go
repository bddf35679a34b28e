package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Activation is a tenant's way through the activation funnel: when it
// reached each milestone. One row per (non-synthetic) tenant, written in the
// transactions of the milestones themselves; the funnel's drop-off lists
// read it.
type Activation struct{ ent.Schema }

// Fields of the Activation.
func (Activation) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Immutable().Comment("the tenant id"),
		field.String("plan_key").Immutable().Comment("the plan at signup: the funnel's plan filter"),
		field.Time("signed_up_at").Immutable(),
		field.Time("provisioned_at").Optional().Nillable(),
		field.Time("first_upload_at").Optional().Nillable(),
		field.Time("first_query_at").Optional().Nillable(),
	}
}

// Indexes of the Activation: one partial index per drop-off list, so that
// "stuck at step S, oldest first" reads only the stuck tenants.
func (Activation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("signed_up_at"),
		index.Fields("signed_up_at").StorageKey("activation_stuck_signed_up").
			Annotations(entsql.IndexWhere("provisioned_at IS NULL")),
		index.Fields("signed_up_at").StorageKey("activation_stuck_provisioned").
			Annotations(entsql.IndexWhere("provisioned_at IS NOT NULL AND first_upload_at IS NULL")),
		index.Fields("signed_up_at").StorageKey("activation_stuck_first_upload").
			Annotations(entsql.IndexWhere("first_upload_at IS NOT NULL AND first_query_at IS NULL")),
	}
}

// Annotations of the Activation.
func (Activation) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Activation.
func (Activation) Policy() ent.Policy { return systemOnlyPolicy() }
