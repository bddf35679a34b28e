package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
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
			uploaded := map[string]string{}
			for i := range docs {
				title := fmt.Sprintf("Seed document %d", i)
				uploaded[title] = fmt.Sprintf("content %d of the seed sequence, mentioning Ada Lovelace's notes,\n"+
					"with \"quotes\", a tab\t and ünïcödé ✓", i)
				srv.MustDo(t, key, uploadMutation, map[string]any{"t": title, "c": uploaded[title]}, nil)
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

			seedExportAndImport(t, srv, id, key, uploaded)
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
			// Export, then delete: an admin may still export it.
			pending, _ := exportAndDownload(t, srv, admin, id)
			require.Equal(t, uploaded, pending.Documents, "a PENDING_DELETION tenant's export is whole")

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

// archiveRecords is what an archive holds, ids left out: documents
// (title → content), the query log (query and hits, in order) and the
// milestones reached.
type archiveRecords struct {
	Documents  map[string]string
	Queries    []string
	Milestones []string
}

// exportAndDownload exports the tenant as the caller (token), follows the
// operation to its end, downloads the archive through its signed link (no
// token), verifies the archive's and every file's SHA-256 and returns what
// it holds.
func exportAndDownload(t *testing.T, srv *servertest.Server, token string, id uuid.UUID) (archiveRecords, []byte) {
	t.Helper()
	var req struct {
		RequestDataExport struct {
			Operation struct{ ID uuid.UUID }
		}
	}
	srv.MustDo(t, token, requestExportMutation, map[string]any{"in": map[string]any{"tenantId": id}}, &req)
	var op *ent.Operation
	require.Eventually(t, func() bool {
		var err error
		op, err = srv.DB().Ent.Operation.Get(tenantd.SystemContext(context.Background()), req.RequestDataExport.Operation.ID)
		return err == nil && op.Status.Done()
	}, 60*time.Second, 5*time.Millisecond, "the export never finished")
	require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
	var d struct {
		Operation struct{ Export dataExport }
	}
	srv.MustDo(t, token, `query($id: ID!) { operation(id: $id) { export { status sha256 downloadUrl files { name records bytes sha256 } } } }`,
		map[string]any{"id": op.ID}, &d)
	exp := d.Operation.Export
	require.Equal(t, "READY", exp.Status)
	resp, err := http.Get(srv.URL + *exp.DownloadURL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sum := sha256.Sum256(body)
	require.Equal(t, *exp.Sha256, hex.EncodeToString(sum[:]), "the archive's checksum")
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	read := func(name string) []byte {
		f, err := zr.Open(name)
		require.NoError(t, err, name)
		defer f.Close()
		b, err := io.ReadAll(f)
		require.NoError(t, err, name)
		return b
	}
	for _, f := range exp.Files {
		s := sha256.Sum256(read(f.Name))
		require.Equal(t, f.Sha256, hex.EncodeToString(s[:]), "the checksum of %s", f.Name)
	}
	out := archiveRecords{Documents: map[string]string{}}
	lines := func(name string, fn func(line []byte)) {
		for _, l := range bytes.Split(read(name), []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				fn(l)
			}
		}
	}
	lines("documents.jsonl", func(l []byte) {
		var doc struct{ Title, Content string }
		require.NoError(t, json.Unmarshal(l, &doc))
		out.Documents[doc.Title] = doc.Content
	})
	lines("query_log.jsonl", func(l []byte) {
		var q struct {
			Query string
			Hits  int
		}
		require.NoError(t, json.Unmarshal(l, &q))
		out.Queries = append(out.Queries, fmt.Sprintf("%s:%d", q.Query, q.Hits))
	})
	lines("milestones.jsonl", func(l []byte) {
		var m struct{ Name string }
		require.NoError(t, json.Unmarshal(l, &m))
		out.Milestones = append(out.Milestones, m.Name)
	})
	slices.Sort(out.Milestones)
	return out, body
}

// seedExportAndImport is the export and re-import of the seed sequence:
// the export holds every document with identical content, and an import of
// it exported again holds the same documents, query log and milestones. The
// imported copy is then purged (it holds the same personal data).
func seedExportAndImport(t *testing.T, srv *servertest.Server, id uuid.UUID, key string, docs map[string]string) {
	t.Helper()
	got, archive := exportAndDownload(t, srv, key, id)
	require.Equal(t, docs, got.Documents, "every document, with identical content")
	require.NotEmpty(t, got.Queries)
	require.Contains(t, got.Milestones, "first_query")

	up, err := http.NewRequest(http.MethodPost, srv.URL+"/exports/uploads", bytes.NewReader(archive))
	require.NoError(t, err)
	up.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(up)
	require.NoError(t, err)
	var upload struct{ UploadID uuid.UUID }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&upload))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	slug := "seed-copy-" + uuid.NewString()[:8]
	var imp struct {
		ImportTenant struct {
			Tenant struct{ ID uuid.UUID }
			APIKey string
		}
	}
	srv.MustDo(t, admin, `mutation($in: ImportTenantInput!) { importTenant(input: $in) { tenant { id } apiKey } }`,
		map[string]any{"in": map[string]any{"uploadId": upload.UploadID, "slug": slug}}, &imp)
	copyID := imp.ImportTenant.Tenant.ID
	again, _ := exportAndDownload(t, srv, imp.ImportTenant.APIKey, copyID)
	require.Equal(t, got, again, "export → import → export gives the same documents, query log and milestones")

	srv.MustDo(t, admin, requestDeletionMutation, deletionInput(copyID, slug, nil), nil)
	srv.MustDo(t, admin, purgeMutation, map[string]any{"id": copyID, "slug": slug}, nil)
	waitState(t, srv, copyID, tenantd.StatePurged)
}
