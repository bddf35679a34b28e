package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// OutboxMessage is an email written in the business transaction that wants
// it sent (the transactional outbox). A River job delivers it afterwards.
type OutboxMessage struct{ ent.Schema }

// Mixin of the OutboxMessage.
func (OutboxMessage) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the OutboxMessage.
func (OutboxMessage) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Optional().Nillable().Immutable(),
		field.String("kind").Immutable().Comment("e.g. signup_confirmation"),
		field.String("dedupe_key").Unique().Immutable().
			Comment("one message per key, however often it is enqueued"),
		field.String("message_id").Immutable().Comment("RFC 5322 Message-ID, stable across delivery attempts"),
		field.String("to_address").Immutable(),
		field.String("subject").Immutable(),
		field.Text("text_body").Immutable(),
		field.Enum("status").Values("PENDING", "SENT", "FAILED").Default("PENDING"),
		field.Int("attempts").Default(0).NonNegative(),
		field.String("last_error").Optional().Nillable(),
		field.Time("sent_at").Optional().Nillable(),
	}
}

// Indexes of the OutboxMessage.
func (OutboxMessage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("tenant_id"), index.Fields("status", "created_at")}
}

// Annotations of the OutboxMessage.
func (OutboxMessage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the OutboxMessage.
func (OutboxMessage) Policy() ent.Policy { return systemOnlyPolicy() }
