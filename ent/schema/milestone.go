package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Milestone records a step of a tenant's activation, once per tenant, in the
// transaction of the act itself.
type Milestone struct{ ent.Schema }

// Mixin of the Milestone.
func (Milestone) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the Milestone.
func (Milestone) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Immutable(),
		field.Enum("name").Values("signed_up", "provisioned", "first_upload", "first_query").Immutable(),
		field.Time("occurred_at").Default(Unset).Immutable(),
	}
}

// Indexes of the Milestone.
func (Milestone) Indexes() []ent.Index {
	return []ent.Index{index.Fields("tenant_id", "name").Unique(), index.Fields("name", "occurred_at")}
}

// Annotations of the Milestone.
func (Milestone) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Milestone.
func (Milestone) Policy() ent.Policy { return tenantScopedPolicy() }
