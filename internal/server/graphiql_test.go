package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// /graphiql is served from the binary in development only, with the
// development admin token prefilled when the server made one; GraphiQL's
// introspection query (deeper than the depth limit of other queries)
// answers there.
func TestGraphiQLServed(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, url string) (int, string, http.Header) {
		t.Helper()
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b), resp.Header
	}

	t.Run("development with its own token", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, storetest.SQLite, "TENANTD_ADMIN_TOKEN=")
		require.NotEmpty(t, srv.AdminToken)
		status, html, h := get(t, srv.URL+"/graphiql")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, html, "Bearer "+srv.AdminToken)
		require.Contains(t, html, `<script src="/graphiql/vendor/graphiql.min.js">`)
		require.NotContains(t, html, "cdn")
		require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self';")
		status, js, _ := get(t, srv.URL+"/graphiql/vendor/graphiql.min.js")
		require.Equal(t, http.StatusOK, status)
		require.Greater(t, len(js), 500_000)

		// The introspection query of graphql-js (what GraphiQL sends):
		// ofType eleven levels down.
		deep := `{ __schema { types { name fields { name type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`
		var d struct {
			Schema struct{ Types []any } `json:"__schema"`
		}
		srv.MustDo(t, srv.AdminToken, deep, nil, &d)
		require.NotEmpty(t, d.Schema.Types)
		r := srv.Do(t, srv.AdminToken, `{ tenants { edges { node { plan { id } transitions { edges { node { tenant { operations { edges { node { tenant { id } } } } } } } } } } } }`, nil)
		require.Equal(t, "INVALID_INPUT", r.Code(), "other queries keep the depth limit")
	})

	t.Run("development with TENANTD_ADMIN_TOKEN", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, storetest.SQLite)
		status, html, _ := get(t, srv.URL+"/graphiql")
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, html, "Bearer", "an operator's configured token is not put in a page")
		require.NotContains(t, html, servertest.AdminToken)
	})

	t.Run("production", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, storetest.SQLite, "TENANTD_ENV=production")
		for _, p := range []string{"/graphiql", "/graphiql/start.js", "/graphiql/vendor/graphiql.min.js"} {
			status, body, _ := get(t, srv.URL+p)
			require.Equal(t, http.StatusNotFound, status, p)
			require.False(t, strings.Contains(body, "GraphiQL"), p)
		}
	})
}
