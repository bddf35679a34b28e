//go:build unix

package console_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestWinBackInBrowser drives the console's win-back pages in Chromium
// (clients/js/winback.e2e.mjs) against a server on a fake clock: an admin
// creates a campaign through the form (its mistakes said at their fields
// first); two customers cancel; the sweep mails them; one reactivates
// through the mail's link, signed out, with the offer applied and its new
// key shown once, and the other unsubscribes through its link; the admin
// reads the figures per step and the chart, and pauses the campaign.
// Screenshots go to test-artifacts/console-winback/.
func TestWinBackInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowserRun(t, "console-winback")
	clock := clockwork.NewFakeClockAt(time.Now().UTC().Truncate(time.Second))
	srv := servertest.StartWith(t, storetest.SQLite, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
	admin := servertest.AdminToken

	out := b.node(t, 2*time.Minute, "winback.e2e.mjs", srv.URL, admin, b.artifacts, "create")
	m := regexp.MustCompile(`CAMPAIGN ([0-9a-f-]{36})`).FindStringSubmatch(out)
	require.NotNil(t, m, "the script prints the campaign it created")
	campaignID := m[1]

	back, leaver := canceledTenant(t, srv, "wb-e2e-back"), canceledTenant(t, srv, "wb-e2e-leave")
	clock.Advance(2 * time.Minute)
	sent, err := srv.WinBack().Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, sent, "the first step to both")

	b.node(t, 2*time.Minute, "winback.e2e.mjs", srv.URL, admin, b.artifacts, "links",
		mailLink(t, srv, back, "reactivate"), mailLink(t, srv, leaver, "unsubscribe"), campaignID)

	sys := tenantd.SystemContext(context.Background())
	for id, want := range map[uuid.UUID]tenantd.State{back: tenantd.StateActive, leaver: tenantd.StateCanceled} {
		tn, err := srv.DB().Ent.Tenant.Get(sys, id)
		require.NoError(t, err)
		require.Equal(t, want, tn.State)
		if id == leaver {
			require.NotNil(t, tn.MarketingUnsubscribedAt, "unsubscribed through the page")
		}
	}
	b.atLeastShots(t, 6)
}

// canceledTenant signs up an ACTIVE starter tenant and cancels it now, for
// being too expensive, with its own key.
func canceledTenant(t *testing.T, srv *servertest.Server, slug string) uuid.UUID {
	t.Helper()
	id, key := activeTenant(t, srv, slug)
	srv.MustDo(t, key, `mutation($in: CancelSubscriptionInput!) { cancelSubscription(input: $in) { tenant { state } } }`,
		map[string]any{"in": map[string]any{"tenantId": id, "atPeriodEnd": false, "feedback": "too_expensive"}}, nil)
	return id
}

// activeTenant signs up a starter tenant, waits until it is ACTIVE and
// returns its id and API key.
func activeTenant(t *testing.T, srv *servertest.Server, slug string) (uuid.UUID, string) {
	t.Helper()
	var a struct {
		SignUp struct {
			APIKey string
			Tenant struct{ ID uuid.UUID }
		}
	}
	srv.MustDo(t, "", `mutation($in: SignUpInput!) { signUp(input: $in) { apiKey tenant { id } } }`, map[string]any{"in": map[string]any{
		"name": "Tenant " + slug, "slug": slug, "email": "owner@" + slug + ".example.com",
		"plan": "starter", "paymentMethod": "pm_card_visa", "idempotencyKey": uuid.NewString(),
	}}, &a)
	id := a.SignUp.Tenant.ID
	sys := tenantd.SystemContext(context.Background())
	require.Eventually(t, func() bool {
		tn, err := srv.DB().Ent.Tenant.Get(sys, id)
		return err == nil && tn.State == tenantd.StateActive
	}, 30*time.Second, 20*time.Millisecond, "%s never became ACTIVE", slug)
	return id, a.SignUp.APIKey
}

// mailLink is the link of the given kind (reactivate, unsubscribe) in the
// tenant's win-back mail.
func mailLink(t *testing.T, srv *servertest.Server, id uuid.UUID, kind string) string {
	t.Helper()
	return outboxLink(t, srv, id, "winback", kind)
}

// outboxLink is the link to the console page (reactivate, unsubscribe,
// restore) in the tenant's one outbox mail of the given kind; it checks
// that the link points at the server.
func outboxLink(t *testing.T, srv *servertest.Server, id uuid.UUID, mailKind, page string) string {
	t.Helper()
	msg, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id), outboxmessage.Kind(mailKind)).
		Only(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	for _, word := range strings.Fields(msg.TextBody) {
		if strings.Contains(word, "/#/"+page+"?token=") {
			u, err := url.Parse(word)
			require.NoError(t, err)
			require.Equal(t, srv.URL, u.Scheme+"://"+u.Host, "the link points at the server")
			return word
		}
	}
	t.Fatalf("no %s link in the mail:\n%s", page, msg.TextBody)
	return ""
}
