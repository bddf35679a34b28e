package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/privacy"
)

// WinBackCampaign mails canceled tenants a sequence of steps with a signed
// reactivation link and a retention offer.
type WinBackCampaign struct{ ent.Schema }

// Mixin of the WinBackCampaign.
func (WinBackCampaign) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the WinBackCampaign.
func (WinBackCampaign) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").MaxLen(100).Annotations(entgql.OrderField("NAME")),
		field.Enum("status").Values("ACTIVE", "PAUSED").Default("ACTIVE").Annotations(entgql.OrderField("STATUS")),
		field.JSON("segment", tenantd.WinBackSegment{}).Annotations(entgql.Skip()),
		field.Int("offer_percent_off").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("offer_duration_months").Optional().Nillable().Annotations(entgql.Skip()),
		field.JSON("steps", []tenantd.WinBackStep{}).Annotations(entgql.Skip()),
		field.String("created_by").Comment("the actor who made it, as the audit trail names them"),
		field.Time("paused_at").Optional().Nillable(),
		field.JSON("progress", []tenantd.WinBackProgress{}).Optional().Annotations(entgql.Skip()).
			Comment("the sweep's watermark per step, in step order"),
	}
}

// Indexes of the WinBackCampaign.
func (WinBackCampaign) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status")}
}

// Annotations of the WinBackCampaign.
func (WinBackCampaign) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("winBackCampaigns").Description("Win-back campaigns, newest first unless orderBy says otherwise (admin and partner tokens)."),
	}
}

// Policy of the WinBackCampaign: operators read, tenantd writes.
func (WinBackCampaign) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowSystem(), allowOperators(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{allowSystem(), privacy.AlwaysDenyRule()},
	}
}

// WinBackMessage is one mail of a campaign step to one tenant: at most one
// per (campaign, step, tenant), written in the transaction that puts the
// mail in the outbox. Its link's opening and the reactivation it brought
// are the campaign's figures.
type WinBackMessage struct{ ent.Schema }

// Mixin of the WinBackMessage.
func (WinBackMessage) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the WinBackMessage.
func (WinBackMessage) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("campaign_id", uuid.UUID{}).Immutable(),
		field.Int("step").NonNegative().Immutable(),
		field.UUID("tenant_id", uuid.UUID{}).Immutable(),
		field.Time("sent_at").Immutable().Comment("when the mail was put in the outbox"),
		field.Time("link_expires_at").Immutable(),
		field.Time("opened_at").Optional().Nillable().Comment("the first time the reactivation link was opened"),
		field.Time("converted_at").Optional().Nillable().Comment("when a reactivation through the link completed"),
		field.UUID("operation_id", uuid.UUID{}).Optional().Nillable().Comment("the REACTIVATE operation the link started"),
		field.Int64("recovered_cents").Optional().Nillable().Comment("monthly price of the plan won back"),
	}
}

// Indexes of the WinBackMessage.
func (WinBackMessage) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("campaign_id", "step", "tenant_id").Unique(),
		index.Fields("tenant_id"),
	}
}

// Annotations of the WinBackMessage.
func (WinBackMessage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the WinBackMessage.
func (WinBackMessage) Policy() ent.Policy { return systemOnlyPolicy() }
