//go:build unix

package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestRestoreLinkInBrowser drives the console's public restore page in
// Chromium (clients/js/restore.e2e.mjs): a tenant asks for its own
// deletion, and the customer, signed out and with no key left, restores it
// through the deletion email's link, gets a new key once and signs in with
// it. Screenshots go to test-artifacts/console-restore/.
func TestRestoreLinkInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowserRun(t, "console-restore")
	srv := servertest.Start(t, storetest.SQLite)
	const slug = "restore-e2e"
	var a struct {
		SignUp struct {
			APIKey string
			Tenant struct{ ID uuid.UUID }
		}
	}
	srv.MustDo(t, "", `mutation($in: SignUpInput!) { signUp(input: $in) { apiKey tenant { id } } }`, map[string]any{"in": map[string]any{
		"name": "Restore E2E", "slug": slug, "email": "owner@" + slug + ".example.com",
		"plan": "starter", "paymentMethod": "pm_card_visa", "idempotencyKey": uuid.NewString(),
	}}, &a)
	id := a.SignUp.Tenant.ID
	sys := tenantd.SystemContext(context.Background())
	require.Eventually(t, func() bool {
		tn, err := srv.DB().Ent.Tenant.Get(sys, id)
		return err == nil && tn.State == tenantd.StateActive
	}, 30*time.Second, 20*time.Millisecond)
	srv.MustDo(t, a.SignUp.APIKey, `mutation($in: RequestTenantDeletionInput!) { requestTenantDeletion(input: $in) { tenant { state } } }`,
		map[string]any{"in": map[string]any{"tenantId": id, "confirmSlug": slug}}, nil)

	msg, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id), outboxmessage.Kind("deletion_requested")).Only(sys)
	require.NoError(t, err)
	link := ""
	for _, word := range strings.Fields(msg.TextBody) {
		if strings.Contains(word, "/#/restore?token=") {
			link = word
		}
	}
	require.NotEmpty(t, link, "a restore link in the email:\n%s", msg.TextBody)
	u, err := url.Parse(link)
	require.NoError(t, err)
	require.Equal(t, srv.URL, u.Scheme+"://"+u.Host, "the link points at the server")

	b.node(t, 2*time.Minute, "restore.e2e.mjs", srv.URL, b.artifacts, link)

	tn, err := srv.DB().Ent.Tenant.Get(sys, id)
	require.NoError(t, err)
	require.Equal(t, tenantd.StateActive, tn.State, "restored through the page")
	tr, err := srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id), statetransition.EventEQ(tenantd.EventRestore)).Only(sys)
	require.NoError(t, err)
	require.Equal(t, tenantd.TriggerUser, tr.TriggeredBy)
	b.atLeastShots(t, 4)
}
