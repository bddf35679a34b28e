package workspace_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/milestone"
	"github.com/tenantd/tenantd/ent/plan"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace"
)

var sys = tenantd.SystemContext(context.Background())

type bundle struct {
	db      *store.DB
	m       *lifecycle.Machine
	ws      *workspace.Service
	dataDir string
}

func setup(t *testing.T, db *store.DB) *bundle {
	t.Helper()
	dir := t.TempDir()
	ws := workspace.New(db, workspace.Config{DataDir: dir, MaxDocumentBytes: 64 << 10})
	t.Cleanup(func() { ws.Close() })
	return &bundle{db: db, m: lifecycle.New(lifecycle.Config{DB: db}), ws: ws, dataDir: dir}
}

// tenant makes an ACTIVE tenant of the plan with its workspace.
func (b *bundle) tenant(t *testing.T, planKey string) uuid.UUID {
	t.Helper()
	slug := "ws-" + uuid.NewString()[:8]
	sum := sha256.Sum256([]byte(slug))
	p, err := b.db.Ent.Plan.Query().Where(plan.Key(planKey)).Only(sys)
	require.NoError(t, err)
	var id uuid.UUID
	require.NoError(t, b.db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
		res, err := b.m.CreateTx(ctx, tx, lifecycle.NewTenant{Name: slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
			PlanID: p.ID, Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"}})
		if err != nil {
			return err
		}
		id = res.Tenant.ID
		if _, err := b.m.FireTx(ctx, tx, lifecycle.Request{TenantID: id, Event: tenantd.EventProvision, Actor: lifecycle.Actor{By: tenantd.TriggerSystem, Name: "test"}}); err != nil {
			return err
		}
		if _, err := b.ws.CreateTx(ctx, tx, id, p.Isolation); err != nil {
			return err
		}
		_, err = b.m.FireTx(ctx, tx, lifecycle.Request{TenantID: id, Event: tenantd.EventActivate, Actor: lifecycle.Actor{By: tenantd.TriggerSystem, Name: "test"}})
		return err
	}))
	return id
}

func (b *bundle) fire(t *testing.T, id uuid.UUID, ev tenantd.Event) {
	t.Helper()
	by := tenantd.TriggerAdmin
	_, err := b.m.Fire(sys, lifecycle.Request{TenantID: id, Event: ev, Actor: lifecycle.Actor{By: by, Name: "test"}})
	require.NoError(t, err)
}

// eachIsolation runs fn on both stores for a pool and a silo tenant.
func eachIsolation(t *testing.T, fn func(t *testing.T, b *bundle, planKey string)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		for _, p := range []string{plans.Starter, plans.Pro} {
			t.Run(p, func(t *testing.T) { fn(t, b, p) })
		}
	})
}

func TestUploadListAndSearch(t *testing.T) {
	t.Parallel()
	eachIsolation(t, func(t *testing.T, b *bundle, planKey string) {
		ctx := context.Background()
		id := b.tenant(t, planKey)
		docs := []struct{ title, content string }{
			{"Quarterly report", "Revenue grew strongly in the third quarter thanks to enterprise customers. Churn fell."},
			{"Hiring plan", "We plan to hire two engineers and a customer success manager next year."},
			{"Customer interview notes", "Customers asked for SSO, audit logs and faster exports."},
			{"Lunch menu", "Soup, salad and bread on Friday."},
		}
		for _, d := range docs {
			doc, usage, err := b.ws.Upload(ctx, id, d.title, d.content)
			require.NoError(t, err)
			require.Equal(t, int64(len(d.content)), doc.SizeBytes)
			require.NotNil(t, usage)
		}
		u, err := b.ws.Usage(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 4, u.Documents)

		// Newest first, paged both ways.
		first := 3
		p1, err := b.ws.Documents(ctx, id, workspace.Page{First: &first})
		require.NoError(t, err)
		require.Len(t, p1.Documents, 3)
		require.True(t, p1.HasNextPage)
		require.EqualValues(t, 4, p1.TotalCount)
		require.Equal(t, "Lunch menu", p1.Documents[0].Title)
		last := p1.Documents[2]
		p2, err := b.ws.Documents(ctx, id, workspace.Page{First: &first, After: &workspace.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}})
		require.NoError(t, err)
		require.Len(t, p2.Documents, 1)
		require.Equal(t, "Quarterly report", p2.Documents[0].Title)
		require.False(t, p2.HasNextPage)
		two := 2
		back, err := b.ws.Documents(ctx, id, workspace.Page{Last: &two, Before: &workspace.Cursor{CreatedAt: p2.Documents[0].CreatedAt, ID: p2.Documents[0].ID}})
		require.NoError(t, err)
		require.Equal(t, []string{"Customer interview notes", "Hiring plan"}, titles(back.Documents))
		require.True(t, back.HasPreviousPage)

		// Ranked hits with highlighted snippets; stemming finds plurals.
		hits, err := b.ws.Search(ctx, id, "customer", 10)
		require.NoError(t, err)
		require.Len(t, hits, 3)
		require.Equal(t, "Customer interview notes", hits[0].Document.Title, "a title match ranks first")
		require.Equal(t, 1.0, hits[0].Score, "the best hit scores 1 on every store")
		for _, h := range hits {
			require.Positive(t, h.Score)
			require.LessOrEqual(t, h.Score, 1.0, "scores are relative to the best hit")
			require.Contains(t, h.Snippet, "[", "snippet %q", h.Snippet)
		}
		for i := 1; i < len(hits); i++ {
			require.GreaterOrEqual(t, hits[i-1].Score, hits[i].Score)
		}
		hits, err = b.ws.Search(ctx, id, `customer -hire`, 10)
		require.NoError(t, err)
		require.NotContains(t, hitTitles(hits), "Hiring plan")
		hits, err = b.ws.Search(ctx, id, `"audit logs" OR soup`, 10)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"Customer interview notes", "Lunch menu"}, hitTitles(hits))
		hits, err = b.ws.Search(ctx, id, "kubernetes", 10)
		require.NoError(t, err)
		require.Empty(t, hits)
		u, err = b.ws.Usage(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 4, u.QueriesThisMonth, "every search is counted")
	})
}

func titles(ds []*workspace.Document) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Title)
	}
	return out
}

func hitTitles(hs []*workspace.Hit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Document.Title)
	}
	return out
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	eachIsolation(t, func(t *testing.T, b *bundle, planKey string) {
		ctx := context.Background()
		id := b.tenant(t, planKey)
		uploads := []struct {
			title, content, field string
		}{
			{"", "text", "title"},
			{strings.Repeat("t", 501), "text", "title"},
			{"Empty", "", "content"},
			{"Big", strings.Repeat("x", 64<<10+1), "content"},
			{"Binary", "abc\xff\xfe", "content"},
			{"Nul", "a\x00b", "content"},
		}
		for _, u := range uploads {
			_, _, err := b.ws.Upload(ctx, id, u.title, u.content)
			e := tenantd.AsError(err)
			require.NotNil(t, e, "%+v", u.field)
			require.Equal(t, tenantd.EINVALID, e.Code)
			require.Equal(t, u.field, e.Field)
		}
		for _, q := range []string{"", "   ", `"unclosed`, "-only", "OR", "a OR", strings.Repeat("x", 501), "!!! ???"} {
			_, err := b.ws.Search(ctx, id, q, 10)
			require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err), "query %q", q)
			require.Equal(t, "query", tenantd.AsError(err).Field)
		}
		for _, n := range []int{0, -1, 101} {
			_, err := b.ws.Search(ctx, id, "x", n)
			require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		}
		neg := -1
		_, err := b.ws.Documents(ctx, id, workspace.Page{First: &neg})
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		u, err := b.ws.Usage(ctx, id)
		require.NoError(t, err)
		require.Zero(t, u.Documents)
		require.Zero(t, u.QueriesThisMonth, "rejected searches are not counted")
	})
}

func TestStateGates(t *testing.T) {
	t.Parallel()
	eachIsolation(t, func(t *testing.T, b *bundle, planKey string) {
		ctx := context.Background()
		id := b.tenant(t, planKey)
		_, _, err := b.ws.Upload(ctx, id, "Doc", "words to find")
		require.NoError(t, err)

		b.fire(t, id, tenantd.EventSuspend)
		_, _, err = b.ws.Upload(ctx, id, "Doc 2", "more")
		require.Equal(t, tenantd.EFORBIDDEN, tenantd.ErrorCode(err))
		require.Contains(t, tenantd.ErrorMessage(err), "SUSPENDED")
		hits, err := b.ws.Search(ctx, id, "words", 5)
		require.NoError(t, err, "a suspended tenant reads")
		require.Len(t, hits, 1)

		b.fire(t, id, tenantd.EventCancel)
		_, _, err = b.ws.Upload(ctx, id, "Doc 2", "more")
		require.Equal(t, tenantd.EFORBIDDEN, tenantd.ErrorCode(err))
		_, err = b.ws.Documents(ctx, id, workspace.Page{})
		require.NoError(t, err, "a canceled tenant reads")

		b.fire(t, id, tenantd.EventRequestDeletion)
		for _, f := range []func() error{
			func() error { _, _, err := b.ws.Upload(ctx, id, "x", "y"); return err },
			func() error { _, err := b.ws.Search(ctx, id, "words", 5); return err },
			func() error { _, err := b.ws.Documents(ctx, id, workspace.Page{}); return err },
		} {
			err := f()
			require.Equal(t, tenantd.EFORBIDDEN, tenantd.ErrorCode(err))
			require.Contains(t, tenantd.ErrorMessage(err), "PENDING_DELETION")
		}
		u, err := b.ws.Usage(ctx, id)
		require.Nil(t, u)
		require.Error(t, err)
	})
}

func TestQuotas(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		ctx := context.Background()
		id := b.tenant(t, plans.Free)
		// Tighten the free plan for the test.
		require.NoError(t, db.Ent.Plan.Update().Where(plan.Key(plans.Free)).
			SetMaxDocuments(2).SetMaxStorageBytes(1000).SetMaxQueriesPerMonth(3).Exec(sys))
		_, _, err := b.ws.Upload(ctx, id, "a", strings.Repeat("a", 600))
		require.NoError(t, err)
		_, _, err = b.ws.Upload(ctx, id, "b", strings.Repeat("b", 500))
		e := tenantd.AsError(err)
		require.Equal(t, tenantd.EQUOTA, e.Code)
		require.Equal(t, "bytes", e.Extra["quota"])
		require.EqualValues(t, 1000, e.Extra["limit"])
		require.EqualValues(t, 600, e.Extra["usage"])
		_, _, err = b.ws.Upload(ctx, id, "b", "short")
		require.NoError(t, err)
		_, _, err = b.ws.Upload(ctx, id, "c", "short")
		e = tenantd.AsError(err)
		require.Equal(t, tenantd.EQUOTA, e.Code)
		require.Equal(t, "documents", e.Extra["quota"])
		require.Contains(t, e.Message, "allows 2 documents")
		for range 3 {
			_, err := b.ws.Search(ctx, id, "short", 5)
			require.NoError(t, err)
		}
		_, err = b.ws.Search(ctx, id, "short", 5)
		require.Equal(t, tenantd.EQUOTA, tenantd.ErrorCode(err))
		u, err := b.ws.Usage(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 2, u.Documents)
		require.EqualValues(t, 605, u.Bytes, "nothing written by a refused upload")
		require.EqualValues(t, 3, u.QueriesThisMonth)
	})
}

// TestPooledIsolation runs 1,000 requests alternating two pool tenants
// through a pool of two PostgreSQL connections, over every workspace path,
// and finds none of the other tenant's rows; with no tenant bound, row-level
// security shows no rows at all.
func TestPooledIsolation(t *testing.T) {
	t.Parallel()
	full := storetest.New(t, storetest.Postgres)
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: full.URL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	b := setup(t, db)
	ctx := context.Background()
	a, c := b.tenant(t, plans.Starter), b.tenant(t, plans.Starter)
	words := map[uuid.UUID]string{a: "alpha", c: "gamma"}
	for i := 0; i < 1000; i++ {
		id := a
		if i%2 == 1 {
			id = c
		}
		mine, theirs := words[id], words[a]
		if id == a {
			theirs = words[c]
		}
		switch i % 4 / 2 {
		case 0:
			doc, _, err := b.ws.Upload(ctx, id, fmt.Sprintf("%s %d", mine, i), mine+" shared word "+fmt.Sprint(i))
			require.NoError(t, err)
			require.Equal(t, id, doc.TenantID)
		default:
			hits, err := b.ws.Search(ctx, id, "shared", 100)
			require.NoError(t, err)
			for _, h := range hits {
				require.Equal(t, id, h.Document.TenantID)
				require.NotContains(t, h.Snippet, theirs)
				require.NotContains(t, h.Document.Title, theirs)
			}
		}
		page, err := b.ws.Documents(ctx, id, workspace.Page{})
		require.NoError(t, err)
		for _, d := range page.Documents {
			require.Equal(t, id, d.TenantID, "request %d saw another tenant's document", i)
		}
		other, err := b.ws.Search(ctx, id, theirs, 100)
		require.NoError(t, err)
		require.Empty(t, other, "request %d found the other tenant's word", i)
	}

	// The second wall: with no tenant bound, row-level security returns
	// nothing, even for a query that forgets its tenant filter.
	for _, table := range []string{"documents", "query_log", "workspace_usage"} {
		var n int
		require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		require.Zero(t, n, "%s without a tenant", table)
	}
	// Bound to one tenant, an unfiltered query sees that tenant's rows only.
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", a.String())
		require.NoError(t, err)
		var total, mine int
		require.NoError(t, tx.SQL.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE tenant_id = $1) FROM documents", a).Scan(&total, &mine))
		require.Equal(t, mine, total)
		require.Equal(t, 250, total)
		return nil
	}))
	// And it cannot write a row for the other tenant.
	err = db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", a.String()); err != nil {
			return err
		}
		_, err := tx.SQL.ExecContext(ctx, "INSERT INTO documents (id, tenant_id, title, content, size_bytes, created_at) VALUES ($1, $2, 'x', 'y', 1, now())", uuid.New(), c)
		return err
	})
	require.ErrorContains(t, err, "row-level security")
}

// TestSiloFilesStayBounded uploads to more SQLite silo tenants than the
// handle cache holds: idle files are closed, and every tenant still works.
func TestSiloFilesStayBounded(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	b := setup(t, db)
	ctx := context.Background()
	const n = 270 // over maxOpenSilos (256)
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = b.tenant(t, plans.Pro)
		_, _, err := b.ws.Upload(ctx, ids[i], "doc", fmt.Sprintf("silo number %d", i))
		require.NoError(t, err)
	}
	require.LessOrEqual(t, b.ws.OpenSilos(), 256)
	for _, i := range []int{0, 1, n - 1} {
		hits, err := b.ws.Search(ctx, ids[i], fmt.Sprint(i), 5)
		require.NoError(t, err)
		require.Len(t, hits, 1)
	}
}

// TestClock runs the workspace on a fake clock: documents, the query log's
// month and the activation milestones take its time, and a new month
// resets the query count the moment the clock passes into it.
func TestClock(t *testing.T) {
	t.Parallel()
	eachIsolation(t, func(t *testing.T, b *bundle, planKey string) {
		ctx := context.Background()
		start := time.Date(2031, 3, 31, 23, 59, 0, 0, time.UTC)
		clock := clockwork.NewFakeClockAt(start)
		ws := workspace.New(b.db, workspace.Config{DataDir: b.dataDir, Clock: clock})
		t.Cleanup(func() { ws.Close() })
		id := b.tenant(t, planKey)

		doc, _, err := ws.Upload(ctx, id, "Dated", "a document of the last minute of March")
		require.NoError(t, err)
		require.Equal(t, start, doc.CreatedAt)
		got, err := ws.Get(ctx, id, doc.ID)
		require.NoError(t, err)
		require.Equal(t, start, got.CreatedAt)
		_, err = ws.Search(ctx, id, "march", 5)
		require.NoError(t, err)
		for _, m := range []analytics.Milestone{analytics.FirstUpload, analytics.FirstQuery} {
			ms, err := b.db.Ent.Milestone.Query().Where(milestone.TenantID(id), milestone.NameEQ(milestone.Name(m))).Only(sys)
			require.NoError(t, err, "milestone %s", m)
			require.Equal(t, start, ms.OccurredAt.UTC(), "milestone %s", m)
		}
		u, err := ws.Usage(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 1, u.QueriesThisMonth)

		clock.Advance(2 * time.Minute)
		u, err = ws.Usage(ctx, id)
		require.NoError(t, err)
		require.Zero(t, u.QueriesThisMonth, "April has no queries yet")
		_, err = ws.Search(ctx, id, "march", 5)
		require.NoError(t, err)
		u, err = ws.Usage(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 1, u.QueriesThisMonth)
	})
}
