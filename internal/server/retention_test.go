package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/billingcall"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/gqlws"
	"github.com/tenantd/tenantd/internal/lifecycle"
	engine "github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const requestDeletionMutation = `mutation($in: RequestTenantDeletionInput!) { requestTenantDeletion(input: $in) {
  tenant { state purgeAfter } transition { seq event } operation { id kind } purgeAfter } }`

const restoreMutation = `mutation($id: ID!) { restoreTenant(input: {tenantId: $id, reason: "changed my mind"}) {
  tenant { state purgeAfter } operation { id kind } apiKey } }`

const purgeMutation = `mutation($id: ID!, $slug: String!) { purgeTenant(input: {tenantId: $id, confirmSlug: $slug}) {
  tenant { state } operation { id kind } } }`

const certificateQuery = `query($id: ID!) { tenant(id: $id) { state purgeAfter purgedAt purgeCertificate {
  operation purgedAt sha256 rowsRemoved { table rows } filesRemoved json } } }`

type deletionAnswer struct {
	RequestTenantDeletion struct {
		Tenant struct {
			State      string
			PurgeAfter *time.Time
		}
		Transition struct {
			Seq   int
			Event string
		}
		Operation struct {
			ID   uuid.UUID
			Kind string
		}
		PurgeAfter time.Time
	}
}

type certificateAnswer struct {
	Tenant struct {
		State            string
		PurgeAfter       *time.Time
		PurgedAt         *time.Time
		PurgeCertificate *struct {
			Operation   uuid.UUID
			PurgedAt    time.Time
			Sha256      string
			RowsRemoved []struct {
				Table string
				Rows  int
			}
			FilesRemoved []string
			JSON         string
		}
	}
}

func deletionInput(id uuid.UUID, slug string, days any) map[string]any {
	in := map[string]any{"tenantId": id, "confirmSlug": slug, "reason": "we are closing the team"}
	if days != nil {
		in["retentionDays"] = days
	}
	return map[string]any{"in": in}
}

// sweepUntil advances the fake clock an hour at a time until cond holds:
// the sweeps run on the clock, and BlockUntil counts any waiter, so a
// single advance could land while a sweep is still running.
func sweepUntil(t *testing.T, clock *clockwork.FakeClock, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		if cond() {
			return true
		}
		clock.Advance(time.Hour)
		return false
	}, 60*time.Second, 10*time.Millisecond, what)
}

// TestDeletionRestoreAndPurge: bad input changes nothing; a deletion makes
// the tenant PENDING_DELETION with its purge date, refuses its key (naming
// the date), closes its WebSockets, cancels billing and mails the date; a
// restore brings it back with its data and a new key and resumes billing;
// a second deletion is purged by the sweep once the fake clock passes the
// window, with a certificate; a purged tenant cannot be restored or purged.
func TestDeletionRestoreAndPurge(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			start := time.Now().UTC().Truncate(time.Second)
			clock := clockwork.NewFakeClockAt(start)
			srv := servertest.StartWith(t, k, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
			ctx := context.Background()
			sys := tenantd.SystemContext(ctx)
			slug := "deleted-" + string(k)
			a := activeTenant(t, srv, slug, "pro")
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
			srv.MustDo(t, key, uploadMutation, map[string]any{"t": "Kept", "c": "the content survives a restore"}, nil)

			seq := func() int {
				tn, err := srv.DB().Ent.Tenant.Get(sys, id)
				require.NoError(t, err)
				return tn.HistorySeq
			}
			before := seq()
			for _, bad := range []struct {
				in    map[string]any
				field string
			}{
				{deletionInput(id, "not-the-slug", nil), "confirmSlug"},
				{deletionInput(id, slug, 29), "retentionDays"},
				{deletionInput(id, slug, 91), "retentionDays"},
				{deletionInput(id, slug, 0), "retentionDays"},
			} {
				r := srv.Do(t, key, requestDeletionMutation, bad.in)
				require.Equal(t, tenantd.EINVALID, r.Code(), "%v", bad.in)
				require.Equal(t, bad.field, r.Errors[0].Extensions["field"])
			}
			require.Equal(t, before, seq(), "refused input changes nothing")

			ws := dial(t, srv, gqlws.Options{Token: key})
			snapshot(t, ws, id)

			var d deletionAnswer
			srv.MustDo(t, key, requestDeletionMutation, deletionInput(id, slug, 45), &d)
			want := start.Add(45 * 24 * time.Hour)
			require.Equal(t, "PENDING_DELETION", d.RequestTenantDeletion.Tenant.State)
			require.WithinDuration(t, want, d.RequestTenantDeletion.PurgeAfter, time.Second)
			require.Equal(t, "DELETE", d.RequestTenantDeletion.Operation.Kind)

			ce := closedWithin(t, ws, 5*time.Second)
			require.Equal(t, 4403, ce.Code, "the tenant's sockets close")
			r := srv.Do(t, key, `{ viewer { actor } }`, nil)
			require.Equal(t, tenantd.EUNAUTHENTICATED, r.Code())
			require.Contains(t, r.Errors[0].Message, want.Format("2006-01-02"), "the refusal names the purge date")

			del := finishedOp(t, srv, id, tenantd.OpDelete)
			require.Equal(t, tenantd.OpSucceeded, del.Status, "%v", del.ErrorMessage)
			require.Contains(t, del.Steps[0].Detail, "canceled", "the subscription is canceled")
			mail, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id), outboxmessage.Kind("deletion_requested")).Only(sys)
			require.NoError(t, err)
			require.Contains(t, mail.TextBody, want.Format("2006-01-02"), "the email names the purge date")
			require.Equal(t, tenantd.EINVALIDTRANSITION, srv.Do(t, admin, requestDeletionMutation, deletionInput(id, slug, nil)).Code(),
				"a deletion is not asked twice")

			var rs struct {
				RestoreTenant struct {
					Tenant struct {
						State      string
						PurgeAfter *time.Time
					}
					Operation struct{ Kind string }
					APIKey    string
				}
			}
			srv.MustDo(t, admin, restoreMutation, map[string]any{"id": id}, &rs)
			require.Equal(t, "ACTIVE", rs.RestoreTenant.Tenant.State)
			require.Nil(t, rs.RestoreTenant.Tenant.PurgeAfter)
			require.Equal(t, "RESTORE", rs.RestoreTenant.Operation.Kind)
			var docs struct {
				Documents struct {
					Edges []struct {
						Node struct{ Title, Content string }
					}
				}
			}
			srv.MustDo(t, rs.RestoreTenant.APIKey, `{ documents(first: 10) { edges { node { title content } } } }`, nil, &docs)
			require.Len(t, docs.Documents.Edges, 1, "the data is intact")
			require.Equal(t, "the content survives a restore", docs.Documents.Edges[0].Node.Content)
			res := finishedOp(t, srv, id, tenantd.OpRestore)
			require.Equal(t, tenantd.OpSucceeded, res.Status, "%v", res.ErrorMessage)
			require.Contains(t, res.Steps[0].Detail, "at test", "billing resumes: %s", res.Steps[0].Detail)
			require.Equal(t, tenantd.EUNAUTHENTICATED, srv.Do(t, key, `{ viewer { actor } }`, nil).Code(), "the old key stays revoked")

			srv.MustDo(t, admin, requestDeletionMutation, deletionInput(id, slug, nil), &d)
			purgeAt := d.RequestTenantDeletion.PurgeAfter
			require.WithinDuration(t, clock.Now().Add(30*24*time.Hour), purgeAt, time.Second, "30 days by default")
			sweepUntil(t, clock, "the sweep purges the tenant after its window", func() bool {
				n, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id), operation.KindEQ(tenantd.OpPurge)).Count(sys)
				return err == nil && n > 0
			})
			require.False(t, clock.Now().Before(purgeAt), "not before the window ended")
			op := finishedOp(t, srv, id, tenantd.OpPurge)
			require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)

			var c certificateAnswer
			srv.MustDo(t, admin, certificateQuery, map[string]any{"id": id}, &c)
			require.Equal(t, "PURGED", c.Tenant.State)
			require.Nil(t, c.Tenant.PurgeAfter)
			cert := c.Tenant.PurgeCertificate
			require.NotNil(t, cert)
			require.Equal(t, op.ID, cert.Operation)
			last, err := srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id)).Order(statetransition.BySeq()).All(sys)
			require.NoError(t, err)
			final := last[len(last)-1]
			require.Equal(t, tenantd.EventPurge, final.Event)
			require.Equal(t, cert.Sha256, final.Metadata["certificateSha256"], "the chain's final transition holds the certificate's SHA-256")
			require.Contains(t, cert.JSON, `"rowsRemoved"`)
			rows := map[string]int{}
			for _, r := range cert.RowsRemoved {
				rows[r.Table] = r.Rows
			}
			require.Equal(t, 2, rows["api_keys"], "the owner's key and the restore's")
			if k == storetest.SQLite {
				require.Len(t, cert.FilesRemoved, 1, "the silo file")
			}
			rep, err := lifecycle.Verify(ctx, srv.DB().Ent, nil)
			require.NoError(t, err)
			require.True(t, rep.OK(), "the chain verifies: %v", rep.Break)

			r = srv.Do(t, admin, restoreMutation, map[string]any{"id": id})
			require.Equal(t, tenantd.EINVALIDTRANSITION, r.Code())
			require.Contains(t, r.Errors[0].Message, "no longer exists")
			require.Equal(t, tenantd.EINVALIDTRANSITION, srv.Do(t, admin, purgeMutation, map[string]any{"id": id, "slug": slug}).Code())
			require.Equal(t, tenantd.EINVALIDTRANSITION, srv.Do(t, admin, requestDeletionMutation, deletionInput(id, slug, nil)).Code())
			n, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id)).Count(sys)
			require.NoError(t, err)
			require.Equal(t, 1, n, "only the PURGE operation is left")
		})
	}
}

// TestPurgeTenantAtOnce: an admin purges a PENDING_DELETION tenant without
// waiting for the window, typing its slug; a wrong slug or a tenant not
// pending deletion is refused and changes nothing; a tenant key may not.
func TestPurgeTenantAtOnce(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	sys := tenantd.SystemContext(context.Background())
	a := activeTenant(t, srv, "erase-now", "starter")
	id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
	require.Equal(t, tenantd.EINVALIDTRANSITION, srv.Do(t, admin, purgeMutation, map[string]any{"id": id, "slug": "erase-now"}).Code(),
		"an ACTIVE tenant is not purged")
	require.Equal(t, tenantd.EFORBIDDEN, srv.Do(t, key, purgeMutation, map[string]any{"id": id, "slug": "erase-now"}).Code())
	srv.MustDo(t, admin, requestDeletionMutation, deletionInput(id, "erase-now", 90), nil)
	r := srv.Do(t, admin, purgeMutation, map[string]any{"id": id, "slug": "erase-later"})
	require.Equal(t, tenantd.EINVALID, r.Code())
	require.Equal(t, "confirmSlug", r.Errors[0].Extensions["field"])
	tn, err := srv.DB().Ent.Tenant.Get(sys, id)
	require.NoError(t, err)
	require.Equal(t, tenantd.StatePendingDeletion, tn.State, "a wrong slug changes nothing")

	var p struct {
		PurgeTenant struct {
			Tenant    struct{ State string }
			Operation struct {
				ID   uuid.UUID
				Kind string
			}
		}
	}
	srv.MustDo(t, admin, purgeMutation, map[string]any{"id": id, "slug": "erase-now"}, &p)
	require.Equal(t, "PURGE", p.PurgeTenant.Operation.Kind)
	op := finishedOp(t, srv, id, tenantd.OpPurge)
	require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
	var c certificateAnswer
	srv.MustDo(t, admin, certificateQuery, map[string]any{"id": id}, &c)
	require.Equal(t, "PURGED", c.Tenant.State)
	require.Equal(t, p.PurgeTenant.Operation.ID, c.Tenant.PurgeCertificate.Operation)
	rows := map[string]int{}
	for _, r := range c.Tenant.PurgeCertificate.RowsRemoved {
		rows[r.Table] = r.Rows
	}
	require.Equal(t, 1, rows["workspaces"], fmt.Sprint(rows))
	require.False(t, strings.Contains(c.Tenant.PurgeCertificate.JSON, "erase-now"), "the certificate holds no slug")
}

// TestRestoreWaitsForTheDeletionsCancel: a restore right after a deletion
// whose billing cancellation is still retrying resumes billing only after
// the cancellation has landed, so the restored tenant is not left with a
// canceled subscription.
func TestRestoreWaitsForTheDeletionsCancel(t *testing.T) {
	t.Parallel()
	var failures atomic.Int32
	failures.Store(2)
	srv := servertest.StartWith(t, storetest.SQLite, nil, []server.Option{server.WithOperationHooks(engine.Hooks{
		BeforeStep: func(kind tenantd.OperationKind, step string, _ int) error {
			if kind == tenantd.OpDelete && step == "cancel_billing" && failures.Add(-1) >= 0 {
				return fmt.Errorf("the provider is unavailable (injected)")
			}
			return nil
		}})})
	sys := tenantd.SystemContext(context.Background())
	a := activeTenant(t, srv, "restore-race", "starter")
	id := a.SignUp.Tenant.ID
	srv.MustDo(t, admin, requestDeletionMutation, deletionInput(id, "restore-race", nil), nil)
	srv.MustDo(t, admin, restoreMutation, map[string]any{"id": id}, nil)
	del := finishedOp(t, srv, id, tenantd.OpDelete)
	require.Equal(t, tenantd.OpSucceeded, del.Status, "%v", del.ErrorMessage)
	res := finishedOp(t, srv, id, tenantd.OpRestore)
	require.Equal(t, tenantd.OpSucceeded, res.Status, "%v", res.ErrorMessage)
	calls, err := srv.DB().Ent.BillingCall.Query().Where(billingcall.CallIn(billingcall.CallCancel, billingcall.CallReactivate)).
		Order(ent.Asc(billingcall.FieldCreatedAt)).All(sys)
	require.NoError(t, err)
	require.Len(t, calls, 2)
	require.Equal(t, billingcall.CallCancel, calls[0].Call, "the cancellation lands first")
	require.Equal(t, billingcall.CallReactivate, calls[1].Call, "then billing resumes")
}
