package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Charge is the billing ledger: one row per subscription a billing provider
// created, keyed by the idempotency key tenantd passed on. It is the built-in
// test provider's own record and an audit of the Stripe provider's calls.
type Charge struct{ ent.Schema }

// Mixin of the Charge.
func (Charge) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Charge.
func (Charge) Fields() []ent.Field {
	return []ent.Field{
		field.String("provider").Immutable(),
		field.String("idempotency_key").Unique().Immutable(),
		field.String("customer_id").Immutable(),
		field.String("subscription_id").Immutable(),
		field.String("plan_key").Immutable(),
		field.Int("amount_cents").Immutable(),
	}
}

// Annotations of the Charge.
func (Charge) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Charge.
func (Charge) Policy() ent.Policy { return systemOnlyPolicy() }
