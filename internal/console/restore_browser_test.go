//go:build unix

package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
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
	id, key := activeTenant(t, srv, slug)
	srv.MustDo(t, key, `mutation($in: RequestTenantDeletionInput!) { requestTenantDeletion(input: $in) { tenant { state } } }`,
		map[string]any{"in": map[string]any{"tenantId": id, "confirmSlug": slug}}, nil)
	link := outboxLink(t, srv, id, "deletion_requested", "restore")

	b.node(t, 2*time.Minute, "restore.e2e.mjs", srv.URL, b.artifacts, link)

	sys := tenantd.SystemContext(context.Background())
	tn, err := srv.DB().Ent.Tenant.Get(sys, id)
	require.NoError(t, err)
	require.Equal(t, tenantd.StateActive, tn.State, "restored through the page")
	tr, err := srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id), statetransition.EventEQ(tenantd.EventRestore)).Only(sys)
	require.NoError(t, err)
	require.Equal(t, tenantd.TriggerUser, tr.TriggeredBy)
	b.atLeastShots(t, 4)
}
