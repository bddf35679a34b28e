package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/readiness"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/testpeer"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelpAndUsageErrors(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "audit verify")
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"token", "create"}, {"audit", "verify"}} {
		code, out, _ := runCLI(t, append(cmd, "--help")...)
		require.Equal(t, 0, code, cmd)
		require.Contains(t, out, "Usage:\n  tenantd "+strings.Join(cmd, " ")+" [flags]")
		require.Contains(t, out, "--data-dir string")
		require.Contains(t, out, "(env TENANTD_DATA_DIR)")
	}
	code, _, errOut := runCLI(t, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)
	code, _, errOut = runCLI(t, "migrate", "--data-dir", " ")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "invalid --data-dir: must not be empty")
	code, _, errOut = runCLI(t, "migrate", "--addr", "127.0.0.1:1")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "unknown flag: --addr", "migrate does not listen: TENANTD_ADDR is not its flag")
	code, _, errOut = runCLI(t, "token", "create", "--role", "root", "--data-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--role must be admin or partner")
}

func TestMigrateTokenAndAudit(t *testing.T) {
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			dbFlag := []string{"--data-dir", t.TempDir()}
			if k == storetest.Postgres {
				url := storetest.NewPostgresDatabase(t)
				dbFlag = append(dbFlag, "--database-url", url, "--owner-database-url", storetest.OwnerURL(url))
			}
			code, out, errOut := runCLI(t, append([]string{"migrate"}, dbFlag...)...)
			require.Equal(t, 0, code, errOut)
			if k == storetest.SQLite {
				require.Contains(t, out, "migrations applied")
			}
			code, out, _ = runCLI(t, append([]string{"migrate"}, dbFlag...)...)
			require.Equal(t, 0, code)
			require.Contains(t, out, "already up to date")

			code, out, errOut = runCLI(t, append([]string{"token", "create", "--role", "partner", "--name", "ci"}, dbFlag...)...)
			require.Equal(t, 0, code, errOut)
			require.True(t, strings.HasPrefix(strings.TrimSpace(out), "tda_"), out)
			require.Contains(t, errOut, "shown once")
			prefix := strings.TrimSpace(out)[:12]
			code, out, _ = runCLI(t, append([]string{"token", "list"}, dbFlag...)...)
			require.Equal(t, 0, code)
			require.Contains(t, out, prefix)
			require.Contains(t, out, "active")
			code, out, _ = runCLI(t, append([]string{"token", "revoke", "--token", prefix}, dbFlag...)...)
			require.Equal(t, 0, code)
			require.Contains(t, out, "revoked PARTNER token "+prefix)
			code, out, _ = runCLI(t, append([]string{"token", "list"}, dbFlag...)...)
			require.Equal(t, 0, code)
			require.Contains(t, out, "revoked")
			code, _, errOut = runCLI(t, append([]string{"token", "revoke", "--token", "tda_nothere00"}, dbFlag...)...)
			require.Equal(t, 1, code)
			require.Contains(t, errOut, "no admin token")

			// Seed a few tenants with history, then audit.
			db := openForTest(t, dbFlag)
			m := lifecycle.New(lifecycle.Config{DB: db})
			sys := tenantd.SystemContext(context.Background())
			var victim *lifecycle.Result
			for i := range 3 {
				slug := "cli-" + string(rune('a'+i))
				sum := sha256.Sum256([]byte(slug))
				var res *lifecycle.Result
				require.NoError(t, db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
					var err error
					res, err = m.CreateTx(ctx, tx, lifecycle.NewTenant{Name: slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
						PlanID: plans.ID(plans.Free), Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "cli-test"}})
					return err
				}))
				res, err := m.Fire(sys, lifecycle.Request{TenantID: res.Tenant.ID, Event: tenantd.EventProvision,
					Actor: lifecycle.Actor{By: tenantd.TriggerSystem, Name: "cli-test"}})
				require.NoError(t, err)
				if i == 1 {
					victim = res
				}
			}
			code, out, _ = runCLI(t, append([]string{"audit", "verify"}, dbFlag...)...)
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "audit OK: 3 tenants, 6 history rows")

			tamper := `UPDATE state_transitions SET actor = 'mallory' WHERE id = '` + victim.Transition.ID.String() + `'`
			if db.IsPostgres() {
				tamper = `ALTER TABLE state_transitions DISABLE TRIGGER state_transitions_append_only; ` + tamper +
					`; ALTER TABLE state_transitions ENABLE TRIGGER state_transitions_append_only`
			} else {
				tamper = `DROP TRIGGER state_transitions_no_update; ` + tamper
			}
			_, err := storetest.Owner(t, db).ExecContext(context.Background(), tamper)
			require.NoError(t, err)
			code, out, _ = runCLI(t, append([]string{"audit", "verify"}, dbFlag...)...)
			require.Equal(t, 1, code)
			require.Contains(t, out, "audit FAILED")
			require.Contains(t, out, victim.Transition.ID.String())
			require.Contains(t, out, "seq 2")
		})
	}
}

func openForTest(t *testing.T, flags []string) *store.DB {
	t.Helper()
	opts := store.Options{}
	for i := 0; i < len(flags); i += 2 {
		switch flags[i] {
		case "--data-dir":
			opts.DataDir = flags[i+1]
		case "--database-url":
			opts.DatabaseURL = flags[i+1]
		}
	}
	db, err := store.Open(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestServeShutsDownOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testpeer.Output
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, &out, &errOut)
	}()
	require.Eventually(t, func() bool { return strings.Contains(errOut.String(), "tenantd listening") }, 20*time.Second, 20*time.Millisecond)
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	require.Contains(t, out.String(), "admin token: tda_", "development prints a generated admin token")
	require.Contains(t, errOut.String(), "stopped")
}

func TestCheckCommand(t *testing.T) {
	t.Parallel()
	healthy := servertest.Start(t, storetest.SQLite)
	code, out, errOut := runCLI(t, "check", "--url", healthy.URL, "--token", servertest.AdminToken)
	// A fresh server has no real signups: the funnel check warns, nothing fails.
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "PASS  Signup end to end")
	require.Contains(t, out, "WARN  Activation funnel tracked")

	broken := servertest.StartWith(t, storetest.SQLite, nil, []server.Option{
		server.WithoutWorkers(), server.WithReadiness(func(c *readiness.Checker) { c.Limit = 300 * time.Millisecond }),
	})
	code, out, _ = runCLI(t, "check", "--url", broken.URL, "--token", servertest.AdminToken)
	require.Equal(t, 1, code)
	require.Contains(t, out, "FAIL  Provisioning speed")
	require.Contains(t, out, "readiness: FAIL")

	code, _, errOut = runCLI(t, "check", "--url", healthy.URL, "--data-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "admin token")
}
