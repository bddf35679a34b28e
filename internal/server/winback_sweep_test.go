package server_test

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/billingcall"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/winbackmessage"
	"github.com/tenantd/tenantd/internal/billing/stripemock"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const figuresQuery = `query($id: ID!) { node(id: $id) { ... on WinBackCampaign { nudge
  figures { total { eligible sent opened converted movedOn conversionRate recoveredMonthlyRevenueCents }
    steps { step afterDays eligible sent opened converted movedOn conversionRate recoveredMonthlyRevenueCents }
    conversionsByDay { day count } } } } }`

type stepFigures struct {
	Step, AfterDays, Eligible, Sent, Opened, Converted, MovedOn int
	ConversionRate                                              float64
	RecoveredMonthlyRevenueCents                                int
}

type figuresAnswer struct {
	Node struct {
		Nudge   bool
		Figures struct {
			Total            stepFigures
			Steps            []stepFigures
			ConversionsByDay []struct {
				Day   time.Time
				Count int
			}
		}
	}
}

const offerQuery = `query($t: String!) { winBackOffer(token: $t) { tenantName tenantState plan planName priceCents
  campaignName offer { percentOff durationMonths } expiresAt reactivated } }`

const reactivateLinkMutation = `mutation($t: String!, $pm: String) { reactivateFromWinBack(input: {token: $t, paymentMethod: $pm}) {
  tenant { id state } operation { id kind } apiKey } }`

const unsubscribeMutation = `mutation($t: String!) { unsubscribeWinBack(token: $t) { tenantName } }`

// winBackMail is a win-back mail in the outbox, with its links' tokens.
type winBackMail struct {
	subject, text                string
	reactivateToken, unsubscribe string
}

var tokenIn = regexp.MustCompile(`/#/(reactivate|unsubscribe)\?token=([A-Za-z0-9._%-]+)`)

// winBackMails returns the tenant's win-back mails, oldest first.
func winBackMails(t *testing.T, srv *servertest.Server, id uuid.UUID) []winBackMail {
	t.Helper()
	msgs, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id), outboxmessage.Kind("winback")).
		Order(outboxmessage.ByCreatedAt(), outboxmessage.ByID()).All(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	out := make([]winBackMail, len(msgs))
	for i, m := range msgs {
		out[i] = winBackMail{subject: m.Subject, text: m.TextBody}
		for _, l := range tokenIn.FindAllStringSubmatch(m.TextBody, -1) {
			if l[1] == "reactivate" {
				out[i].reactivateToken = l[2]
			} else {
				out[i].unsubscribe = l[2]
			}
		}
	}
	return out
}

// tamper changes one character of a token's signature.
func tamper(token string) string {
	b := []byte(token)
	i := len(b) - 3
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestWinBackSweepOverNinetyDays: a campaign of three steps (days 0, 7 and
// 30 after the cancellation) over a population canceled across 90 days on
// a fake clock. Each day the sweep runs three times at once; every step
// reaches each tenant in the segment on its day, exactly once (one message
// row, one outbox mail). A tenant that reactivated through its link, one
// that unsubscribed, one pending deletion get nothing more; one on another
// plan and one with another reason get nothing. The link shows the offer,
// reactivates with it as a coupon, counts as the conversion, and a second
// click changes nothing; a tampered, an expired or an unsubscribed
// tenant's link is FORBIDDEN and changes nothing. The figures add up.
func TestWinBackSweepOverNinetyDays(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			start := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
			clock := clockwork.NewFakeClockAt(start)
			srv := servertest.StartWith(t, k, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
			sys := tenantd.SystemContext(context.Background())

			var created struct {
				CreateWinBackCampaign struct{ Campaign struct{ ID uuid.UUID } }
			}
			srv.MustDo(t, admin, createCampaignMutation, campaignInput(func(in map[string]any) {
				in["segment"] = map[string]any{"canceledWithinDays": 90, "plans": []string{"starter"}, "feedback": []string{"too_expensive", "unused"}}
				in["steps"] = []map[string]any{
					{"afterDays": 0, "subject": "Day 0 {{tenantName}}", "body": "{{offer}}: {{reactivateUrl}}\n{{unsubscribeUrl}}"},
					{"afterDays": 7, "subject": "Day 7 {{tenantName}}", "body": "{{planName}}: {{reactivateUrl}}"},
					{"afterDays": 30, "subject": "Day 30 {{tenantName}}", "body": "{{reactivateUrl}}"},
				}
			}), &created)
			campID := created.CreateWinBackCampaign.Campaign.ID

			type churn struct {
				slug, plan, feedback string
				cancelDay            int
				id                   uuid.UUID
				key                  string
			}
			tenants := []*churn{
				{slug: "wb-a", plan: "starter", feedback: "too_expensive", cancelDay: 0},
				{slug: "wb-b", plan: "starter", feedback: "unused", cancelDay: 10},
				{slug: "wb-back", plan: "starter", feedback: "too_expensive", cancelDay: 20},  // reactivates on day 22
				{slug: "wb-unsub", plan: "starter", feedback: "too_expensive", cancelDay: 25}, // unsubscribes on day 26
				{slug: "wb-other", plan: "starter", feedback: "other", cancelDay: 40},         // not in the segment
				{slug: "wb-free", plan: "free", feedback: "too_expensive", cancelDay: 5},      // not in the segment
				{slug: "wb-del", plan: "starter", feedback: "too_expensive", cancelDay: 50},   // deletion requested on day 52
				{slug: "wb-h", plan: "starter", feedback: "unused", cancelDay: 60},
			}
			bySlug := map[string]*churn{}
			for _, c := range tenants {
				a := activeTenant(t, srv, c.slug, c.plan)
				c.id, c.key = a.SignUp.Tenant.ID, a.SignUp.APIKey
				bySlug[c.slug] = c
			}
			// want[day] are the (slug, step) mails of that day.
			stepDays := []int{0, 7, 30}
			want := map[int][]string{}
			mailed := func(slug string, steps ...int) {
				for _, s := range steps {
					d := bySlug[slug].cancelDay + stepDays[s]
					want[d] = append(want[d], slug+"#"+string(rune('0'+s)))
				}
			}
			mailed("wb-a", 0, 1, 2)
			mailed("wb-b", 0, 1, 2)
			mailed("wb-back", 0)
			mailed("wb-unsub", 0)
			mailed("wb-del", 0)
			mailed("wb-h", 0, 1, 2)
			slugOf := map[uuid.UUID]string{}
			for _, c := range tenants {
				slugOf[c.id] = c.slug
			}
			starterPrice := 0 // what the link's page shows
			reactivateCalls := func() int { return billingCalls(t, srv, billingcall.CallReactivate) }

			for day := 0; day <= 95; day++ {
				for _, c := range tenants {
					if c.cancelDay == day {
						srv.MustDo(t, c.key, cancelMutation, map[string]any{"in": map[string]any{
							"tenantId": c.id, "atPeriodEnd": false, "feedback": c.feedback}}, nil)
					}
				}
				switch day {
				case 22: // back through the day-0 link, with the offer
					c := bySlug["wb-back"]
					mails := winBackMails(t, srv, c.id)
					require.Len(t, mails, 1)
					var offer struct {
						WinBackOffer struct {
							TenantName, TenantState, Plan string
							PriceCents                    int
							Offer                         struct{ PercentOff, DurationMonths int }
							Reactivated                   bool
						}
					}
					srv.MustDo(t, "", offerQuery, map[string]any{"t": mails[0].reactivateToken}, &offer)
					require.Equal(t, "CANCELED", offer.WinBackOffer.TenantState)
					require.Equal(t, 30, offer.WinBackOffer.Offer.PercentOff)
					require.Equal(t, 3, offer.WinBackOffer.Offer.DurationMonths)
					require.Contains(t, mails[0].text, "30% off for 3 months")
					require.Positive(t, offer.WinBackOffer.PriceCents)
					starterPrice = offer.WinBackOffer.PriceCents

					before := reactivateCalls()
					r := srv.Do(t, "", reactivateLinkMutation, map[string]any{"t": tamper(mails[0].reactivateToken), "pm": "pm_card_visa"})
					require.Equal(t, tenantd.EFORBIDDEN, r.Code(), "a tampered link")
					var got struct {
						ReactivateFromWinBack struct {
							Tenant    struct{ State string }
							Operation struct{ Kind string }
							APIKey    string
						}
					}
					srv.MustDo(t, "", reactivateLinkMutation, map[string]any{"t": mails[0].reactivateToken, "pm": "pm_card_visa"}, &got)
					require.Equal(t, "REACTIVATE", got.ReactivateFromWinBack.Operation.Kind)
					require.NotEmpty(t, got.ReactivateFromWinBack.APIKey, "the new key, shown once")
					waitState(t, srv, c.id, tenantd.StateActive)
					op := finishedOp(t, srv, c.id, tenantd.OpReactivate)
					require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
					require.Contains(t, op.Result, "couponId", "the provider applied the offer as a coupon: %v", op.Result)
					require.Equal(t, before+1, reactivateCalls())
					r = srv.Do(t, "", reactivateLinkMutation, map[string]any{"t": mails[0].reactivateToken, "pm": "pm_card_visa"})
					require.Equal(t, tenantd.EINVALIDTRANSITION, r.Code(), "a second click")
					require.Contains(t, r.Errors[0].Message, "nothing was charged")
					require.Equal(t, before+1, reactivateCalls(), "the second click charges nothing")
					srv.MustDo(t, got.ReactivateFromWinBack.APIKey, `{ viewer { tenant { state } } }`, nil, nil)
				case 26: // unsubscribes through its link
					c := bySlug["wb-unsub"]
					mails := winBackMails(t, srv, c.id)
					require.Len(t, mails, 1)
					require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, "", unsubscribeMutation, map[string]any{"t": tamper(mails[0].unsubscribe)}).Code())
					for range 2 { // twice changes nothing
						var u struct{ UnsubscribeWinBack struct{ TenantName string } }
						srv.MustDo(t, "", unsubscribeMutation, map[string]any{"t": mails[0].unsubscribe}, &u)
						require.NotEmpty(t, u.UnsubscribeWinBack.TenantName)
					}
					r := srv.Do(t, "", reactivateLinkMutation, map[string]any{"t": mails[0].reactivateToken})
					require.Equal(t, tenantd.EFORBIDDEN, r.Code(), "an unsubscribed tenant's link")
					require.Contains(t, r.Errors[0].Message, "unsubscribed")
				case 31: // the day-0 link of wb-a has expired (30 days)
					mails := winBackMails(t, srv, bySlug["wb-a"].id)
					r := srv.Do(t, "", reactivateLinkMutation, map[string]any{"t": mails[0].reactivateToken, "pm": "pm_card_visa"})
					require.Equal(t, tenantd.EFORBIDDEN, r.Code(), "an expired link")
					require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, "", offerQuery, map[string]any{"t": mails[0].reactivateToken}).Code())
				case 52:
					srv.MustDo(t, admin, requestDeletionMutation, deletionInput(bySlug["wb-del"].id, "wb-del", 90), nil)
				}

				clock.Advance(2 * time.Minute)
				var wg sync.WaitGroup
				for range 3 { // replicas sweeping together
					wg.Go(func() {
						_, err := srv.WinBack().Sweep(context.Background())
						require.NoError(t, err)
					})
				}
				wg.Wait()
				dayStart := start.Add(time.Duration(day) * 24 * time.Hour)
				msgs, err := srv.DB().Ent.WinBackMessage.Query().Where(winbackmessage.CampaignID(campID),
					winbackmessage.SentAtGTE(dayStart), winbackmessage.SentAtLT(dayStart.Add(24*time.Hour))).All(sys)
				require.NoError(t, err)
				var got []string
				for _, m := range msgs {
					got = append(got, slugOf[m.TenantID]+"#"+string(rune('0'+m.Step)))
				}
				sort.Strings(got)
				exp := append([]string(nil), want[day]...)
				sort.Strings(exp)
				require.Equal(t, exp, got, "day %d", day)
				clock.Advance(24*time.Hour - 2*time.Minute)
			}

			// Exactly once: one row and one mail per (tenant, step), in all.
			total := 0
			for _, c := range tenants {
				rows, err := srv.DB().Ent.WinBackMessage.Query().Where(winbackmessage.TenantID(c.id)).Count(sys)
				require.NoError(t, err)
				mails := winBackMails(t, srv, c.id)
				require.Len(t, mails, rows, c.slug)
				seen := map[string]bool{}
				for _, m := range mails {
					require.False(t, seen[m.subject[:6]], "%s: %q twice", c.slug, m.subject)
					seen[m.subject[:6]] = true
					require.NotEmpty(t, m.unsubscribe, "%s: every mail has an unsubscribe link", c.slug)
					require.True(t, strings.HasPrefix(m.subject, "Day "), m.subject)
				}
				total += rows
			}
			wantTotal := 0
			for _, v := range want {
				wantTotal += len(v)
			}
			require.Equal(t, wantTotal, total)

			var f figuresAnswer
			srv.MustDo(t, admin, figuresQuery, map[string]any{"id": campID}, &f)
			fig := f.Node.Figures
			require.False(t, f.Node.Nudge)
			require.Len(t, fig.Steps, 3)
			// Step 0: a, b, back, unsub, del, h (other and free are not in the segment).
			require.Equal(t, 6, fig.Steps[0].Eligible)
			require.Equal(t, 6, fig.Steps[0].Sent)
			require.Equal(t, 1, fig.Steps[0].Opened)
			require.Equal(t, 1, fig.Steps[0].Converted)
			require.InDelta(t, 1.0/6, fig.Steps[0].ConversionRate, 1e-9)
			require.Equal(t, starterPrice, fig.Steps[0].RecoveredMonthlyRevenueCents, "starter's monthly price (at list price: the discount ends)")
			// Steps 1 and 2: a, b, h sent; unsub eligible but skipped.
			for _, s := range fig.Steps[1:] {
				require.Equal(t, 4, s.Eligible, "step %d", s.Step)
				require.Equal(t, 3, s.Sent, "step %d", s.Step)
				require.Zero(t, s.Converted)
			}
			require.Equal(t, 6, fig.Total.Sent, "tenants mailed")
			require.Equal(t, 1, fig.Total.Converted)
			require.Len(t, fig.ConversionsByDay, 1)
			require.Equal(t, 1, fig.ConversionsByDay[0].Count)
			require.Equal(t, start.Add(22*24*time.Hour).Truncate(24*time.Hour), fig.ConversionsByDay[0].Day.UTC())
		})
	}
}

// TestWinBackLinkAppliesTheCouponAtStripe: against stripe-mock, a
// reactivation through a win-back link creates the campaign's retention
// coupon at Stripe and puts it on the subscription (the operation records
// Stripe's coupon id); the mail counts as converted.
func TestWinBackLinkAppliesTheCouponAtStripe(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClockAt(time.Now().UTC().Truncate(time.Second))
	srv := servertest.StartWith(t, storetest.SQLite, []string{"TENANTD_SWEEP_INTERVAL=1h",
		"STRIPE_SECRET_KEY=sk_test_123", "STRIPE_API_BASE=" + stripemock.Start(t)}, []server.Option{server.WithClock(clock)})
	sys := tenantd.SystemContext(context.Background())
	srv.MustDo(t, admin, createCampaignMutation, campaignInput(func(in map[string]any) {
		in["segment"] = map[string]any{"canceledWithinDays": 30}
		in["steps"] = []map[string]any{{"afterDays": 0, "subject": "Come back", "body": "{{offer}}: {{reactivateUrl}}"}}
	}), nil)
	a := activeTenant(t, srv, "stripe-churn", "starter")
	id := a.SignUp.Tenant.ID
	srv.MustDo(t, a.SignUp.APIKey, cancelMutation, map[string]any{"in": map[string]any{"tenantId": id, "atPeriodEnd": false}}, nil)
	require.Equal(t, tenantd.OpSucceeded, finishedOp(t, srv, id, tenantd.OpCancel).Status)
	clock.Advance(2 * time.Minute)
	n, err := srv.WinBack().Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	mails := winBackMails(t, srv, id)
	require.Len(t, mails, 1)
	srv.MustDo(t, "", reactivateLinkMutation, map[string]any{"t": mails[0].reactivateToken, "pm": "pm_card_visa"}, nil)
	waitState(t, srv, id, tenantd.StateActive)
	op := finishedOp(t, srv, id, tenantd.OpReactivate)
	require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
	coupon, _ := op.Result["couponId"].(string)
	require.True(t, strings.HasPrefix(coupon, "tenantd_retention_"), "Stripe's coupon id: %v", op.Result)
	msg, err := srv.DB().Ent.WinBackMessage.Query().Where(winbackmessage.TenantID(id)).Only(sys)
	require.NoError(t, err)
	require.NotNil(t, msg.ConvertedAt, "the mail converted")
}

// TestActivationNudges: a nudge campaign for tenants stuck after
// provisioning (24 hours, then two days later) on a seeded funnel, swept
// every hour of the fake clock: the stuck tenant gets both mails once; one
// that uploads between the mails gets only the first and counts as moved
// on; one that uploads early gets none.
func TestActivationNudges(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Hour)
	clock := clockwork.NewFakeClockAt(start)
	srv := servertest.StartWith(t, storetest.SQLite, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
	sys := tenantd.SystemContext(context.Background())

	r := srv.Do(t, admin, createCampaignMutation, campaignInput(func(in map[string]any) {
		in["segment"] = map[string]any{"stuckAt": "PROVISIONED", "forHours": 24}
		in["steps"] = []map[string]any{{"afterDays": 0, "subject": "Your first upload", "body": "{{reactivateUrl}}"}}
	}))
	require.Equal(t, tenantd.EINVALID, r.Code(), "a nudge has no reactivation link")
	require.Equal(t, "offer", r.Errors[0].Extensions["field"], "nor an offer")
	r = srv.Do(t, admin, createCampaignMutation, campaignInput(func(in map[string]any) {
		delete(in, "offer")
		in["segment"] = map[string]any{"stuckAt": "PROVISIONED", "forHours": 0}
	}))
	require.Equal(t, "segment.forHours", r.Errors[0].Extensions["field"])

	var created struct {
		CreateWinBackCampaign struct{ Campaign struct{ ID uuid.UUID } }
	}
	srv.MustDo(t, admin, createCampaignMutation, campaignInput(func(in map[string]any) {
		delete(in, "offer")
		in["name"] = "First upload nudge"
		in["segment"] = map[string]any{"stuckAt": "PROVISIONED", "forHours": 24}
		in["steps"] = []map[string]any{
			{"afterDays": 0, "subject": "Nudge 1: upload to {{tenantName}}", "body": "Start here: {{consoleUrl}}\n{{unsubscribeUrl}}"},
			{"afterDays": 2, "subject": "Nudge 2: still empty", "body": "{{consoleUrl}}"},
		}
	}), &created)
	campID := created.CreateWinBackCampaign.Campaign.ID

	stuck := activeTenant(t, srv, "nudge-stuck", "starter")
	later := activeTenant(t, srv, "nudge-later", "starter")
	early := activeTenant(t, srv, "nudge-early", "starter")
	upload := func(key string) {
		srv.MustDo(t, key, uploadMutation, map[string]any{"t": "First", "c": "the first document"}, nil)
	}
	count := func(id uuid.UUID, step int) int {
		n, err := srv.DB().Ent.WinBackMessage.Query().Where(winbackmessage.CampaignID(campID), winbackmessage.TenantID(id),
			winbackmessage.Step(step)).Count(sys)
		require.NoError(t, err)
		return n
	}
	for hour := 1; hour <= 80; hour++ {
		clock.Advance(time.Hour)
		switch hour {
		case 1:
			upload(early.SignUp.APIKey)
		case 30:
			upload(later.SignUp.APIKey)
		}
		_, err := srv.WinBack().Sweep(context.Background())
		require.NoError(t, err)
		switch hour {
		case 23: // the provisioning milestone came a moment after start: not yet 24 hours
			require.Zero(t, count(stuck.SignUp.Tenant.ID, 0))
		case 25:
			require.Equal(t, 1, count(stuck.SignUp.Tenant.ID, 0))
			require.Equal(t, 1, count(later.SignUp.Tenant.ID, 0))
			require.Zero(t, count(early.SignUp.Tenant.ID, 0), "moved on before the first nudge")
		case 71:
			require.Zero(t, count(stuck.SignUp.Tenant.ID, 1))
		}
	}
	require.Equal(t, 1, count(stuck.SignUp.Tenant.ID, 0))
	require.Equal(t, 1, count(stuck.SignUp.Tenant.ID, 1), "the second nudge, on its day")
	require.Zero(t, count(later.SignUp.Tenant.ID, 1), "moved on: no more nudges")
	require.Zero(t, count(early.SignUp.Tenant.ID, 1))
	mails := winBackMails(t, srv, stuck.SignUp.Tenant.ID)
	require.Len(t, mails, 2)
	require.Contains(t, mails[0].subject, "nudge-stuck")
	require.Contains(t, mails[0].text, srv.URL+"/#/")

	var f figuresAnswer
	srv.MustDo(t, admin, figuresQuery, map[string]any{"id": campID}, &f)
	require.True(t, f.Node.Nudge)
	steps := f.Node.Figures.Steps
	require.Equal(t, 2, steps[0].Sent)
	require.Equal(t, 1, steps[0].MovedOn, "the tenant that uploaded after the first nudge")
	require.InDelta(t, 0.5, steps[0].ConversionRate, 1e-9)
	require.Equal(t, 1, steps[1].Sent)
	require.Zero(t, steps[1].MovedOn)
	require.Equal(t, 1, f.Node.Figures.Total.MovedOn)
}

// TestWinBackSweepKeepsToTheWindow: when no sweep ran for longer than the
// segment's canceledWithinDays (every replica down), the next sweep does
// not mail the steps that came due meanwhile to tenants that canceled
// outside the window; a tenant that canceled inside it gets its step.
func TestWinBackSweepKeepsToTheWindow(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClockAt(time.Now().UTC().Truncate(time.Second))
	srv := servertest.StartWith(t, storetest.SQLite, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
	srv.MustDo(t, admin, createCampaignMutation, campaignInput(func(in map[string]any) {
		in["segment"] = map[string]any{"canceledWithinDays": 10}
		in["offer"] = nil
		in["steps"] = []map[string]any{{"afterDays": 0, "subject": "Soon", "body": "{{reactivateUrl}}"},
			{"afterDays": 10, "subject": "Late", "body": "{{reactivateUrl}}"}}
	}), nil)
	cancel := func(slug string) uuid.UUID {
		a := activeTenant(t, srv, slug, "starter")
		srv.MustDo(t, a.SignUp.APIKey, cancelMutation, map[string]any{"in": map[string]any{
			"tenantId": a.SignUp.Tenant.ID, "atPeriodEnd": false, "feedback": "unused"}}, nil)
		return a.SignUp.Tenant.ID
	}
	old := cancel("window-old")
	clock.Advance(14 * 24 * time.Hour) // no sweep for two weeks
	recent := cancel("window-recent")
	// The server's own sweep also runs on the clock, so it may send a
	// step before this one does: the mails sent are counted, not what
	// this sweep returns. Once it returns, every sweep due has run (they
	// take turns on the campaign's lock).
	clock.Advance(2 * time.Minute)
	_, err := srv.WinBack().Sweep(context.Background())
	require.NoError(t, err)
	require.Empty(t, winBackMails(t, srv, old), "canceled 14 days ago: outside the 10-day window")
	require.Len(t, winBackMails(t, srv, recent), 1)
	clock.Advance(10 * 24 * time.Hour)
	_, err = srv.WinBack().Sweep(context.Background())
	require.NoError(t, err)
	require.Len(t, winBackMails(t, srv, recent), 2, "the day-10 step of the recent tenant, on its day")
	require.Empty(t, winBackMails(t, srv, old))
}
