//go:build unix

package console_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestConsoleInBrowser drives the console in a real headless Chromium
// (clients/js/console.e2e.mjs with playwright-core) against a real server:
// admin sign-in and the activation funnel, the signup wizard with live
// provisioning, a first upload and a first query, the funnel moving, the
// tenant list, the timeline and a suspension followed live, a plan change
// with its data move, a cancellation at the period end undone, a
// cancellation now, reactivation with a declined card and then a charged
// one (a new key shown once), a week's pause resumed early, a data export
// downloaded (when the server has
// exports), deletion with the slug typed to confirm, restore with a new key
// shown once, and Purge now with its certificate. Screenshots go to
// test-artifacts/console/ at the repository root.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowserRun(t, "console")
	srv := servertest.Start(t, storetest.SQLite, "TENANTD_MOVE_SOURCE_GRACE=0s")
	b.node(t, 3*time.Minute, "console.e2e.mjs", srv.URL, servertest.AdminToken, b.artifacts)
	b.atLeastShots(t, 10)
}

// browserRun is what a browser test needs: Node.js, playwright-core in
// clients/js, Chromium, and its own screenshot directory under
// test-artifacts/ at the repository root (emptied first).
type browserRun struct {
	nodeBin, jsDir, chromium, artifacts string
}

func newBrowserRun(t *testing.T, name string) *browserRun {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	b := &browserRun{jsDir: filepath.Join(repo, "clients", "js"), artifacts: filepath.Join(repo, "test-artifacts", name)}
	b.nodeBin, err = exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js 20+ is needed for the console's browser tests: install it (Debian: apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(b.jsDir, "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core is not installed in clients/js: run `make js-deps` (npm ci in clients/js)")
	}
	b.chromium = os.Getenv("CHROMIUM_PATH")
	if b.chromium == "" {
		b.chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(b.chromium); err != nil {
		t.Fatalf("Chromium is needed for the console's browser tests and is not at %s: install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH to its binary", b.chromium)
	}
	require.NoError(t, os.RemoveAll(b.artifacts))
	require.NoError(t, os.MkdirAll(b.artifacts, 0o755))
	return b
}

// node runs a script of clients/js with Chromium, within limit, and
// returns its output; the test fails if the script does.
func (b *browserRun) node(t *testing.T, limit time.Duration, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.nodeBin, append([]string{script}, args...)...)
	cmd.Dir = b.jsDir
	cmd.Env = append(os.Environ(), "CHROMIUM_PATH="+b.chromium)
	// Chromium runs in node's process group: a timeout kills them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("node %s %s (%s):\n%s", script, strings.Join(args[3:], " "), time.Since(start).Round(time.Millisecond), out.String())
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s did not finish within %s; screenshots in %s", script, limit, b.artifacts)
	}
	require.NoError(t, err, "%s failed; screenshots in %s", script, b.artifacts)
	return out.String()
}

// atLeastShots checks that the run left at least n screenshots and
// returns them.
func (b *browserRun) atLeastShots(t *testing.T, n int) []string {
	t.Helper()
	shots, err := filepath.Glob(filepath.Join(b.artifacts, "*.png"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(shots), n, "a screenshot per major step in %s", b.artifacts)
	return shots
}
