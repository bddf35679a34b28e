package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/charge"
	"github.com/tenantd/tenantd/ent/keyset"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/mail/mailpittest"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// buildBinary builds the tenantd binary once for the process tests.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tenantd-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tenantd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a real tenantd process.
type process struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func startProcess(t *testing.T, env []string) *process {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, log: &log}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			out := log.Bytes()
			if len(out) > 16<<10 {
				out = out[len(out)-16<<10:]
			}
			t.Logf("tenantd %s (pid %d) printed:\n%s", strings.Join(env, " "), cmd.Process.Pid, out)
		}
	})
	return p
}

func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 60*time.Second, 25*time.Millisecond, "tenantd did not become ready")
}

// signUpUntilDone retries one signup, with one idempotency key, until it
// gets an answer: what a client does when the server dies under it.
func signUpUntilDone(ctx context.Context, base, slug, plan string) (uuid.UUID, error) {
	body, _ := json.Marshal(map[string]any{
		"query": `mutation($in: SignUpInput!) { signUp(input: $in) { tenant { id } } }`,
		"variables": map[string]any{"in": map[string]any{
			"name": "Crash " + slug, "slug": slug, "email": "owner@" + slug + ".example.com",
			"plan": plan, "paymentMethod": "pm_card_visa", "idempotencyKey": "crash-" + slug + "-key",
		}},
	})
	client := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		resp, err := client.Post(base+"/graphql", "application/json", bytes.NewReader(body))
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var r struct {
			Data struct {
				SignUp struct{ Tenant struct{ ID uuid.UUID } }
			}
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			continue
		}
		if len(r.Errors) == 0 {
			return r.Data.SignUp.Tenant.ID, nil
		}
		switch r.Errors[0].Extensions["code"] {
		case "CONFLICT", "INTERNAL":
			time.Sleep(200 * time.Millisecond) // the first attempt died holding the key
			continue
		default:
			return uuid.Nil, fmt.Errorf("%s: %s", slug, r.Errors[0].Message)
		}
	}
	return uuid.Nil, ctx.Err()
}

// TestCrashSafety starts the real tenantd on PostgreSQL, fires 50 signups,
// SIGKILLs the process three times at random moments while provisioning
// runs, restarts it, and checks that every tenant ends ACTIVE with exactly
// one workspace, one key set, one owner key, one email (one Message-ID
// received) and one charge, and that every chain verifies.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("starts and kills real processes; run without -short (never skipped under CI=true)")
	}
	dbURL := storetest.NewPostgresDatabase(t)
	// Delivery is at least once: a kill between the SMTP server's acceptance
	// and the SENT mark resends the message with the same Message-ID. The
	// receiving side recognizes it by that id, as Mailpit does here.
	mp := mailpittest.StartWithArgs(t, "--ignore-duplicate-ids")
	addr := freeAddr(t)
	base := "http://" + addr
	env := []string{
		"TENANTD_ADDR=" + addr, "DATABASE_URL=" + dbURL, "TENANTD_OWNER_DATABASE_URL=" + storetest.OwnerURL(dbURL), "SMTP_URL=" + mp.SMTPURL(),
		"TENANTD_DATA_DIR=" + t.TempDir(), "TENANTD_ADMIN_TOKEN=tda_crash_test_admin_token_000000", "TENANTD_LOG_LEVEL=warn",
	}
	proc := startProcess(t, env)
	waitHealthy(t, base)

	const n = 50
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ids   = map[uuid.UUID]string{}
		fails []error
	)
	slugs := make(chan string, n)
	for i := range n {
		plan := []string{"free", "starter", "pro", "enterprise"}[i%4]
		slugs <- fmt.Sprintf("crash-%02d-%s", i, plan)
	}
	close(slugs)
	for range 10 {
		wg.Go(func() {
			for slug := range slugs {
				plan := slug[strings.LastIndexByte(slug, '-')+1:]
				id, err := signUpUntilDone(ctx, base, slug, plan)
				mu.Lock()
				if err != nil {
					fails = append(fails, err)
				} else {
					ids[id] = slug
				}
				mu.Unlock()
			}
		})
	}

	// Three SIGKILLs at random moments while signups and provisioning run.
	var logs []string
	for kill := range 3 {
		time.Sleep(time.Duration(150+rand.IntN(600)) * time.Millisecond)
		proc.kill()
		logs = append(logs, proc.log.String())
		t.Logf("SIGKILL %d", kill+1)
		proc = startProcess(t, env)
		waitHealthy(t, base)
	}
	wg.Wait()
	require.Empty(t, fails)
	require.Len(t, ids, n)

	db, err := store.Open(context.Background(), store.Options{DatabaseURL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	defer db.Close()
	sys := tenantd.SystemContext(context.Background())
	require.Eventually(t, func() bool {
		active, err := db.Ent.Tenant.Query().Where().Count(sys)
		if err != nil || active != n {
			return false
		}
		var notActive int
		_ = db.SQL.QueryRow(`SELECT count(*) FROM tenants WHERE state <> 'ACTIVE'`).Scan(&notActive)
		return notActive == 0
	}, 150*time.Second, 250*time.Millisecond, "every tenant becomes ACTIVE; last log:\n%s", proc.log.String())

	require.Eventually(t, func() bool {
		var unsent int
		_ = db.SQL.QueryRow(`SELECT count(*) FROM outbox_messages WHERE status <> 'SENT'`).Scan(&unsent)
		return unsent == 0
	}, 60*time.Second, 250*time.Millisecond, "every email is sent")

	mails := map[string][]string{}
	for _, m := range mp.Messages(t) {
		for _, to := range m.To {
			mails[to.Address] = append(mails[to.Address], m.MessageID)
		}
	}
	schemas := 0
	require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'ws_%'`).Scan(&schemas))
	silos := 0
	for _, slug := range ids {
		if strings.HasSuffix(slug, "-pro") || strings.HasSuffix(slug, "-enterprise") {
			silos++
		}
	}
	require.Equal(t, silos, schemas, "one schema per silo tenant (pro, enterprise)")
	for id, slug := range ids {
		count := func(q interface {
			Count(context.Context) (int, error)
		}) int {
			c, err := q.Count(sys)
			require.NoError(t, err)
			return c
		}
		require.Equal(t, 1, count(db.Ent.Workspace.Query().Where(workspace.TenantID(id))), "%s: one workspace", slug)
		require.Equal(t, 1, count(db.Ent.KeySet.Query().Where(keyset.TenantID(id))), "%s: one key set", slug)
		require.Equal(t, 1, count(db.Ent.APIKey.Query().Where(apikey.TenantID(id))), "%s: one owner key", slug)
		require.Equal(t, 1, count(db.Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id))), "%s: one email queued", slug)
		require.Len(t, mails["owner@"+slug+".example.com"], 1, "%s: one email delivered", slug)
	}
	charges, err := db.Ent.Charge.Query().Where(charge.ProviderEQ("test")).Count(sys)
	require.NoError(t, err)
	require.Equal(t, n, charges, "one charge per tenant, none without a tenant")

	bin, err := buildBinary()
	require.NoError(t, err)
	out, err := exec.Command(bin, "audit", "verify", "--database-url", dbURL).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), fmt.Sprintf("audit OK: %d tenants", n))
}

func httpPost(url, token string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
