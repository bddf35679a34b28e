package workspace_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/plan"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace"
)

// commonWords are frequent English words; largeText repeats them with a
// Zipf skew between many distinct made-up words, as real text does.
var commonWords = strings.Fields(`the of and to in a is that for it as was with be by on not he this are or his
	from at which but have an they you were her she there would their we him been has when who will more no if out
	so said what up its about into than them can only other new some could time these two may then do first any my
	now such like our over man me even most made after also did many before must through back years where much your
	way well down should because each just those people how too little state good very make world still own see men
	work long get here between both life being under never day same another know while last might us great old year
	report revenue customer market product team sales budget plan contract service support account growth`)

// largeText returns about size bytes of text: common words (the most
// common, "the", several percent of them), one word in three distinct, and
// a sentence break every fifteen words.
func largeText(seed uint64, size int) string {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	syll := []string{"ka", "lo", "mi", "re", "tu", "sa", "no", "vi", "de", "po", "ran", "tel", "mor", "quin", "zen", "bar"}
	zipf := rand.NewZipf(rng, 1.07, 1, uint64(len(commonWords)-1))
	var b strings.Builder
	b.Grow(size + 64)
	for n := 1; b.Len() < size; n++ {
		if rng.IntN(3) == 0 {
			for range 2 + rng.IntN(3) {
				b.WriteString(syll[rng.IntN(len(syll))])
			}
			b.WriteString(strconv.Itoa(rng.IntN(200_000)))
		} else {
			b.WriteString(commonWords[zipf.Uint64()])
		}
		if n%15 == 0 {
			b.WriteString(". ")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// medianTime runs f n times and returns the median duration.
func medianTime(t *testing.T, n int, f func() error) time.Duration {
	t.Helper()
	d := make([]time.Duration, n)
	for i := range d {
		t0 := time.Now()
		require.NoError(t, f())
		d[i] = time.Since(t0)
	}
	slices.Sort(d)
	return d[n/2]
}

// largeSetup is setup with room for large documents and no query quota.
func largeSetup(t *testing.T, db *store.DB, cfg workspace.Config) *bundle {
	t.Helper()
	b := setup(t, db)
	cfg.DataDir = t.TempDir()
	if cfg.MaxDocumentBytes == 0 {
		cfg.MaxDocumentBytes = 4 << 20
	}
	b.ws = workspace.New(db, cfg)
	t.Cleanup(func() { b.ws.Close() })
	return b
}

// maxRatio is how much slower than a trivial search a search over a large
// document may be. Before the work per search was bounded, the ratio was in
// the thousands (seconds against milliseconds).
const maxRatio = 20

// TestSearchLargeDocumentIsFast uploads a 3 MiB document (on PostgreSQL its
// full-text vector would be over the 1 MiB a tsvector holds: the upload
// failed before the indexed text was bounded) and checks that searches over
// it — the most common word, a rare word, phrases — take a bounded multiple
// of a trivial search's time, and that another tenant's search is not held
// up while they run.
func TestSearchLargeDocumentIsFast(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := largeSetup(t, db, workspace.Config{})
		for _, planKey := range []string{plans.Starter, plans.Pro} {
			t.Run(planKey, func(t *testing.T) {
				ctx := context.Background()
				id, other := b.tenant(t, planKey), b.tenant(t, planKey)
				_, _, err := b.ws.Upload(ctx, id, "Small note", "a short note about the zephyr budget")
				require.NoError(t, err)
				_, _, err = b.ws.Upload(ctx, other, "Other tenant", "another short note about the zephyr budget")
				require.NoError(t, err)

				text := largeText(1, 3<<20)
				// A phrase early (within the snippet window) and a rare word
				// in the middle (within what PostgreSQL indexes).
				text = text[:4000] + " quarterly churn forecast " + text[4000:1<<19] + " xylophonic " + text[1<<19:]
				_, _, err = b.ws.Upload(ctx, id, "Large report", text)
				require.NoError(t, err, "a 3 MiB document uploads")

				trivial := medianTime(t, 5, func() error {
					hits, err := b.ws.Search(ctx, id, "zephyr", 10)
					if err == nil && len(hits) != 1 {
						t.Errorf("zephyr: %d hits", len(hits))
					}
					return err
				})
				for _, q := range []string{"report", "the", "xylophonic", `"quarterly churn forecast"`, `"the report"`, "customer -zephyr"} {
					if q == "the" && db.IsPostgres() {
						continue // a stop word of the english configuration: it finds nothing on PostgreSQL
					}
					var hits []*workspace.Hit
					d := medianTime(t, 3, func() error {
						var err error
						hits, err = b.ws.Search(ctx, id, q, 10)
						return err
					})
					require.NotEmpty(t, hits, "query %s", q)
					require.Equal(t, "Large report", hits[0].Document.Title, "query %s", q)
					require.False(t, hits[0].Document.HasContent, "hits leave the content out")
					require.Equal(t, int64(len(text)), hits[0].Document.SizeBytes)
					t.Logf("%-30s %8v (trivial %v, %.1f×)", q, d.Round(time.Microsecond), trivial.Round(time.Microsecond), float64(d)/float64(trivial))
					require.Less(t, d, maxRatio*trivial, "query %s took %v, a trivial search %v", q, d, trivial)
				}
				hits, err := b.ws.Search(ctx, id, `"quarterly churn forecast"`, 10)
				require.NoError(t, err)
				whole, err := b.ws.Get(ctx, id, hits[0].Document.ID)
				require.NoError(t, err)
				require.True(t, whole.HasContent)
				require.Len(t, whole.Content, len(text), "Get reads the whole document")
				require.Contains(t, hits[0].Snippet, "[quarterly", "a phrase inside the snippet window is highlighted")
				hits, err = b.ws.Search(ctx, id, "xylophonic", 10)
				require.NoError(t, err)
				require.NotContains(t, hits[0].Snippet, "[", "a match beyond the snippet window is not highlighted")
				require.True(t, strings.HasPrefix(text, strings.TrimSuffix(hits[0].Snippet, "…")), "it shows the document's opening")

				// Another tenant's trivial search while this tenant searches
				// its large document over and over.
				alone := medianTime(t, 5, func() error { _, err := b.ws.Search(ctx, other, "zephyr", 10); return err })
				stop := make(chan struct{})
				var wg sync.WaitGroup
				busy := "the"
				if db.IsPostgres() {
					busy = `"the report"`
				}
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := b.ws.Search(ctx, id, busy, 10); err != nil {
							t.Errorf("busy search: %v", err)
							return
						}
					}
				})
				during := medianTime(t, 5, func() error { _, err := b.ws.Search(ctx, other, "zephyr", 10); return err })
				close(stop)
				wg.Wait()
				t.Logf("other tenant's search: %v alone, %v beside the large searches", alone.Round(time.Microsecond), during.Round(time.Microsecond))
				require.Less(t, during, maxRatio*alone, "another tenant's search took %v beside large searches, %v alone", during, alone)
			})
		}
	})
}

// TestSearchDoesNotHoldOthersUp parks one tenant's search inside its
// reading — as a slow search would be — and checks that another tenant's
// searches and uploads go through meanwhile, at about their usual speed:
// the reading holds no lock another tenant needs (on SQLite it runs outside
// the write transaction that every pool write queues for).
func TestSearchDoesNotHoldOthersUp(t *testing.T) {
	t.Parallel()
	eachIsolation(t, func(t *testing.T, b *bundle, planKey string) {
		ctx := context.Background()
		b = largeSetup(t, b.db, workspace.Config{})
		slow, other := b.tenant(t, planKey), b.tenant(t, planKey)
		for _, id := range []uuid.UUID{slow, other} {
			_, _, err := b.ws.Upload(ctx, id, "Note", "budget figures for the year")
			require.NoError(t, err)
		}
		alone := medianTime(t, 5, func() error { _, err := b.ws.Search(ctx, other, "budget", 5); return err })

		parked, release := make(chan struct{}), make(chan struct{})
		b.ws.SetSearchReadHook(func(ctx context.Context, id uuid.UUID, q workspace.Querier) error {
			if id == slow {
				close(parked)
				<-release
			}
			return nil
		})
		done := make(chan error, 1)
		go func() { _, err := b.ws.Search(ctx, slow, "budget", 5); done <- err }()
		<-parked

		during := medianTime(t, 5, func() error { _, err := b.ws.Search(ctx, other, "budget", 5); return err })
		_, _, err := b.ws.Upload(ctx, other, "Another note", "more budget figures")
		require.NoError(t, err, "another tenant uploads while a search is under way")
		close(release)
		require.NoError(t, <-done)
		t.Logf("other tenant's search: %v alone, %v while a search was parked", alone.Round(time.Microsecond), during.Round(time.Microsecond))
		require.Less(t, during, maxRatio*alone)

		u, err := b.ws.Usage(ctx, slow)
		require.NoError(t, err)
		require.EqualValues(t, 1, u.QueriesThisMonth, "the parked search was counted once it finished")
	})
}

// TestSearchTimeout runs a statement that never ends inside a search's
// reading: the statement timeout (PostgreSQL) or the context deadline
// (SQLite) stops it, the answer is QUOTA_EXCEEDED with quota "search_time",
// and the search is neither counted nor logged.
func TestSearchTimeout(t *testing.T) {
	t.Parallel()
	eachIsolation(t, func(t *testing.T, b *bundle, planKey string) {
		ctx := context.Background()
		b = largeSetup(t, b.db, workspace.Config{SearchTimeout: 200 * time.Millisecond})
		id := b.tenant(t, planKey)
		_, _, err := b.ws.Upload(ctx, id, "Note", "budget figures for the year")
		require.NoError(t, err)
		b.ws.SetSearchReadHook(func(ctx context.Context, _ uuid.UUID, q workspace.Querier) error {
			_, err := q.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c`)
			return err
		})
		_, err = b.ws.Search(ctx, id, "budget", 5)
		e := tenantd.AsError(err)
		require.NotNil(t, e, "%v", err)
		require.Equal(t, tenantd.EQUOTA, e.Code)
		require.Equal(t, "search_time", e.Extra["quota"])
		require.EqualValues(t, 200, e.Extra["limit"])
		require.Contains(t, e.Message, "time limit")

		b.ws.SetSearchReadHook(nil)
		u, err := b.ws.Usage(ctx, id)
		require.NoError(t, err)
		require.Zero(t, u.QueriesThisMonth, "a search that ran out of time is not counted")
		hits, err := b.ws.Search(ctx, id, "budget", 5)
		require.NoError(t, err, "the next search answers")
		require.Len(t, hits, 1)
	})
}

// TestPostgresSiloUpgrade gives a silo schema back the search column it had
// before the bounded vector (the whole text, which a large document
// overflows) and checks that services started afterwards upgrade it on
// first use — two at once, as two replicas would — after which a 3 MiB
// document uploads and every document is found.
func TestPostgresSiloUpgrade(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.Postgres)
	b := largeSetup(t, db, workspace.Config{})
	ctx := context.Background()
	id := b.tenant(t, plans.Pro)
	_, _, err := b.ws.Upload(ctx, id, "Old note", "an old note about budgets")
	require.NoError(t, err)
	table := `"` + workspace.SchemaName(id) + `".documents`
	_, err = db.SQL.ExecContext(ctx, `ALTER TABLE `+table+` DROP COLUMN search, ADD COLUMN search tsvector GENERATED ALWAYS AS (
		setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', content), 'B')) STORED`)
	require.NoError(t, err)
	_, err = db.SQL.ExecContext(ctx, `CREATE INDEX documents_search ON `+table+` USING gin (search)`)
	require.NoError(t, err)
	large := largeText(2, 3<<20) + " budgets"
	_, _, err = b.ws.Upload(ctx, id, "Large", large)
	require.ErrorContains(t, err, "too long for tsvector", "the old column cannot hold a large document")

	restarted := []*workspace.Service{largeSetup(t, db, workspace.Config{}).ws, largeSetup(t, db, workspace.Config{}).ws}
	var wg sync.WaitGroup
	for _, ws := range restarted {
		wg.Go(func() {
			hits, err := ws.Search(ctx, id, "budgets", 5)
			if err != nil || len(hits) != 1 {
				t.Errorf("search after the upgrade: %d hits, %v", len(hits), err)
			}
		})
	}
	wg.Wait()
	_, _, err = restarted[0].Upload(ctx, id, "Large", large)
	require.NoError(t, err)
	hits, err := restarted[1].Search(ctx, id, "budgets", 5)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"Old note", "Large"}, hitTitles(hits))
}

// TestSearchQuotaExactUnderConcurrency runs twenty searches at once against
// a quota of five: the reading happens before the count, so the count's
// conditional UPDATE is what keeps the quota exact — five answer, fifteen
// are QUOTA_EXCEEDED, and only the five are counted and logged.
func TestSearchQuotaExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := largeSetup(t, db, workspace.Config{})
		ctx := context.Background()
		id := b.tenant(t, plans.Free)
		require.NoError(t, db.Ent.Plan.Update().Where(plan.Key(plans.Free)).SetMaxQueriesPerMonth(5).Exec(sys))
		_, _, err := b.ws.Upload(ctx, id, "Note", "budget figures")
		require.NoError(t, err)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ok, over int
		)
		for range 20 {
			wg.Go(func() {
				_, err := b.ws.Search(ctx, id, "budget", 5)
				mu.Lock()
				defer mu.Unlock()
				switch tenantd.ErrorCode(err) {
				case "":
					ok++
				case tenantd.EQUOTA:
					over++
				default:
					t.Errorf("search: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 5, ok)
		require.Equal(t, 15, over)
		u, err := b.ws.Usage(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 5, u.QueriesThisMonth)
		var logged int
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			if tx.IsPostgres() {
				if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", id.String()); err != nil {
					return err
				}
				return tx.SQL.QueryRowContext(ctx, "SELECT count(*) FROM query_log WHERE tenant_id = $1", id).Scan(&logged)
			}
			return tx.SQL.QueryRowContext(ctx, "SELECT count(*) FROM query_log WHERE tenant_id = ?", id).Scan(&logged)
		}))
		require.Equal(t, 5, logged, "only the answered searches are logged")
	})
}
