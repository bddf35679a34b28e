package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

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
