package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// WebhookEvent records a processed billing webhook event, so that each event
// id is acted on once however often the provider delivers it.
type WebhookEvent struct{ ent.Schema }

// Fields of the WebhookEvent.
func (WebhookEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").Immutable().NotEmpty().Comment("the provider's event id, e.g. evt_…"),
		field.String("provider").Immutable(),
		field.String("type").Immutable(),
		field.String("outcome").Immutable().Comment("what tenantd did, for the log"),
		field.Time("received_at").Default(Unset).Immutable(),
	}
}

// Annotations of the WebhookEvent.
func (WebhookEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the WebhookEvent.
func (WebhookEvent) Policy() ent.Policy { return systemOnlyPolicy() }
