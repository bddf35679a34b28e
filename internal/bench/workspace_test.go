package bench_test

// Workspace figures (PostgreSQL, 2 cores, make bench): see the closing note of
// the workspace issue. BenchmarkUpload measures documents/s and MB/s of
// ~1 KiB documents through workspace.Service.Upload (quota check, usage
// counters, full-text index, milestone: one transaction each), from 4
// goroutines. BenchmarkSearch measures full-text search latency (p50/p99)
// over 100,000 documents of one tenant.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/plan"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace"
)

// corpus writes documents from a vocabulary with a Zipf-like skew, so that
// searches meet both common and rare words.
type corpus struct {
	words []string
	zipf  *rand.Zipf
	mu    sync.Mutex
}

func newCorpus(seed uint64) *corpus {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	syll := []string{"ka", "lo", "mi", "re", "tu", "sa", "no", "vi", "de", "po", "ran", "tel", "mor", "quin", "zen", "bar"}
	seen := map[string]bool{}
	var words []string
	for len(words) < 5000 {
		var b strings.Builder
		for range 2 + rng.IntN(3) {
			b.WriteString(syll[rng.IntN(len(syll))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return &corpus{words: words, zipf: rand.NewZipf(rng, 1.1, 2, uint64(len(words)-1))}
}

func (c *corpus) word() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.words[c.zipf.Uint64()]
}

// doc returns a title and about size bytes of text.
func (c *corpus) doc(size int) (string, string) {
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(c.word())
		b.WriteByte(' ')
	}
	return c.word() + " " + c.word(), b.String()
}

// benchTenant makes an ACTIVE tenant of the plan with its workspace and
// lifts its quotas out of the way.
func benchTenant(tb testing.TB, db *store.DB, ws *workspace.Service, planKey string) uuid.UUID {
	tb.Helper()
	m := lifecycle.New(lifecycle.Config{DB: db})
	slug := "wsbench-" + planKey + "-" + uuid.NewString()[:6]
	sum := sha256.Sum256([]byte(slug))
	p, err := db.Ent.Plan.Query().Where(plan.Key(planKey)).Only(sysCtx)
	require.NoError(tb, err)
	require.NoError(tb, db.Ent.Plan.UpdateOne(p).ClearMaxDocuments().ClearMaxStorageBytes().ClearMaxQueriesPerMonth().Exec(sysCtx))
	var id uuid.UUID
	require.NoError(tb, db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
		res, err := m.CreateTx(ctx, tx, lifecycle.NewTenant{Name: slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
			PlanID: p.ID, Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "bench"}})
		if err != nil {
			return err
		}
		id = res.Tenant.ID
		sysActor := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "bench"}
		if _, err := m.FireTx(ctx, tx, lifecycle.Request{TenantID: id, Event: tenantd.EventProvision, Actor: sysActor}); err != nil {
			return err
		}
		if _, err := ws.CreateTx(ctx, tx, id, p.Isolation); err != nil {
			return err
		}
		_, err = m.FireTx(ctx, tx, lifecycle.Request{TenantID: id, Event: tenantd.EventActivate, Actor: sysActor})
		return err
	}))
	return id
}

// upload puts n documents in the tenant's workspace from workers goroutines.
func upload(tb testing.TB, ws *workspace.Service, id uuid.UUID, c *corpus, n, workers, size int) (bytes int64) {
	tb.Helper()
	var next, total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				title, content := c.doc(size)
				if _, _, err := ws.Upload(context.Background(), id, title, content); err != nil {
					errs <- err
					return
				}
				total.Add(int64(len(content)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(tb, err)
	}
	return total.Load()
}

func BenchmarkUpload(b *testing.B) {
	db := storetest.New(b, storetest.Postgres)
	ws := workspace.New(db, workspace.Config{DataDir: b.TempDir()})
	defer ws.Close()
	c := newCorpus(1)
	for _, planKey := range []string{plans.Starter, plans.Pro} {
		name := map[string]string{plans.Starter: "pool", plans.Pro: "silo"}[planKey]
		b.Run("postgres/"+name, func(b *testing.B) {
			id := benchTenant(b, db, ws, planKey)
			b.ResetTimer()
			start := time.Now()
			bytes := upload(b, ws, id, c, b.N, 4, 1024)
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "docs/s")
			b.ReportMetric(float64(bytes)/elapsed.Seconds()/1e6, "MB/s")
		})
	}
}

func BenchmarkSearch(b *testing.B) {
	const n = 100_000
	db := storetest.New(b, storetest.Postgres)
	ws := workspace.New(db, workspace.Config{DataDir: b.TempDir()})
	defer ws.Close()
	c := newCorpus(2)
	for _, planKey := range []string{plans.Starter, plans.Pro} {
		name := map[string]string{plans.Starter: "pool", plans.Pro: "silo"}[planKey]
		id := benchTenant(b, db, ws, planKey)
		start := time.Now()
		bulkLoad(b, db, id, planKey == plans.Pro, c, n, 1024)
		b.Logf("%s: loaded %d documents in %s", name, n, time.Since(start).Round(time.Second))
		if _, err := db.SQL.ExecContext(context.Background(), "ANALYZE"); err != nil {
			b.Logf("analyze: %v", err)
		}
		b.Run(fmt.Sprintf("postgres/%s/%dk_docs", name, n/1000), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			var lat []time.Duration
			hits := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var q string
				switch i % 3 {
				case 0: // one word, any frequency
					q = c.word()
				case 1: // two words
					q = c.word() + " " + c.word()
				default: // a rarer word
					q = c.words[500+rng.IntN(4000)]
				}
				t0 := time.Now()
				res, err := ws.Search(context.Background(), id, q, 10)
				lat = append(lat, time.Since(t0))
				require.NoError(b, err)
				hits += len(res)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99_ms")
			b.ReportMetric(float64(hits)/float64(b.N), "hits/query")
		})
	}
}

// bulkLoad inserts n documents straight into the tenant's table in batches
// (uploading 100,000 one by one would take minutes; the search does not care
// how the rows came) and sets the usage counters to match.
func bulkLoad(tb testing.TB, db *store.DB, id uuid.UUID, silo bool, c *corpus, n, size int) {
	tb.Helper()
	table := "public.documents"
	usage := "public.workspace_usage"
	if silo {
		table = `"` + workspace.SchemaName(id) + `".documents`
		usage = `"` + workspace.SchemaName(id) + `".workspace_usage`
	}
	const batch = 500
	var total int64
	now := time.Now().UTC()
	for done := 0; done < n; done += batch {
		var (
			ids      []uuid.UUID
			titles   []string
			contents []string
			sizes    []int64
			times    []time.Time
		)
		for i := 0; i < batch && done+i < n; i++ {
			t, body := c.doc(size)
			ids, titles, contents = append(ids, uuid.Must(uuid.NewV7())), append(titles, t), append(contents, body)
			sizes, times = append(sizes, int64(len(body))), append(times, now.Add(time.Duration(done+i)*time.Millisecond))
			total += int64(len(body))
		}
		err := db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
			if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", id.String()); err != nil {
				return err
			}
			_, err := tx.SQL.ExecContext(ctx, `INSERT INTO `+table+` (id, tenant_id, title, content, size_bytes, created_at)
				SELECT unnest($1::uuid[]), $2::uuid, unnest($3::text[]), unnest($4::text[]), unnest($5::bigint[]), unnest($6::timestamptz[])`,
				ids, id, titles, contents, sizes, times)
			return err
		})
		require.NoError(tb, err)
	}
	require.NoError(tb, db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", id.String()); err != nil {
			return err
		}
		_, err := tx.SQL.ExecContext(ctx, "UPDATE "+usage+" SET documents = $1, bytes = $2 WHERE tenant_id = $3", n, total, id)
		return err
	}))
}

// BenchmarkSearchLargeDocument measures searches of a tenant holding one
// 10 MiB document (the largest an upload may be) beside a few small ones, on
// both stores, pool and silo: the most common word of the text, a rare word,
// and a phrase. Each search's work is bounded (the snippet window, ranking
// from the index), so the latency stays in milliseconds; before, the common
// word took tens of seconds on SQLite and the upload failed on PostgreSQL.
func BenchmarkSearchLargeDocument(b *testing.B) {
	const size = 10 << 20
	c := newCorpus(5)
	_, text := c.doc(size - 4096)
	text = text[:2000] + " quarterly churn forecast " + text[2000:size/20] + " xylophonic " + text[size/20:]
	queries := []struct{ name, q string }{
		{"common_word", c.words[0]},
		{"rare_word", "xylophonic"},
		{"phrase", `"quarterly churn forecast"`},
		{"common_phrase", `"` + c.words[0] + " " + c.words[1] + `"`},
	}
	for _, kind := range storetest.Kinds(b) {
		db := storetest.New(b, kind)
		ws := workspace.New(db, workspace.Config{DataDir: b.TempDir()})
		for _, planKey := range []string{plans.Starter, plans.Pro} {
			name := map[string]string{plans.Starter: "pool", plans.Pro: "silo"}[planKey]
			id := benchTenant(b, db, ws, planKey)
			for i := range 20 {
				title, body := c.doc(1024)
				_, _, err := ws.Upload(context.Background(), id, title+" "+strconv.Itoa(i), body)
				require.NoError(b, err)
			}
			start := time.Now()
			_, _, err := ws.Upload(context.Background(), id, "Large report", text)
			require.NoError(b, err)
			b.Logf("%s/%s: uploaded %d bytes in %s", kind, name, len(text), time.Since(start).Round(time.Millisecond))
			for _, q := range queries {
				b.Run(fmt.Sprintf("%s/%s/%s", kind, name, q.name), func(b *testing.B) {
					var lat []time.Duration
					hits := 0
					for b.Loop() {
						t0 := time.Now()
						res, err := ws.Search(context.Background(), id, q.q, 10)
						lat = append(lat, time.Since(t0))
						require.NoError(b, err)
						hits += len(res)
					}
					require.Positive(b, hits, "query %s finds the large document", q.q)
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
					b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99_ms")
				})
			}
		}
		ws.Close()
	}
}
