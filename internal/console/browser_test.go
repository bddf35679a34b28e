//go:build unix

package console_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	jsDir := filepath.Join(repo, "clients", "js")

	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js 20+ is needed for the console's browser test: install it (Debian: apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core is not installed in clients/js: run `make js-deps` (npm ci in clients/js)")
	}
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is needed for the console's browser test and is not at %s: install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH to its binary", chromium)
	}

	artifacts := filepath.Join(repo, "test-artifacts", "console")
	require.NoError(t, os.RemoveAll(artifacts))
	require.NoError(t, os.MkdirAll(artifacts, 0o755))

	srv := servertest.Start(t, storetest.SQLite, "TENANTD_MOVE_SOURCE_GRACE=0s")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console.e2e.mjs", srv.URL, servertest.AdminToken, artifacts)
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(), "CHROMIUM_PATH="+chromium)
	// Chromium runs in node's process group: a timeout kills them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err = cmd.Run()
	t.Logf("node console.e2e.mjs (%s):\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("console.e2e.mjs did not finish within 3 minutes; screenshots in %s", artifacts)
	}
	require.NoError(t, err, "console.e2e.mjs failed; screenshots in %s", artifacts)

	shots, err := filepath.Glob(filepath.Join(artifacts, "*.png"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(shots), 10, "a screenshot per major step")
}
