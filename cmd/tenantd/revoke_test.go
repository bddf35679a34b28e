package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/gqlws"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestTokenRevokeClosesWebSockets: `tenantd token revoke`, run beside a
// server on its database, closes the token's WebSockets — on PostgreSQL
// through NOTIFY, on SQLite (whose notices stay in the CLI's process) by the
// server's once-a-second check of its open sockets.
func TestTokenRevokeClosesWebSockets(t *testing.T) {
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			dataDir := t.TempDir()
			env := []string{"TENANTD_DATA_DIR=" + dataDir}
			dbFlag := []string{"--data-dir", dataDir}
			if k == storetest.Postgres {
				url := storetest.NewPostgresDatabase(t)
				env = append(env, "DATABASE_URL="+url)
				dbFlag = append(dbFlag, "--database-url", url, "--owner-database-url", storetest.OwnerURL(url))
			}
			srv := servertest.Start(t, k, env...)
			code, out, errOut := runCLI(t, append([]string{"token", "create", "--role", "partner", "--name", "ws"}, dbFlag...)...)
			require.Equal(t, 0, code, errOut)
			secret := strings.TrimSpace(out)

			ctx := context.Background()
			c, err := gqlws.Dial(ctx, srv.URL+"/graphql", gqlws.Options{Token: secret})
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Subscribe(ctx, `subscription { tenantEvents { kind } }`, nil)
			require.NoError(t, err)

			code, _, errOut = runCLI(t, append([]string{"token", "revoke", "--token", secret[:12]}, dbFlag...)...)
			require.Equal(t, 0, code, errOut)
			start := time.Now()
			select {
			case <-c.Done():
			case <-time.After(2500 * time.Millisecond):
				t.Fatal("the revoked token's WebSocket is still open")
			}
			t.Logf("closed %v after the revocation", time.Since(start))
			var ce *gqlws.CloseError
			require.ErrorAs(t, c.Err(), &ce)
			require.Equal(t, 4403, ce.Code)
		})
	}
}
