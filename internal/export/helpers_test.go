package export_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace"
)

var sys = tenantd.SystemContext(context.Background())

var admin = lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "admin:test"}

// noJobs stands for River: operations are worked by the test (work).
type noJobs struct{ n atomic.Int64 }

func (j *noJobs) InsertTx(context.Context, *sql.Tx, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{ID: j.n.Add(1)}}, nil
}

// bundle is a database with the services an export needs.
type bundle struct {
	db      *store.DB
	clock   *clockwork.FakeClock
	machine *lifecycle.Machine
	ws      *workspace.Service
	ops     *operation.Engine
	auth    *auth.Service
	svc     *export.Service
	dir     string
}

func setup(t *testing.T, db *store.DB, hooks export.Hooks) *bundle {
	t.Helper()
	b := &bundle{db: db, clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)), dir: t.TempDir()}
	pub := events.NewPublisher(events.NewHub())
	b.ws = workspace.New(db, workspace.Config{DataDir: t.TempDir(), Clock: b.clock})
	t.Cleanup(func() { b.ws.Close() })
	b.ops = operation.New(operation.Config{DB: db, Jobs: &noJobs{}, Events: pub, Clock: b.clock})
	b.machine = lifecycle.New(lifecycle.Config{DB: db, Operations: b.ops, Events: pub, Clock: b.clock})
	b.auth = auth.New(db, pub, auth.WithClock(b.clock))
	svc, err := export.New(export.Config{DB: db, Lifecycle: b.machine, Workspaces: b.ws, Operations: b.ops, Events: pub,
		Auth: b.auth, Clock: b.clock, Dir: filepath.Join(b.dir, "exports"), Hooks: hooks})
	require.NoError(t, err)
	b.svc = svc
	return b
}

// tenant makes an ACTIVE tenant of the plan with its workspace.
func (b *bundle) tenant(t *testing.T, planKey string) uuid.UUID {
	t.Helper()
	slug := "ex-" + uuid.NewString()[:8]
	sum := sha256.Sum256([]byte(slug))
	var id uuid.UUID
	p, err := plans.ByKey(sys, b.db.Ent, planKey)
	require.NoError(t, err)
	sysActor := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "test"}
	require.NoError(t, b.db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
		res, err := b.machine.CreateTx(ctx, tx, lifecycle.NewTenant{Name: "Tenant " + slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
			Email: slug + "@example.com", PlanID: p.ID, Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"}, Reason: "signed up by Ada"})
		if err != nil {
			return err
		}
		id = res.Tenant.ID
		if _, err := b.machine.FireTx(ctx, tx, lifecycle.Request{TenantID: id, Event: tenantd.EventProvision, Actor: sysActor}); err != nil {
			return err
		}
		if _, err := b.ws.CreateTx(ctx, tx, id, p.Isolation); err != nil {
			return err
		}
		if _, _, err := auth.IssueAPIKey(ctx, tx.Ent, id, "owner", "test"); err != nil {
			return err
		}
		_, err = b.machine.FireTx(ctx, tx, lifecycle.Request{TenantID: id, Event: tenantd.EventActivate, Actor: sysActor})
		return err
	}))
	return id
}

// fill uploads documents and runs searches (the query log).
func (b *bundle) fill(t *testing.T, id uuid.UUID, docs map[string]string, queries ...string) {
	t.Helper()
	for title, content := range docs {
		_, _, err := b.ws.Upload(sys, id, title, content)
		require.NoError(t, err)
		b.clock.Advance(time.Second)
	}
	for _, q := range queries {
		_, err := b.ws.Search(sys, id, q, 5)
		require.NoError(t, err)
		b.clock.Advance(time.Second)
	}
}

// export requests an export and works its operation to the end.
func (b *bundle) export(t *testing.T, id uuid.UUID, format string) *ent.Export {
	t.Helper()
	op, exp, err := b.svc.Request(sys, id, format, admin, "")
	require.NoError(t, err)
	require.Equal(t, tenantd.OpExport, op.Kind)
	require.NoError(t, b.ops.Work(sys, op.ID, 1, 3))
	op, err = b.db.Ent.Operation.Get(sys, op.ID)
	require.NoError(t, err)
	require.Equal(t, tenantd.OpSucceeded, op.Status, "export failed: %v", op.ErrorMessage)
	exp, err = b.svc.ExportOf(sys, op.ID)
	require.NoError(t, err)
	return exp
}

// archivePath is where the store keeps an export's archive.
func (b *bundle) archivePath(exp *ent.Export) string {
	return filepath.Join(b.svc.Dir(), filepath.FromSlash(*exp.Location))
}

// contents is an archive read whole (tests only: small archives).
type contents struct {
	names    []string
	files    map[string][]byte
	manifest export.Manifest
}

func readArchive(t *testing.T, path string) *contents {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	c := &contents{files: map[string][]byte{}}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		body, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		c.names = append(c.names, f.Name)
		c.files[f.Name] = body
	}
	require.NoError(t, json.Unmarshal(c.files[export.FileManifest], &c.manifest))
	return c
}

// jsonLines decodes each line of a .jsonl file.
func jsonLines(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

// csvRows decodes a .csv file as objects keyed by its header.
func csvRows(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	// encoding/csv turns \r\n into \n even inside quoted cells: read with
	// the carriage returns stood in for, as Import does.
	r := csv.NewReader(bytes.NewReader(bytes.ReplaceAll(body, []byte("\r"), []byte{0xFF})))
	all, err := r.ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, all, "a header row")
	var out []map[string]any
	for _, row := range all[1:] {
		m := map[string]any{}
		for i, k := range all[0] {
			m[k] = strings.ReplaceAll(row[i], "\xff", "\r")
		}
		out = append(out, m)
	}
	return out
}

// records decodes a record file of either format.
func (c *contents) records(t *testing.T, base string) []map[string]any {
	t.Helper()
	name := export.FileName(base, c.manifest.Format)
	body, ok := c.files[name]
	require.True(t, ok, "the archive has %s", name)
	if c.manifest.Format == export.CSV {
		return csvRows(t, body)
	}
	return jsonLines(t, body)
}

// rezip writes a copy of the archive at src with each file passed through
// edit (which may drop it by returning nil).
func rezip(t *testing.T, src string, edit func(name string, body []byte) []byte) string {
	t.Helper()
	c := readArchive(t, src)
	out := filepath.Join(t.TempDir(), "edited.zip")
	f, err := os.Create(out)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for _, name := range c.names {
		body := edit(name, c.files[name])
		if body == nil {
			continue
		}
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write(body)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return out
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func tenantCount(t *testing.T, db *store.DB) int {
	t.Helper()
	n, err := db.Ent.Tenant.Query().Count(sys)
	require.NoError(t, err)
	return n
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
