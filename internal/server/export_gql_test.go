package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/gqlws"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const requestExportMutation = `mutation($in: RequestDataExportInput!) { requestDataExport(input: $in) {
  tenant { id state } operation { id kind status } export { id format status downloadUrl } } }`

const exportProgressSubscription = `subscription($id: ID!) {
  operationProgress(id: $id) { status progress { done total phase rows rowsTotal }
    export { id status sizeBytes sha256 downloadUrl downloads files { name records bytes sha256 } } } }`

type dataExport struct {
	ID          uuid.UUID
	Format      string
	Status      string
	SizeBytes   float64
	Sha256      *string
	DownloadURL *string
	Downloads   int
	Files       []struct {
		Name           string
		Records, Bytes float64
		Sha256         string
	}
}

// TestExportOverGraphQL: the tenant asks for an export, follows
// operationProgress to SUCCEEDED, downloads the archive through the signed
// link and verifies it; a tampered link gets 403; an admin uploads the
// archive and imports it as a new tenant.
func TestExportOverGraphQL(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("exp-"+uuid.NewString()[:8], "starter")}, &a)
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
			waitState(t, srv, id, "ACTIVE")
			for _, title := range []string{"one", "two", "three"} {
				srv.MustDo(t, key, `mutation($t: String!) { uploadDocument(input: {title: $t, content: "text of the document"}) { document { id } } }`,
					map[string]any{"t": title}, nil)
			}

			var req struct {
				RequestDataExport struct {
					Tenant    struct{ ID uuid.UUID }
					Operation struct {
						ID           uuid.UUID
						Kind, Status string
					}
					Export dataExport
				}
			}
			in := map[string]any{"in": map[string]any{"tenantId": id, "idempotencyKey": "export-" + uuid.NewString()}}
			srv.MustDo(t, key, requestExportMutation, in, &req)
			r := req.RequestDataExport
			require.Equal(t, "EXPORT", r.Operation.Kind)
			require.Equal(t, "JSON", r.Export.Format, "JSON by default")
			require.Nil(t, r.Export.DownloadURL, "no link before READY")

			// Follow the operation to its end.
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := gqlws.Dial(ctx, srv.URL+"/graphql", gqlws.Options{Token: key})
			require.NoError(t, err)
			defer c.Close()
			sub, err := c.Subscribe(ctx, exportProgressSubscription, map[string]any{"id": r.Operation.ID})
			require.NoError(t, err)
			var last struct {
				OperationProgress struct {
					Status   string
					Progress struct {
						Done, Total int
						Phase       *string
					}
					Export *dataExport
				}
			}
			for last.OperationProgress.Status != "SUCCEEDED" {
				data, err := sub.Next(ctx)
				require.NoError(t, err, "operationProgress ended before SUCCEEDED (last: %+v)", last)
				require.NoError(t, json.Unmarshal(data, &last))
				require.NotEqual(t, "FAILED", last.OperationProgress.Status)
			}
			exp := last.OperationProgress.Export
			require.NotNil(t, exp)
			require.Equal(t, "READY", exp.Status)
			require.NotNil(t, exp.DownloadURL)
			require.Len(t, exp.Files, 7, "tenant.json and six record files")

			// Download through the link (no token) and verify.
			resp, err := http.Get(srv.URL + *exp.DownloadURL)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "application/zip", resp.Header.Get("Content-Type"))
			sum := sha256.Sum256(body)
			require.Equal(t, *exp.Sha256, hex.EncodeToString(sum[:]))
			zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
			require.NoError(t, err)
			for _, f := range exp.Files {
				zf, err := zr.Open(f.Name)
				require.NoError(t, err, f.Name)
				b, err := io.ReadAll(zf)
				require.NoError(t, err)
				s := sha256.Sum256(b)
				require.Equal(t, f.Sha256, hex.EncodeToString(s[:]), f.Name)
			}
			docs, err := zr.Open("documents.jsonl")
			require.NoError(t, err)
			b, _ := io.ReadAll(docs)
			require.Equal(t, 3, strings.Count(string(b), "\n"))

			tampered := strings.Replace(*exp.DownloadURL, "sig=", "sig=x", 1)
			resp, err = http.Get(srv.URL + tampered)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusForbidden, resp.StatusCode)

			var seen struct {
				Tenant struct{ Exports []dataExport }
			}
			srv.MustDo(t, key, `query($id: ID!) { tenant(id: $id) { exports { id status downloads } } }`, map[string]any{"id": id}, &seen)
			require.Len(t, seen.Tenant.Exports, 1)
			require.Equal(t, 1, seen.Tenant.Exports[0].Downloads, "the download is logged")

			// Import: upload the archive (admin), then importTenant.
			up, err := http.NewRequest(http.MethodPost, srv.URL+"/exports/uploads", bytes.NewReader(body))
			require.NoError(t, err)
			up.Header.Set("Authorization", "Bearer "+key)
			resp, err = http.DefaultClient.Do(up)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "a tenant key may not import")
			up, _ = http.NewRequest(http.MethodPost, srv.URL+"/exports/uploads", bytes.NewReader(body))
			up.Header.Set("Authorization", "Bearer "+servertest.AdminToken)
			resp, err = http.DefaultClient.Do(up)
			require.NoError(t, err)
			var upload struct{ UploadID uuid.UUID }
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&upload))
			resp.Body.Close()
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			var imp struct {
				ImportTenant struct {
					Tenant struct {
						ID    uuid.UUID
						State string
						Slug  string
					}
					APIKey         string
					SourceTenantID uuid.UUID
					Documents      int
				}
			}
			srv.MustDo(t, servertest.AdminToken, `mutation($in: ImportTenantInput!) { importTenant(input: $in) {
				tenant { id state slug } apiKey sourceTenantId documents } }`,
				map[string]any{"in": map[string]any{"uploadId": upload.UploadID, "slug": "imported-" + uuid.NewString()[:8]}}, &imp)
			require.Equal(t, "ACTIVE", imp.ImportTenant.Tenant.State)
			require.Equal(t, id, imp.ImportTenant.SourceTenantID)
			require.Equal(t, 3, imp.ImportTenant.Documents)
			var docsAnswer struct{ Documents struct{ TotalCount int } }
			srv.MustDo(t, imp.ImportTenant.APIKey, `{ documents { totalCount } }`, nil, &docsAnswer)
			require.Equal(t, 3, docsAnswer.Documents.TotalCount, "the imported tenant's key reads its documents")
		})
	}
}
