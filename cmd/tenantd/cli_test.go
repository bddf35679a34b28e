package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/config"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/testpeer"
	"github.com/tenantd/tenantd/internal/version"
)

// configFlagNames are the flags of every configuration variable: serve's.
var configFlagNames = []string{"activation-window", "addr", "admin-token", "allowed-origins", "data-dir", "database-url", "env",
	"export-dir", "export-ttl", "log-format", "log-level", "max-document-bytes", "max-subscriptions-per-connection",
	"max-subscriptions-per-token", "metrics-addr", "move-source-grace", "owner-database-url", "public-url", "smtp-url",
	"stripe-api-base", "stripe-secret-key", "stripe-webhook-secret", "sweep-interval", "workers"}

// flagLine is a flag line of --help: "  -h, --help   …" or "      --name type   usage".
var flagLine = regexp.MustCompile(`^ {2}(?:-[a-z], | {4})--([a-z][a-z-]*)(?: (?:string|int|float|duration))? {2,}\S`)

// TestEverySubcommandHelpListsItsOwnFlags runs --help for every command:
// each answers with exit status 0, its usage line and exactly its own
// flags, each written --name; only serve lists the server's variables.
func TestEverySubcommandHelpListsItsOwnFlags(t *testing.T) {
	want := map[string][]string{
		"serve":               configFlagNames,
		"migrate":             {"data-dir", "database-url", "owner-database-url"},
		"token create":        {"data-dir", "database-url", "name", "owner-database-url", "role"},
		"token list":          {"data-dir", "database-url", "owner-database-url"},
		"token revoke":        {"data-dir", "database-url", "owner-database-url", "token"},
		"audit verify":        {"data-dir", "database-url", "owner-database-url"},
		"check":               {"data-dir", "database-url", "json", "token", "url"},
		"import":              {"data-dir", "database-url", "export-dir", "max-document-bytes", "owner-database-url", "slug"},
		"bench signup":        {"duration", "json", "plans", "rate", "token", "url"},
		"bench subscriptions": {"events", "interval", "json", "per-conn", "subscriptions", "tenants", "token", "url"},
		"token":               nil,
		"audit":               nil,
		"bench":               nil,
	}
	for cmd, flags := range want {
		code, out, errOut := runCLI(t, append(strings.Fields(cmd), "--help")...)
		require.Equal(t, 0, code, "%s --help: %s", cmd, errOut)
		require.Empty(t, errOut, cmd)
		require.Contains(t, out, "Usage:\n  tenantd "+cmd, cmd)
		var got []string
		inFlags := false
		for _, line := range strings.Split(out, "\n") {
			switch {
			case line == "Flags:":
				inFlags = true
			case inFlags && line == "":
				inFlags = false
			case inFlags:
				m := flagLine.FindStringSubmatch(line)
				require.NotNil(t, m, "%s --help: a malformed flag line: %q", cmd, line)
				got = append(got, m[1])
			}
		}
		slices.Sort(got)
		wantFlags := append(slices.Clone(flags), "help")
		slices.Sort(wantFlags)
		require.Equal(t, wantFlags, got, "%s --help lists its own flags", cmd)
		require.NotContains(t, out, " -"+"addr", cmd)
		if cmd != "serve" {
			require.NotContains(t, out, "TENANTD_SWEEP_INTERVAL", "%s --help lists only its own settings", cmd)
			require.NotContains(t, out, "STRIPE_SECRET_KEY", cmd)
		}
	}
	// The groups list their commands.
	_, out, _ := runCLI(t, "token", "--help")
	for _, sub := range []string{"create", "list", "revoke"} {
		require.Regexp(t, `\n  `+sub+` +\S`, out)
	}
	_, out, _ = runCLI(t, "bench", "--help")
	require.Contains(t, out, "signup")
	require.Contains(t, out, "subscriptions")

	// token revoke's --token line is whole.
	_, out, _ = runCLI(t, "token", "revoke", "--help")
	require.Regexp(t, `\n +--token string +the token's id or display prefix, as "tenantd token list" shows them; required\n`, out)

	// The variables are one help topic, and serve's flags name them.
	code, out, _ := runCLI(t, "help", "environment")
	require.Equal(t, 0, code)
	for _, name := range []string{"TENANTD_ADDR, --addr", "TENANTD_SWEEP_INTERVAL, --sweep-interval", "SMTP_URL, --smtp-url"} {
		require.Contains(t, out, name)
	}
	_, out, _ = runCLI(t, "serve", "--help")
	require.Regexp(t, `\n +--addr string +address to listen on \(host:port\) \(env TENANTD_ADDR\) \(default "127.0.0.1:8080"\)\n`, out)

	// Mistakes: exit status 2 and a pointer to the help.
	code, _, errOut := runCLI(t, "token", "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "frobnicate" for "tenantd token"`)
	code, _, errOut = runCLI(t, "check", "-url", "http://x")
	require.Equal(t, 2, code, "a single dash is a shorthand, not -url")
	require.Contains(t, errOut, `Run "tenantd check --help" for usage.`)
	code, _, errOut = runCLI(t, "import")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "give the archive: tenantd import ARCHIVE")
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	require.Equal(t, 0, code)
	require.Equal(t, "tenantd "+version.String()+"\n", out)

	// A build with the version linked in reports it on --version and /healthz.
	bin := filepath.Join(t.TempDir(), "tenantd")
	b, err := exec.Command("go", "build", "-ldflags", "-X github.com/tenantd/tenantd/internal/version.Version=v9.8.7-test", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", b)
	b, err = exec.Command(bin, "--version").Output()
	require.NoError(t, err)
	require.Equal(t, "tenantd v9.8.7-test\n", string(b))

	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", t.TempDir())
	var log testpeer.Output
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var health struct{ Status, Version string }
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&health) == nil
	}, 30*time.Second, 20*time.Millisecond, "%s", &log)
	require.Equal(t, "ok", health.Status)
	require.Equal(t, "v9.8.7-test", health.Version)
	require.Contains(t, log.String(), "version=v9.8.7-test", "the start-up log names the version")

	// SIGINT: a clean stop is exit status 0.
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, cmd.Wait(), "%s", &log)
	require.Contains(t, log.String(), "stopped")
}

// TestBusyPortReportedBeforeMigrations: serve listens first, so a taken
// port stops it before it touches the database.
func TestBusyPortReportedBeforeMigrations(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	dataDir := t.TempDir()
	code, _, errOut := runCLI(t, "serve", "--addr", ln.Addr().String(), "--data-dir", dataDir)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "listen on "+ln.Addr().String()+" (TENANTD_ADDR)")
	require.Contains(t, errOut, "address already in use")
	require.Contains(t, errOut, "choose another port with TENANTD_ADDR=127.0.0.1:PORT or --addr")
	require.NotContains(t, errOut, "migrations applied")
	_, err = os.Stat(filepath.Join(dataDir, "tenantd.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "no database was made")

	// The same for the metrics address.
	code, _, errOut = runCLI(t, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", ln.Addr().String(), "--data-dir", dataDir)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "(TENANTD_METRICS_ADDR)")
	_, err = os.Stat(filepath.Join(dataDir, "tenantd.db"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestPortOutOfRangeRefused(t *testing.T) {
	code, _, errOut := runCLI(t, "serve", "--addr", "127.0.0.1:99999", "--data-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `invalid --addr: the port "99999" is not a number from 0 to 65535`)
	t.Setenv("TENANTD_ADDR", "127.0.0.1:99999")
	code, _, errOut = runCLI(t, "check", "--token", "tda_x")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `invalid TENANTD_ADDR: the port "99999" is not a number from 0 to 65535`)
}

func TestUnknownVariableSuggestion(t *testing.T) {
	t.Setenv("TENANTD_DATADIR", "/tmp/x")
	code, _, errOut := runCLI(t, "token", "list")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "unknown variable TENANTD_DATADIR (did you mean TENANTD_DATA_DIR?)")
}

// devServer is `tenantd serve` in development without TENANTD_ADMIN_TOKEN,
// run in this process until stop.
type devServer struct {
	URL, Token string
	stop       func()
}

func startDevServer(t *testing.T, args ...string) *devServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testpeer.Output
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--env", "development"}, args...), &out, &errOut)
	}()
	running := regexp.MustCompile(`tenantd is running at (\S+) \(development\)[\s\S]*admin token: (tda_\S+)`)
	var m []string
	require.Eventually(t, func() bool {
		m = running.FindStringSubmatch(out.String())
		select {
		case code := <-done:
			done <- code
			return true
		default:
		}
		return m != nil
	}, 60*time.Second, 20*time.Millisecond)
	require.NotNil(t, m, "serve did not start:\n%s", &errOut)
	s := &devServer{URL: m[1], Token: m[2]}
	s.stop = func() {
		cancel()
		require.Equal(t, 0, <-done, "%s", &errOut)
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			s.stop()
		}
	})
	return s
}

func authenticates(t *testing.T, base, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ tenants(first: 1) { totalCount } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct{ Errors []any }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode == http.StatusOK && len(body.Errors) == 0
}

// TestCheckReadsTheDevelopmentToken: without --token, check uses the token
// the development server keeps in the data dir.
func TestCheckReadsTheDevelopmentToken(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	srv := startDevServer(t, "--data-dir", dataDir)
	code, out, errOut := runCLI(t, "check", "--url", srv.URL, "--data-dir", dataDir)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "PASS  Signup end to end")
	require.Contains(t, out, "readiness: ")

	code, _, errOut = runCLI(t, "check", "--url", srv.URL, "--data-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "an admin token is needed: --token, TENANTD_ADMIN_TOKEN, or in development the token a server keeps in ")
}

// TestDevelopmentTokenPerStore: SQLite and PostgreSQL run from one data dir
// keep a token each; a new token revokes the one it replaces.
func TestDevelopmentTokenPerStore(t *testing.T) {
	if !slices.Contains(storetest.Kinds(t), storetest.Postgres) {
		t.Skip("needs PostgreSQL")
	}
	t.Parallel()
	dataDir := t.TempDir()
	sqlite := startDevServer(t, "--data-dir", dataDir)
	sqliteToken := sqlite.Token
	sqlite.stop()

	pgURL := storetest.NewPostgresDatabase(t)
	pgFlags := []string{"--data-dir", dataDir, "--database-url", pgURL, "--owner-database-url", storetest.OwnerURL(pgURL)}
	pg := startDevServer(t, pgFlags...)
	require.NotEqual(t, sqliteToken, pg.Token)
	cfg, err := config.Load(nil, nil)
	require.NoError(t, err)
	cfg.DataDir, cfg.DatabaseURL = dataDir, pgURL
	pgFile := cfg.DevTokenPath()
	require.NotEqual(t, filepath.Join(dataDir, "dev-admin-token"), pgFile)
	b, err := os.ReadFile(pgFile)
	require.NoError(t, err)
	require.Equal(t, pg.Token+"\n", string(b))
	b, err = os.ReadFile(filepath.Join(dataDir, "dev-admin-token"))
	require.NoError(t, err)
	require.Equal(t, sqliteToken+"\n", string(b), "the SQLite server's token is left alone")
	// check finds the PostgreSQL server's token with the same configuration.
	code, out, errOut := runCLI(t, "check", "--url", pg.URL, "--data-dir", dataDir, "--database-url", pgURL)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	pg.stop()

	// Both keep their token across restarts.
	sqlite = startDevServer(t, "--data-dir", dataDir)
	require.Equal(t, sqliteToken, sqlite.Token)
	require.True(t, authenticates(t, sqlite.URL, sqliteToken))
	sqlite.stop()
	pg = startDevServer(t, pgFlags...)
	first := pg.Token
	require.True(t, authenticates(t, pg.URL, first))
	pg.stop()

	// The file lost (rm -rf data with the database kept): the new token
	// replaces the old one, which stops working.
	require.NoError(t, os.Remove(pgFile))
	pg = startDevServer(t, pgFlags...)
	require.NotEqual(t, first, pg.Token)
	require.True(t, authenticates(t, pg.URL, pg.Token))
	require.False(t, authenticates(t, pg.URL, first), "the replaced token is revoked")
	code, out, _ = runCLI(t, "token", "list", "--data-dir", dataDir, "--database-url", pgURL)
	require.Equal(t, 0, code)
	active := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "development (generated at start)") && strings.Contains(line, " active ") {
			active++
			require.Contains(t, line, auth.Display(pg.Token))
		}
	}
	require.Equal(t, 1, active, "one development token per store:\n%s", out)
	pg.stop()
}

// TestMakeRunStopsCleanly: `make run` builds bin/tenantd, starts it, and
// Ctrl-C (SIGINT to the terminal's process group) stops tenantd cleanly
// with no make error (`go run` exited 1 after a clean stop: "make: ***
// [Makefile:12: run] Error 1").
func TestMakeRunStopsCleanly(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("make is needed: CI runs `make test`")
		}
		t.Skip("no make")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	cmd := exec.Command("make", "--no-print-directory", "-C", root, "run")
	cmd.Env = append(os.Environ(), "TENANTD_ADDR=127.0.0.1:0", "TENANTD_DATA_DIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out testpeer.Output
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "tenantd is running at") },
		9*time.Minute, 50*time.Millisecond, "%s", &out)
	require.Contains(t, out.String(), "bin/tenantd serve", "make runs the built binary")
	require.NotContains(t, out.String(), "go run")
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	// make itself got the SIGINT: it waits for tenantd, then ends as
	// interrupted (a shell shows nothing of it), unless tenantd failed,
	// which make reports as "make: *** [run] Error 1" and exit status 2.
	err = cmd.Wait()
	if err != nil {
		status := cmd.ProcessState.Sys().(syscall.WaitStatus)
		require.True(t, status.Signaled() && status.Signal() == syscall.SIGINT, "make: %v\n%s", err, &out)
	}
	require.NotContains(t, out.String(), "make: ***", "make reports no error")
	require.NotContains(t, out.String(), "exit status")
	require.Contains(t, out.String(), "stopped")
	_, err = os.Stat(filepath.Join(root, "bin", "tenantd"))
	require.NoError(t, err)
}

// TestFirstBuildSaysWhatItDoes: the build behind make run says when it
// builds the binary for the first time, and is quiet when it only checks.
func TestFirstBuildSaysWhatItDoes(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "tenantd")
	build := func() string {
		cmd := exec.Command(filepath.Join(root, "scripts", "build-bin.sh"))
		cmd.Env = append(os.Environ(), "OUT="+bin)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	out := build()
	require.Contains(t, out, "building "+bin+" (the first build takes about 1½ min on 2 cores; later ones only recompile what changed)…\n")
	require.Regexp(t, `built .*tenantd in \d+s\n$`, out)
	require.Empty(t, build(), "an up-to-date binary: nothing to say")
	b, err := exec.Command(bin, "--version").Output()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "tenantd "))
}
