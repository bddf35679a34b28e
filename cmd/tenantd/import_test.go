package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestImportCommand exports a tenant from a running tenantd, then imports
// the archive with `tenantd import` into the same database: a new ACTIVE
// tenant with the documents. A tampered archive is refused naming the file.
func TestImportCommand(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	sys := tenantd.SystemContext(context.Background())
	slug := "cli-" + uuid.NewString()[:8]
	var up struct {
		SignUp struct {
			APIKey string
			Tenant struct{ ID uuid.UUID }
		}
	}
	srv.MustDo(t, "", `mutation($in: SignUpInput!) { signUp(input: $in) { apiKey tenant { id } } }`, map[string]any{"in": map[string]any{
		"name": "CLI", "slug": slug, "email": "owner@" + slug + ".example.com", "plan": "pro", "paymentMethod": "pm_card_visa",
		"idempotencyKey": uuid.NewString()}}, &up)
	require.Eventually(t, func() bool {
		tn, err := srv.DB().Ent.Tenant.Get(sys, up.SignUp.Tenant.ID)
		return err == nil && tn.State == tenantd.StateActive
	}, 30*time.Second, 10*time.Millisecond)
	srv.MustDo(t, up.SignUp.APIKey, `mutation { uploadDocument(input: {title: "kept", content: "carried over"}) { document { id } } }`, nil, nil)
	var req struct {
		RequestDataExport struct{ Operation struct{ ID uuid.UUID } }
	}
	srv.MustDo(t, servertest.AdminToken, `mutation($id: ID!) { requestDataExport(input: {tenantId: $id, format: CSV}) { operation { id } } }`,
		map[string]any{"id": up.SignUp.Tenant.ID}, &req)
	var link string
	require.Eventually(t, func() bool {
		var op struct {
			Operation struct {
				Status string
				Export *struct{ DownloadURL *string }
			}
		}
		srv.MustDo(t, servertest.AdminToken, `query($id: ID!) { operation(id: $id) { status export { downloadUrl } } }`,
			map[string]any{"id": req.RequestDataExport.Operation.ID}, &op)
		if op.Operation.Export != nil && op.Operation.Export.DownloadURL != nil {
			link = *op.Operation.Export.DownloadURL
		}
		return link != ""
	}, 30*time.Second, 10*time.Millisecond)
	resp, err := http.Get(srv.URL + link)
	require.NoError(t, err)
	archive := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(archive)
	require.NoError(t, err)
	_, err = io.Copy(f, resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.NoError(t, f.Close())

	dataDir := []string{"--data-dir", srv.DataDir()}
	code, out, errOut := runCLI(t, "import", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Usage:\n  tenantd import ARCHIVE [flags]")
	code, _, errOut = runCLI(t, append([]string{"import", archive}, dataDir...)...)
	require.Equal(t, 1, code, "the archive's slug is taken")
	require.Contains(t, errOut, "--slug")

	// Tampered: one byte of the stored data flipped.
	raw, err := os.ReadFile(archive)
	require.NoError(t, err)
	raw[60] ^= 0x01
	bad := filepath.Join(t.TempDir(), "bad.zip")
	require.NoError(t, os.WriteFile(bad, raw, 0o600))
	code, _, errOut = runCLI(t, append([]string{"import", bad, "--slug", "never-made"}, dataDir...)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "tenant.json", "the refusal names the file")
	exists, err := srv.DB().Ent.Tenant.Query().Where(tenant.Slug("never-made")).Exist(sys)
	require.NoError(t, err)
	require.False(t, exists, "nothing is written")

	code, out, errOut = runCLI(t, append([]string{"import", archive, "--slug", "cli-copy"}, dataDir...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "1 documents")
	key := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	require.True(t, strings.HasPrefix(key, "tdk_"), out)
	var docs struct {
		Documents struct {
			Edges []struct {
				Node struct{ Title, Content string }
			}
		}
	}
	srv.MustDo(t, key, `{ documents { edges { node { title content } } } }`, nil, &docs)
	require.Len(t, docs.Documents.Edges, 1)
	require.Equal(t, "carried over", docs.Documents.Edges[0].Node.Content)
}
