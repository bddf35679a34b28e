//go:build unix

package console_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestGraphiQLInBrowser opens /graphiql of a development server (no
// TENANTD_ADMIN_TOKEN: it makes its development admin token, as `make run`
// does) in Chromium (clients/js/graphiql.e2e.mjs): GraphiQL loads from the
// binary with no request to another origin and no CSP violation, the
// headers editor holds the development token, `{ viewer { role } }`
// answers ADMIN, the documentation explorer reads the schema, the settings
// dialog opens, and the token is not kept in localStorage. Screenshots go
// to test-artifacts/graphiql/.
func TestGraphiQLInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowserRun(t, "graphiql")
	srv := servertest.Start(t, storetest.SQLite, "TENANTD_ADMIN_TOKEN=")
	require.NotEmpty(t, srv.AdminToken, "the development server made its admin token")
	require.NotEqual(t, servertest.AdminToken, srv.AdminToken)
	b.node(t, 2*time.Minute, "graphiql.e2e.mjs", srv.URL, srv.AdminToken, b.artifacts)
	shots := b.atLeastShots(t, 4)
	require.Len(t, shots, 4, "screenshots in %s", b.artifacts)
	for _, s := range shots {
		st, err := os.Stat(s)
		require.NoError(t, err)
		require.Greater(t, st.Size(), int64(10_000), "%s is not a real screenshot", s)
	}
}
