package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// Tenant is a customer workspace and its lifecycle state. Only
// internal/lifecycle writes state, state_before_deletion and the history
// head fields; a schema hook rejects any other writer.
type Tenant struct{ ent.Schema }

// Mixin of the Tenant.
func (Tenant) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Tenant.
func (Tenant) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxLen(200).
			Annotations(entgql.OrderField("NAME")).
			Comment("display name; wiped when the tenant is purged"),
		field.String("slug").Optional().Nillable().Unique().MaxLen(63).
			Annotations(entgql.OrderField("SLUG")).
			Comment("URL name; nil once purged (the tombstone keeps slug_hash)"),
		field.String("slug_hash").Immutable().
			Comment("hex SHA-256 of the slug, kept in the tombstone").
			Annotations(entgql.Skip()),
		field.String("email").Optional().Nillable().MaxLen(254).
			Comment("owner's email; wiped when the tenant is purged"),
		field.Enum("state").GoType(tenantd.State("")).Default(string(tenantd.StatePending)).
			Annotations(entgql.Type("TenantState"), entgql.OrderField("STATE")),
		field.Enum("state_before_deletion").GoType(tenantd.State("")).Optional().Nillable().
			Annotations(entgql.Type("TenantState")).
			Comment("where restore returns to"),
		field.Time("state_changed_at").Default(Unset).
			Annotations(entgql.OrderField("STATE_CHANGED_AT")),
		field.UUID("plan_id", uuid.UUID{}),
		field.Int("history_seq").Default(0).NonNegative().
			Comment("seq of the newest state_transitions row of this tenant").
			Annotations(entgql.Skip()),
		field.String("history_head").Default("").
			Comment("hash of the newest state_transitions row of this tenant").
			Annotations(entgql.Skip()),
		field.String("billing_customer_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("billing_subscription_id").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("purge_after").Optional().Nillable().
			Comment("end of the retention window while PENDING_DELETION"),
		field.Time("purged_at").Optional().Nillable(),
		field.String("scheduled_plan_key").Optional().Nillable().MaxLen(32).
			Comment("the plan of a PERIOD_END plan change waiting for its time").
			Annotations(entgql.Skip()),
		field.Time("scheduled_plan_at").Optional().Nillable().
			Comment("when the scheduled plan change applies: the end of the billing period").
			Annotations(entgql.Skip()),
		field.Time("scheduled_plan_requested_at").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("scheduled_plan_requested_by").Optional().Nillable().MaxLen(200).
			Comment("the actor who asked for it, as the audit trail names them").
			Annotations(entgql.Skip()),
		field.Enum("scheduled_plan_trigger").GoType(tenantd.Trigger("")).Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Time("scheduled_cancel_at").Optional().Nillable().
			Comment("when a cancellation scheduled for the end of the billing period applies").
			Annotations(entgql.Skip()),
		field.Enum("scheduled_cancel_feedback").Values("customer_service", "low_quality", "missing_features", "other",
			"switched_service", "too_complex", "too_expensive", "unused").Optional().Nillable().
			Comment("the customer's reason for the scheduled cancellation (Stripe's feedback values)").
			Annotations(entgql.Skip()),
		field.Time("scheduled_cancel_requested_at").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("scheduled_cancel_requested_by").Optional().Nillable().MaxLen(200).
			Comment("the actor who asked, as the audit trail names them").
			Annotations(entgql.Skip()),
		field.Time("paused_until").Optional().Nillable().
			Comment("a paused (SUSPENDED) tenant resumes by itself at this time").
			Annotations(entgql.Skip()),
		field.Enum("cancel_feedback").Values("customer_service", "low_quality", "missing_features", "other",
			"switched_service", "too_complex", "too_expensive", "unused").Optional().Nillable().
			Comment("the reason of the tenant's last cancellation, what win-back segments select on").
			Annotations(entgql.Skip()),
		field.Time("marketing_unsubscribed_at").Optional().Nillable().
			Comment("the owner unsubscribed from win-back and nudge mails").
			Annotations(entgql.Skip()),
		field.Bool("synthetic").Default(false).Immutable().
			Comment("a test tenant, made by a readiness check or a load test (signUp synthetic: true): kept out of the funnel, the counts and the lists by default"),
	}
}

// Edges of the Tenant.
func (Tenant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("plan", Plan.Type).Field("plan_id").Unique().Required(),
		edge.To("transitions", StateTransition.Type).
			Annotations(entgql.RelayConnection()),
		edge.To("operations", Operation.Type).
			Annotations(entgql.RelayConnection()),
		edge.To("api_keys", APIKey.Type).
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the Tenant.
func (Tenant) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("state", "state_changed_at"), // win-back sweeps read the canceled tenants by time
		index.Fields("created_at"),
		index.Fields("plan_id"),
		index.Fields("scheduled_plan_at"),
		index.Fields("purge_after"), // the purge sweep reads the due tenants only
		index.Fields("scheduled_cancel_at"),
		index.Fields("paused_until"),
		// tenantStateCounts subtracts the synthetic tenants' states, read
		// through this index (of synthetic tenants only).
		index.Fields("state").StorageKey("tenant_synthetic_state").Annotations(entsql.IndexWhere("synthetic")),
	}
}

// Annotations of the Tenant.
func (Tenant) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("tenants").Description("Tenants visible to the caller, newest first unless orderBy says otherwise. Synthetic tenants (readiness checks' and load tests') are left out unless where names synthetic: where: {synthetic: true} lists them."),
	}
}

// Hooks of the Tenant: see hooks.go.
func (Tenant) Hooks() []ent.Hook { return []ent.Hook{onlyLifecycleWritesState()} }

// Policy of the Tenant.
func (Tenant) Policy() ent.Policy {
	return tenantScopedPolicy()
}
