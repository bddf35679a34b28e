package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestJavaScriptClient runs a real JavaScript client — Node with the npm
// graphql-ws package (subscriptions) and urql (HTTP) — that signs up and
// follows operationProgress to the end.
func TestJavaScriptClient(t *testing.T) {
	t.Parallel()
	node, dir := jsClients(t, "graphql-ws")

	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			for _, plan := range []string{"free", "enterprise"} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, node, "signup.mjs", srv.URL, "js-"+plan+"-"+string(k), plan)
				cmd.Dir = dir
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				require.NoError(t, err, "node: %s", stderr.String())

				var summary struct {
					Summary struct {
						TenantID string
						Statuses []string
						Final    string
						State    string
					}
				}
				var progress int
				sc := bufio.NewScanner(bytes.NewReader(out))
				for sc.Scan() {
					line := sc.Bytes()
					if bytes.HasPrefix(line, []byte(`{"progress"`)) {
						progress++
						continue
					}
					require.NoError(t, json.Unmarshal(line, &summary), "line: %s", line)
				}
				require.Positive(t, progress)
				require.Equal(t, "SUCCEEDED", summary.Summary.Final, "the subscription ends with the final state")
				require.Equal(t, "ACTIVE", summary.Summary.State)
				require.NotEmpty(t, summary.Summary.TenantID)
			}
		})
	}
}

// jsClients returns Node.js and the clients/js directory, failing the test
// unless the npm package pkg is installed there.
func jsClients(t *testing.T, pkg string) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node.js 20+ is needed to run the JavaScript clients")
	dir, err = filepath.Abs(filepath.Join("..", "..", "clients", "js"))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "node_modules", pkg))
	require.NoError(t, err, "the JavaScript clients are not installed: run `make js-deps` (npm ci in clients/js)")
	return node, dir
}
