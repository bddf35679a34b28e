package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// BillingCall is the ledger of the billing calls a lifecycle operation makes
// after signup (cancel, reactivate, plan change, pause, purge, …): one row
// per call that took effect, keyed by the idempotency key the operation step
// passed. A second call with the key is answered from the row, so a step
// that runs twice calls the provider once in effect. It is the built-in
// test provider's record of its subscriptions and an audit of the Stripe
// provider's calls. Subscriptions themselves are created by signup and
// recorded as Charge rows.
type BillingCall struct{ ent.Schema }

// Mixin of the BillingCall.
func (BillingCall) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the BillingCall.
func (BillingCall) Fields() []ent.Field {
	return []ent.Field{
		field.String("provider").Immutable(),
		field.String("idempotency_key").Unique().Immutable(),
		field.Enum("call").
			Values("cancel", "undo_cancellation", "reactivate", "change_plan", "pause", "resume", "delete_customer").
			Immutable(),
		field.String("customer_id").Default("").Immutable(),
		field.String("subscription_id").Default("").Immutable().
			Comment("the subscription the call left behind: for a reactivation that subscribed anew, the new one"),
		field.String("request_hash").Immutable().
			Comment("hex SHA-256 of the call's canonical parameters, personal data left out: a key reused with other parameters is refused"),
		field.JSON("result", json.RawMessage{}).Immutable().
			Comment("the first call's answer, returned to every replay"),
		field.String("comment").Optional().Nillable().
			Comment("free text the customer wrote (a cancellation comment): personal data, erased when the customer is deleted"),
		field.Time("redacted_at").Optional().Nillable().
			Comment("when the customer's deletion erased this row's personal data"),
	}
}

// Indexes of the BillingCall.
func (BillingCall) Indexes() []ent.Index {
	return []ent.Index{
		// The test provider reads a subscription's latest state; deletion
		// redacts a customer's rows.
		index.Fields("subscription_id", "created_at"),
		index.Fields("customer_id"),
	}
}

// Annotations of the BillingCall.
func (BillingCall) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the BillingCall.
func (BillingCall) Policy() ent.Policy { return systemOnlyPolicy() }
