package server_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const uploadMutation = `mutation($t: String!, $c: String!) { uploadDocument(input: {title: $t, content: $c}) {
  document { id title sizeBytes } usage { documents bytes maxDocuments } } }`

// TestWorkspaceOverGraphQL uses the workspace API with a tenant key, as the
// activation wizard does, and checks who else may not.
func TestWorkspaceOverGraphQL(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k, "TENANTD_MAX_DOCUMENT_BYTES=2048")
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("wsgql-"+string(k), "pro")}, &a)
			waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
			key := a.SignUp.APIKey
			for i, title := range []string{"Alpha plan", "Beta notes", "Gamma roadmap"} {
				var u struct {
					UploadDocument struct {
						Document struct{ SizeBytes int }
						Usage    struct{ Documents int }
					}
				}
				srv.MustDo(t, key, uploadMutation, map[string]any{"t": title, "c": "the roadmap mentions " + title}, &u)
				require.Equal(t, i+1, u.UploadDocument.Usage.Documents)
			}
			var page struct {
				Documents struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage bool
						EndCursor   string
					}
					Edges []struct{ Node struct{ Title string } }
				}
			}
			srv.MustDo(t, key, `{ documents(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { title } } } }`, nil, &page)
			require.Equal(t, 3, page.Documents.TotalCount)
			require.True(t, page.Documents.PageInfo.HasNextPage)
			require.Equal(t, "Gamma roadmap", page.Documents.Edges[0].Node.Title)
			var next struct {
				Documents struct {
					Edges []struct{ Node struct{ Title string } }
				}
			}
			srv.MustDo(t, key, `query($c: Cursor) { documents(first: 2, after: $c) { edges { node { title } } } }`,
				map[string]any{"c": page.Documents.PageInfo.EndCursor}, &next)
			require.Len(t, next.Documents.Edges, 1)
			require.Equal(t, "Alpha plan", next.Documents.Edges[0].Node.Title)

			var s struct {
				SearchDocuments []struct {
					Score    float64
					Snippet  string
					Document struct{ Title string }
				}
			}
			srv.MustDo(t, key, `{ searchDocuments(query: "roadmap", first: 5) { score snippet document { title } } }`, nil, &s)
			require.Len(t, s.SearchDocuments, 3)
			require.Equal(t, "Gamma roadmap", s.SearchDocuments[0].Document.Title)
			require.Contains(t, s.SearchDocuments[0].Snippet, "[roadmap]")

			var usage struct {
				Tenant struct {
					Usage struct{ Documents, QueriesThisMonth int }
				}
			}
			srv.MustDo(t, admin, `query($id: ID!) { tenant(id: $id) { usage { documents queriesThisMonth } } }`,
				map[string]any{"id": a.SignUp.Tenant.ID}, &usage)
			require.Equal(t, 3, usage.Tenant.Usage.Documents)
			require.Equal(t, 1, usage.Tenant.Usage.QueriesThisMonth)

			// Errors: admins use no workspace, bad cursors and oversize documents.
			require.Equal(t, "FORBIDDEN", srv.Do(t, admin, `{ documents { totalCount } }`, nil).Code())
			require.Equal(t, "UNAUTHENTICATED", srv.Do(t, "", `{ searchDocuments(query: "x") { score } }`, nil).Code())
			r := srv.Do(t, key, `{ documents(after: "not-a-cursor") { totalCount } }`, nil)
			require.Equal(t, "INVALID_INPUT", r.Code())
			r = srv.Do(t, key, uploadMutation, map[string]any{"t": "big", "c": strings.Repeat("x", 2049)})
			require.Equal(t, "INVALID_INPUT", r.Code())
			require.Equal(t, "content", r.Errors[0].Extensions["field"])
			r = srv.Do(t, key, `{ searchDocuments(query: "\"open", first: 5) { score } }`, nil)
			require.Equal(t, "INVALID_INPUT", r.Code())
			r = srv.Do(t, key, `{ searchDocuments(query: "x", first: 1000) { score } }`, nil)
			require.Equal(t, "INVALID_INPUT", r.Code())

			// Suspended: reads work, writes say why.
			srv.MustDo(t, admin, `mutation($id: ID!) { suspendTenant(input: {tenantId: $id}) { tenant { state } } }`, map[string]any{"id": a.SignUp.Tenant.ID}, nil)
			r = srv.Do(t, key, uploadMutation, map[string]any{"t": "x", "c": "y"})
			require.Equal(t, "FORBIDDEN", r.Code())
			require.Equal(t, "SUSPENDED", r.Errors[0].Extensions["state"])
			srv.MustDo(t, key, `{ documents { totalCount } }`, nil, nil)
		})
	}
}
