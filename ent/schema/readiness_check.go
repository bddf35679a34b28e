package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// ReadinessCheck is the result of one readiness check in one run.
type ReadinessCheck struct{ ent.Schema }

// Mixin of the ReadinessCheck.
func (ReadinessCheck) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the ReadinessCheck.
func (ReadinessCheck) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("run_id", uuid.UUID{}).Immutable(),
		field.String("name").Immutable(),
		field.Enum("status").Values("PASS", "WARN", "FAIL").Immutable(),
		field.String("summary").Immutable(),
		field.JSON("evidence", map[string]any{}).Optional().Immutable(),
		field.Time("started_at").Immutable(),
		field.Int("duration_ms").Immutable(),
	}
}

// Indexes of the ReadinessCheck.
func (ReadinessCheck) Indexes() []ent.Index {
	return []ent.Index{index.Fields("started_at"), index.Fields("run_id")}
}

// Annotations of the ReadinessCheck.
func (ReadinessCheck) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ReadinessCheck.
func (ReadinessCheck) Policy() ent.Policy { return systemOnlyPolicy() }
