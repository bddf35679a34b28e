package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// gqlDo posts a GraphQL request and decodes its data into out; it fails
// the test on a transport error or GraphQL errors.
func gqlDo(t *testing.T, base, token, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	var resp struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	require.NoError(t, json.Unmarshal(raw, &resp), "%s", raw)
	require.Empty(t, resp.Errors, "%s", raw)
	if out != nil {
		require.NoError(t, json.Unmarshal(resp.Data, out))
	}
}

// waitExit waits for a process that is to kill itself.
func (p *process) waitExit(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("tenantd did not reach its crash point; it printed:\n%s", p.log.String())
	}
}

// TestMoveCrashSafety SIGKILLs the real server in each phase of a plan
// change that moves a tenant's data (starter → pro, pool → silo) and
// restarts it: the operation completes, the data is intact, and the tenant
// always has one working placement.
func TestMoveCrashSafety(t *testing.T) {
	t.Parallel()
	points := []string{
		"step:CHANGE_PLAN:prepare:after",
		"move:copied:1",
		"step:CHANGE_PLAN:verify:before",
		"move:switch",
		"move:switched",
		"step:CHANGE_PLAN:cleanup:before",
	}
	for _, k := range storetest.Kinds(t) {
		for _, point := range points {
			t.Run(string(k)+"/"+strings.ReplaceAll(point, ":", "_"), func(t *testing.T) {
				t.Parallel()
				moveCrash(t, k, point)
			})
		}
	}
}

func moveCrash(t *testing.T, k storetest.Kind, point string) {
	addr := freeAddr(t)
	base := "http://" + addr
	dataDir := t.TempDir()
	const admin = "tda_move_crash_admin_token_0000000"
	env := []string{"TENANTD_ADDR=" + addr, "TENANTD_DATA_DIR=" + dataDir, "TENANTD_ADMIN_TOKEN=" + admin,
		"TENANTD_LOG_LEVEL=warn", "TENANTD_MOVE_SOURCE_GRACE=0s"}
	var dbURL string
	if k == storetest.Postgres {
		dbURL = storetest.NewPostgresDatabase(t)
		env = append(env, "DATABASE_URL="+dbURL, "TENANTD_OWNER_DATABASE_URL="+storetest.OwnerURL(dbURL))
	}
	proc := startProcess(t, append(env, crashEnv+"="+point))
	waitHealthy(t, base)

	var su struct {
		SignUp struct {
			Tenant struct{ ID uuid.UUID }
			APIKey string
		}
	}
	gqlDo(t, base, "", `mutation($in: SignUpInput!) { signUp(input: $in) { tenant { id } apiKey } }`, map[string]any{"in": map[string]any{
		"name": "Crash mover", "slug": "crash-mover", "email": "owner@crash-mover.example.com", "plan": "starter",
		"paymentMethod": "pm_card_visa", "idempotencyKey": uuid.NewString()}}, &su)
	id, key := su.SignUp.Tenant.ID, su.SignUp.APIKey
	require.Eventually(t, func() bool {
		var tn struct{ Tenant struct{ State string } }
		gqlDo(t, base, admin, fmt.Sprintf(`{ tenant(id: %q) { state } }`, id), nil, &tn)
		return tn.Tenant.State == "ACTIVE"
	}, 30*time.Second, 20*time.Millisecond)
	const docs = 40
	for i := range docs {
		gqlDo(t, base, key, `mutation($t: String!, $c: String!) { uploadDocument(input: {title: $t, content: $c}) { document { id } } }`,
			map[string]any{"t": fmt.Sprintf("doc %d", i), "c": fmt.Sprintf("crash words %d", i)}, nil)
	}
	for range 3 {
		gqlDo(t, base, key, `{ searchDocuments(query: "crash", first: 3) { score } }`, nil, nil)
	}

	var cp struct {
		ChangePlan struct{ Operation struct{ ID uuid.UUID } }
	}
	gqlDo(t, base, key, `mutation($in: ChangePlanInput!) { changePlan(input: $in) { operation { id } } }`,
		map[string]any{"in": map[string]any{"tenantId": id, "plan": "pro"}}, &cp)
	opID := cp.ChangePlan.Operation.ID
	proc.waitExit(t)
	t.Logf("%s: killed at %s", k, point)

	proc = startProcess(t, env)
	waitHealthy(t, base)
	// The tenant works while the operation waits to be rescued and resumes.
	var page struct{ Documents struct{ TotalCount int } }
	gqlDo(t, base, key, `{ documents(first: 1) { totalCount } }`, nil, &page)
	require.Equal(t, docs, page.Documents.TotalCount, "the tenant reads its data after the crash")

	var op struct {
		Operation struct {
			Status string
			Error  *struct{ Message string }
			Steps  []struct{ Name, Status, Detail string }
		}
	}
	require.Eventually(t, func() bool {
		gqlDo(t, base, admin, fmt.Sprintf(`{ operation(id: %q) { status error { message } steps { name status detail } } }`, opID), nil, &op)
		return op.Operation.Status == "SUCCEEDED" || op.Operation.Status == "FAILED"
	}, 120*time.Second, 100*time.Millisecond, "the operation never finished; tenantd printed:\n%s", proc.log.String())
	require.Equal(t, "SUCCEEDED", op.Operation.Status, "%+v", op.Operation)

	var tn struct {
		Tenant struct{ Plan struct{ Key string } }
	}
	gqlDo(t, base, key, fmt.Sprintf(`{ tenant(id: %q) { plan { key } } }`, id), nil, &tn)
	require.Equal(t, "pro", tn.Tenant.Plan.Key)
	gqlDo(t, base, key, `{ documents(first: 1) { totalCount } }`, nil, &page)
	require.Equal(t, docs, page.Documents.TotalCount, "every document, once")
	var hits struct{ SearchDocuments []struct{ Score float64 } }
	gqlDo(t, base, key, `{ searchDocuments(query: "crash", first: 50) { score } }`, nil, &hits)
	require.Len(t, hits.SearchDocuments, docs)

	// Where the data is: the silo, and nothing left in the pool.
	var (
		db     *sql.DB
		err    error
		inPool int
	)
	if k == storetest.Postgres {
		db, err = sql.Open("pgx", storetest.OwnerURL(dbURL))
		require.NoError(t, err)
		defer db.Close()
		var inSilo int
		require.NoError(t, db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %q.documents`, wsdriver.SchemaName(id))).Scan(&inSilo))
		require.Equal(t, docs, inSilo)
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM public.documents WHERE tenant_id = $1`, id).Scan(&inPool))
	} else {
		silo, err := sql.Open("sqlite", store.SQLiteDSN(filepath.Join(dataDir, "workspaces", id.String()+".db")))
		require.NoError(t, err)
		defer silo.Close()
		var inSilo int
		require.NoError(t, silo.QueryRow(`SELECT count(*) FROM documents`).Scan(&inSilo))
		require.Equal(t, docs, inSilo)
		db, err = sql.Open("sqlite", store.SQLiteDSN(filepath.Join(dataDir, "tenantd.db")))
		require.NoError(t, err)
		defer db.Close()
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM documents WHERE tenant_id = ?`, id).Scan(&inPool))
	}
	require.Zero(t, inPool, "the pool copy is destroyed")
	var workspaces int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM workspaces WHERE destroyed_at IS NULL`).Scan(&workspaces))
	require.Equal(t, 1, workspaces, "one placement")
}
