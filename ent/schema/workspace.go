package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// Workspace registers where a tenant's data lives: the shared (pool) tables,
// or its own PostgreSQL schema or SQLite file (silo). One per tenant.
type Workspace struct{ ent.Schema }

// Mixin of the Workspace.
func (Workspace) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Workspace.
func (Workspace) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Unique().Immutable(),
		field.Enum("isolation").GoType(tenantd.Isolation("")),
		field.String("location").Comment("pool: the shared tables; silo: schema name or file path"),
		field.Time("destroyed_at").Optional().Nillable(),
	}
}

// Annotations of the Workspace.
func (Workspace) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Workspace.
func (Workspace) Policy() ent.Policy { return tenantScopedPolicy() }
