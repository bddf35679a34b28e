package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"
)

// KeySet is a tenant's service key material, issued once by provisioning:
// the key that signs its export download links and webhooks.
type KeySet struct{ ent.Schema }

// Mixin of the KeySet.
func (KeySet) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the KeySet.
func (KeySet) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Unique().Immutable(),
		field.Bytes("signing_key").Sensitive().Immutable(),
	}
}

// Annotations of the KeySet.
func (KeySet) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the KeySet.
func (KeySet) Policy() ent.Policy { return systemOnlyPolicy() }
