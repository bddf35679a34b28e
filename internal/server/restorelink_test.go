package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const restoreLinkQuery = `query($t: String!) { restoreLink(token: $t) { tenantName state purgeAfter } }`

const restoreFromLinkMutation = `mutation($t: String!) { restoreFromLink(input: {token: $t}) {
  tenant { id state purgeAfter } operation { kind } apiKey } }`

type restoreLinkAnswer struct {
	RestoreLink struct {
		TenantName string
		State      string
		PurgeAfter time.Time
	}
}

// restoreToken is the token of the restore link in the newest deletion
// email of the tenant; it checks that the link points at the server.
func restoreToken(t *testing.T, srv *servertest.Server, id uuid.UUID) string {
	t.Helper()
	sys := tenantd.SystemContext(context.Background())
	msgs, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id), outboxmessage.Kind("deletion_requested")).
		Order(outboxmessage.ByCreatedAt()).All(sys)
	require.NoError(t, err)
	require.NotEmpty(t, msgs)
	body := msgs[len(msgs)-1].TextBody
	for _, word := range strings.Fields(body) {
		if strings.Contains(word, "/#/restore?token=") {
			u, err := url.Parse(word)
			require.NoError(t, err)
			require.Equal(t, srv.URL, u.Scheme+"://"+u.Host, "the link points at the server")
			q, err := url.ParseQuery(strings.TrimPrefix(u.Fragment, "/restore?"))
			require.NoError(t, err)
			return q.Get("token")
		}
	}
	t.Fatalf("no restore link in the deletion email:\n%s", body)
	return ""
}

// TestRestoreThroughTheEmailLink: the email of a deletion the customer
// asked for carries a signed restore link, so a customer whose keys the
// deletion revoked takes it back itself. The link shows what it restores,
// restores once (as the customer, with a new key and the data intact), is
// refused tampered, is void for a later deletion, and says so once the
// tenant is purged or the link has expired — and a refused link changes
// nothing. An operator's deletion mails no link.
func TestRestoreThroughTheEmailLink(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			start := time.Now().UTC().Truncate(time.Second)
			clock := clockwork.NewFakeClockAt(start)
			srv := servertest.StartWith(t, k, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
			sys := tenantd.SystemContext(context.Background())
			slug := "restorer-" + string(k)
			a := activeTenant(t, srv, slug, "starter")
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
			srv.MustDo(t, key, uploadMutation, map[string]any{"t": "Kept", "c": "restored through the link"}, nil)
			var d deletionAnswer
			srv.MustDo(t, key, requestDeletionMutation, deletionInput(id, slug, 30), &d)
			finishedOp(t, srv, id, tenantd.OpDelete)
			token := restoreToken(t, srv, id)
			seq := func() int {
				tn, err := srv.DB().Ent.Tenant.Get(sys, id)
				require.NoError(t, err)
				return tn.HistorySeq
			}
			before := seq()

			var view restoreLinkAnswer
			srv.MustDo(t, "", restoreLinkQuery, map[string]any{"t": token}, &view)
			tn, err := srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			require.Equal(t, tn.Name, view.RestoreLink.TenantName)
			require.Equal(t, "PENDING_DELETION", view.RestoreLink.State)
			require.WithinDuration(t, d.RequestTenantDeletion.PurgeAfter, view.RestoreLink.PurgeAfter, time.Second)

			parts := strings.Split(token, ".")
			for _, bad := range []string{
				tamper(token), "", "x", strings.Repeat("a", 300),
				uuid.NewString() + "." + parts[1] + "." + parts[2], // another tenant
				parts[0] + ".9999999999." + parts[2],               // a later expiry
			} {
				for _, q := range []string{restoreLinkQuery, restoreFromLinkMutation} {
					r := srv.Do(t, "", q, map[string]any{"t": bad})
					require.Equal(t, tenantd.EFORBIDDEN, r.Code(), "%q: %+v", bad, r.Errors)
				}
			}
			require.Equal(t, before, seq(), "a refused link changes nothing")

			var rs struct {
				RestoreFromLink struct {
					Tenant struct {
						ID         uuid.UUID
						State      string
						PurgeAfter *time.Time
					}
					Operation struct{ Kind string }
					APIKey    string
				}
			}
			srv.MustDo(t, "", restoreFromLinkMutation, map[string]any{"t": token}, &rs)
			require.Equal(t, id, rs.RestoreFromLink.Tenant.ID)
			require.Equal(t, "ACTIVE", rs.RestoreFromLink.Tenant.State, "the answer resolves as the restored tenant")
			require.Nil(t, rs.RestoreFromLink.Tenant.PurgeAfter)
			require.Equal(t, "RESTORE", rs.RestoreFromLink.Operation.Kind)
			require.NotEmpty(t, rs.RestoreFromLink.APIKey)
			newKey := rs.RestoreFromLink.APIKey
			var docs struct {
				Documents struct {
					Edges []struct{ Node struct{ Content string } }
				}
			}
			srv.MustDo(t, newKey, `{ documents(first: 5) { edges { node { content } } } }`, nil, &docs)
			require.Len(t, docs.Documents.Edges, 1)
			require.Equal(t, "restored through the link", docs.Documents.Edges[0].Node.Content, "the data is intact")
			tr, err := srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id), statetransition.EventEQ(tenantd.EventRestore)).Only(sys)
			require.NoError(t, err)
			require.Equal(t, tenantd.TriggerUser, tr.TriggeredBy, "the customer restored it")
			require.Equal(t, "restore-link:"+id.String(), tr.Actor)
			restore := finishedOp(t, srv, id, tenantd.OpRestore)
			require.Equal(t, tenantd.OpSucceeded, restore.Status, "%v", restore.ErrorMessage)

			// A second use changes nothing; the page says it is restored.
			before = seq()
			r := srv.Do(t, "", restoreFromLinkMutation, map[string]any{"t": token})
			require.Equal(t, tenantd.EINVALIDTRANSITION, r.Code(), "%+v", r.Errors)
			require.Contains(t, r.Errors[0].Message, "restored already")
			require.Equal(t, before, seq())
			srv.MustDo(t, "", restoreLinkQuery, map[string]any{"t": token}, &view)
			require.Equal(t, "ACTIVE", view.RestoreLink.State)

			// A later deletion: the first email's link is void, the new
			// one works; then an admin purges at once.
			clock.Advance(2 * time.Hour)
			srv.MustDo(t, newKey, requestDeletionMutation, deletionInput(id, slug, 60), &d)
			finishedOp(t, srv, id, tenantd.OpDelete)
			second := restoreToken(t, srv, id)
			require.NotEqual(t, token, second)
			require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, "", restoreFromLinkMutation, map[string]any{"t": token}).Code(),
				"the link of an earlier deletion")
			srv.MustDo(t, "", restoreLinkQuery, map[string]any{"t": second}, &view)
			require.Equal(t, "PENDING_DELETION", view.RestoreLink.State)

			// An operator's deletion mails no link: only an operator takes it
			// back. (The admin restores first, so that it can delete.)
			srv.MustDo(t, admin, restoreMutation, map[string]any{"id": id}, nil)
			finishedOp(t, srv, id, tenantd.OpRestore)
			clock.Advance(2 * time.Hour)
			srv.MustDo(t, admin, requestDeletionMutation, deletionInput(id, slug, 30), &d)
			msgs, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id), outboxmessage.Kind("deletion_requested")).
				Order(outboxmessage.ByCreatedAt()).All(sys)
			require.NoError(t, err)
			require.Len(t, msgs, 3)
			require.NotContains(t, msgs[2].TextBody, "/#/restore?token=", "no restore link for an operator's deletion")
			require.Contains(t, msgs[2].TextBody, "an administrator can restore")
			require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, "", restoreFromLinkMutation, map[string]any{"t": second}).Code(),
				"the customer's link of its own earlier deletion does not undo the operator's")

			srv.MustDo(t, admin, purgeMutation, map[string]any{"id": id, "slug": slug}, nil)
			require.Eventually(t, func() bool {
				tn, err := srv.DB().Ent.Tenant.Get(sys, id)
				return err == nil && tn.State == tenantd.StatePurged
			}, 30*time.Second, 20*time.Millisecond)
			r = srv.Do(t, "", restoreFromLinkMutation, map[string]any{"t": second})
			require.Equal(t, tenantd.EFORBIDDEN, r.Code())
			require.Contains(t, r.Errors[0].Message, "purged", "the link says the data is gone")
			clock.Advance(61 * 24 * time.Hour)
			r = srv.Do(t, "", restoreLinkQuery, map[string]any{"t": second})
			require.Equal(t, tenantd.EFORBIDDEN, r.Code())
			require.Contains(t, r.Errors[0].Message, "expired on", "an expired link says when it expired")
		})
	}
}
