package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"github.com/tenantd/tenantd/ent/privacy"
)

// AdminToken is an operator's token: ADMIN may do everything, PARTNER may
// read every tenant and change nothing. Only the SHA-256 of the secret is kept.
type AdminToken struct{ ent.Schema }

// Mixin of the AdminToken.
func (AdminToken) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the AdminToken.
func (AdminToken) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("role").Values("ADMIN", "PARTNER").Annotations(entgql.Type("AdminRole")),
		field.String("name").MaxLen(100),
		field.String("prefix").Immutable(),
		field.String("secret_hash").Unique().Immutable().Sensitive().Annotations(entgql.Skip()),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Policy of the AdminToken.
func (AdminToken) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem(), allowAdmins(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{allowSystem(), privacy.AlwaysDenyRule()},
	}
}
