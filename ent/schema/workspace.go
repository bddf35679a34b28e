package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// Workspace is a tenant's placement: where its data lives — the shared
// (pool) tables, or its own PostgreSQL schema or SQLite file (silo). One
// per tenant. The placement can change: every request reads it (one
// indexed row) in its own transaction, so that every replica follows a
// move the moment it commits. During a move the target is recorded beside
// the placement; the switch makes it the placement and counts a
// generation.
type Workspace struct{ ent.Schema }

// Mixin of the Workspace.
func (Workspace) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Workspace.
func (Workspace) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Unique().Immutable(),
		field.Enum("isolation").GoType(tenantd.Isolation("")),
		field.String("location").Comment("pool: the shared tables; silo: schema name or file path"),
		field.Int("generation").Default(1).Positive().
			Comment("counts the changes of placement: 1 when made, one more at each switch of a move"),
		field.Enum("target_isolation").GoType(tenantd.Isolation("")).Optional().Nillable().
			Comment("during a move: the isolation of the workspace being filled; nil when no move is under way"),
		field.String("target_location").Optional().Nillable().
			Comment("during a move: the location of the workspace being filled"),
		field.Time("destroyed_at").Optional().Nillable(),
	}
}

// Annotations of the Workspace.
func (Workspace) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Workspace.
func (Workspace) Policy() ent.Policy { return tenantScopedPolicy() }
