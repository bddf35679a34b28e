package server_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const createCampaignMutation = `mutation($in: CreateWinBackCampaignInput!) { createWinBackCampaign(input: $in) {
  campaign { id name status segment { canceledWithinDays plans feedback } offer { percentOff durationMonths }
    steps { afterDays subject body } createdBy } } }`

func campaignInput(edit func(in map[string]any)) map[string]any {
	in := map[string]any{
		"name":    "Come back in spring",
		"segment": map[string]any{"canceledWithinDays": 90, "plans": []string{"starter", "pro"}, "feedback": []string{"too_expensive"}},
		"offer":   map[string]any{"percentOff": 30, "durationMonths": 3},
		"steps": []map[string]any{
			{"afterDays": 1, "subject": "We miss you, {{tenantName}}", "body": "{{offer}} off: {{reactivateUrl}}\nUnsubscribe: {{unsubscribeUrl}}"},
			{"afterDays": 7, "subject": "Still {{offer}} off", "body": "Your {{planName}} workspace waits: {{reactivateUrl}}"},
			{"afterDays": 30, "subject": "Last chance", "body": "{{reactivateUrl}}"},
		},
	}
	if edit != nil {
		edit(in)
	}
	return map[string]any{"in": in}
}

// TestWinBackCampaigns: an admin creates a campaign — validated whole
// before it is stored — lists it as a Relay connection and pauses it; a
// partner may list but not create; a tenant key may do neither. Each bad
// input is INVALID_INPUT naming the field, and stores nothing.
func TestWinBackCampaigns(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	sys := tenantd.SystemContext(context.Background())
	a := activeTenant(t, srv, "campaign-viewer", "starter")

	step := func(i int, k string, v any) func(map[string]any) {
		return func(in map[string]any) { in["steps"].([]map[string]any)[i][k] = v }
	}
	for _, bad := range []struct {
		field string
		edit  func(map[string]any)
	}{
		{"name", func(in map[string]any) { in["name"] = "  " }},
		{"segment", func(in map[string]any) { in["segment"] = map[string]any{} }},
		{"segment.canceledWithinDays", func(in map[string]any) { in["segment"] = map[string]any{"canceledWithinDays": 400} }},
		{"segment.plans", func(in map[string]any) { in["segment"].(map[string]any)["plans"] = []string{"platinum"} }},
		{"offer.percentOff", func(in map[string]any) { in["offer"] = map[string]any{"percentOff": -5, "durationMonths": 3} }},
		{"offer.percentOff", func(in map[string]any) { in["offer"] = map[string]any{"percentOff": 101, "durationMonths": 3} }},
		{"offer.durationMonths", func(in map[string]any) { in["offer"] = map[string]any{"percentOff": 10, "durationMonths": 0} }},
		{"steps", func(in map[string]any) { in["steps"] = []map[string]any{} }},
		{"steps[1].afterDays", step(1, "afterDays", 1)},
		{"steps[2].afterDays", step(2, "afterDays", 91)},
		{"steps[0].subject", step(0, "subject", "Hi {{firstName}}")},
		{"steps[1].body", step(1, "body", "broken {{reactivateUrl")},
		{"steps[2].body", step(2, "body", "")},
	} {
		r := srv.Do(t, admin, createCampaignMutation, campaignInput(bad.edit))
		require.Equal(t, tenantd.EINVALID, r.Code(), "%s: %+v", bad.field, r.Errors)
		require.Equal(t, bad.field, r.Errors[0].Extensions["field"], r.Errors[0].Message)
	}
	n, err := srv.DB().Ent.WinBackCampaign.Query().Count(sys)
	require.NoError(t, err)
	require.Zero(t, n, "refused campaigns store nothing")

	partner, _, err := auth.New(srv.DB(), nil).CreateAdminToken(context.Background(), "PARTNER", "partner")
	require.NoError(t, err)
	require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, partner, createCampaignMutation, campaignInput(nil)).Code())
	require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, a.SignUp.APIKey, createCampaignMutation, campaignInput(nil)).Code())

	var c struct {
		CreateWinBackCampaign struct {
			Campaign struct {
				ID      uuid.UUID
				Name    string
				Status  string
				Segment struct {
					CanceledWithinDays int
					Plans, Feedback    []string
				}
				Offer struct{ PercentOff, DurationMonths int }
				Steps []struct {
					AfterDays     int
					Subject, Body string
				}
				CreatedBy string
			}
		}
	}
	srv.MustDo(t, admin, createCampaignMutation, campaignInput(nil), &c)
	camp := c.CreateWinBackCampaign.Campaign
	require.Equal(t, "ACTIVE", camp.Status)
	require.Equal(t, 90, camp.Segment.CanceledWithinDays)
	require.Equal(t, []string{"too_expensive"}, camp.Segment.Feedback)
	require.Equal(t, 30, camp.Offer.PercentOff)
	require.Len(t, camp.Steps, 3)
	require.Equal(t, "We miss you, {{tenantName}}", camp.Steps[0].Subject)

	list := `{ winBackCampaigns(first: 10) { totalCount edges { node { id name status } } } }`
	var l struct {
		WinBackCampaigns struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID     uuid.UUID
					Status string
				}
			}
		}
	}
	srv.MustDo(t, partner, list, nil, &l)
	require.Equal(t, 1, l.WinBackCampaigns.TotalCount)
	require.Equal(t, camp.ID, l.WinBackCampaigns.Edges[0].Node.ID)
	require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, a.SignUp.APIKey, list, nil).Code(), "campaigns are the operators'")

	pause := `mutation($id: ID!) { pauseWinBackCampaign(input: {id: $id}) { campaign { status pausedAt } } }`
	var p struct {
		PauseWinBackCampaign struct{ Campaign struct{ Status string } }
	}
	srv.MustDo(t, admin, pause, map[string]any{"id": camp.ID}, &p)
	require.Equal(t, "PAUSED", p.PauseWinBackCampaign.Campaign.Status)
	srv.MustDo(t, admin, pause, map[string]any{"id": camp.ID}, &p)
	require.Equal(t, "PAUSED", p.PauseWinBackCampaign.Campaign.Status, "pausing again changes nothing")
	require.Equal(t, tenantd.ENOTFOUND, srv.Do(t, admin, pause, map[string]any{"id": uuid.New()}).Code())
	require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, partner, pause, map[string]any{"id": camp.ID}).Code())
}
