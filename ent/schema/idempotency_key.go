package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/tenantd/tenantd/ent/privacy"
)

// IdempotencyKey remembers the answer to an effectful mutation, keyed by the
// caller's scope and the client's key, with Stripe's semantics.
type IdempotencyKey struct{ ent.Schema }

// Mixin of the IdempotencyKey.
func (IdempotencyKey) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the IdempotencyKey.
func (IdempotencyKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("key_hash").Unique().Immutable().Annotations(entgql.Skip()).
			Comment("hex SHA-256 of scope and the client's key; the key itself is not stored"),
		field.String("scope").Immutable().Comment("mutation name and caller"),
		field.String("request_hash").Immutable().Annotations(entgql.Skip()).
			Comment("hex SHA-256 of the canonical input"),
		field.Enum("status").Values("IN_PROGRESS", "COMPLETED").Default("IN_PROGRESS").
			Annotations(entgql.Type("IdempotencyKeyStatus")),
		field.Bytes("response").Optional().Sensitive().Annotations(entgql.Skip()).
			Comment("the stored answer, errors included, sealed with a key derived from the client's key"),
		field.String("owner").Annotations(entgql.Skip()).
			Comment("random token of the request that holds the key; only it may complete it"),
		field.Time("locked_until").Annotations(entgql.Skip()).
			Comment("an IN_PROGRESS key older than this was abandoned"),
		field.Time("expires_at"),
	}
}

// Indexes of the IdempotencyKey.
func (IdempotencyKey) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("expires_at"),
	}
}

// Annotations of the IdempotencyKey.
func (IdempotencyKey) Annotations() []schema.Annotation {
	// A Node for admins (what keys are held, for how long); its secrets —
	// hashes, the owner token, the sealed answer — stay out of the API.
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}

// Policy of the IdempotencyKey.
func (IdempotencyKey) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem(), allowAdmins(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{allowSystem(), privacy.AlwaysDenyRule()},
	}
}
