package bench_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// load is a writer (uploads) and a reader (a search and a page of
// documents) running against one tenant, recording each request's latency.
type load struct {
	ws   *workspace.Service
	id   uuid.UUID
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	w, r []time.Duration
	errs []error
	// enough is closed once the writer has done baselineWrites writes.
	enough chan struct{}
	once   sync.Once
}

// baselineWrites is how many writes the load without a move measures.
const baselineWrites = 400

func startLoad(ws *workspace.Service, id uuid.UUID) *load {
	l := &load{ws: ws, id: id, stop: make(chan struct{}), enough: make(chan struct{})}
	l.wg.Add(2)
	go l.loop(&l.w, func(ctx context.Context, i int) error {
		_, _, err := ws.Upload(ctx, id, "live "+strconv.Itoa(i), "moving words written live "+strconv.Itoa(i))
		return err
	})
	go l.loop(&l.r, func(ctx context.Context, _ int) error {
		if _, err := ws.Search(ctx, id, "moving", 10); err != nil {
			return err
		}
		_, err := ws.Documents(ctx, id, workspace.Page{})
		return err
	})
	return l
}

func (l *load) loop(into *[]time.Duration, f func(context.Context, int) error) {
	defer l.wg.Done()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		t0 := time.Now()
		err := f(context.Background(), i)
		d := time.Since(t0)
		l.mu.Lock()
		*into = append(*into, d)
		if len(l.w) >= baselineWrites && len(l.r) > 0 {
			l.once.Do(func() { close(l.enough) })
		}
		if err != nil {
			l.errs = append(l.errs, err)
		}
		l.mu.Unlock()
	}
}

// end stops the load and returns the latencies of writes and reads.
func (l *load) end(tb testing.TB) (w, r []time.Duration) {
	close(l.stop)
	l.wg.Wait()
	require.Empty(tb, l.errs, "no request fails")
	slices.Sort(l.w)
	slices.Sort(l.r)
	return l.w, l.r
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, len(d)*99/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// preload writes n documents of about 1 KiB straight into the tenant's
// workspace in batches (a move benchmark measures the move, not uploads).
func preload(tb testing.TB, ws *workspace.Service, id uuid.UUID, n int) {
	tb.Helper()
	ctx := context.Background()
	p, err := ws.Placement(ctx, id)
	require.NoError(tb, err)
	c := newCorpus(7)
	var bytes int64
	for start := 0; start < n; start += 1000 {
		var b wsdriver.Batch
		for i := start; i < min(n, start+1000); i++ {
			title, body := c.doc(1024)
			body = "moving " + body
			b.Documents = append(b.Documents, &wsdriver.Document{ID: uuid.Must(uuid.NewV7()), TenantID: id, Title: title,
				Content: body, HasContent: true, SizeBytes: int64(len(body)), CreatedAt: time.Now().UTC()})
			bytes += int64(len(body))
		}
		require.NoError(tb, ws.WriteAt(ctx, nil, p.Placement, func(ctx context.Context, tx wsdriver.Tx) error { return tx.WriteBatch(ctx, b) }))
	}
	require.NoError(tb, ws.WriteAt(ctx, nil, p.Placement, func(ctx context.Context, tx wsdriver.Tx) error {
		return tx.SetUsage(ctx, wsdriver.Counters{Documents: int64(n), Bytes: bytes})
	}))
}

// BenchmarkMove moves a tenant's workspace pool → silo and back with the
// phases of a CHANGE_PLAN (workspace.Move: copy, catch up, verify, catch
// up, switch), on each store, for 10,000 and 100,000 documents (set
// TENANTD_BENCH_MOVE_DOCS to choose), while a writer and a reader run.
// Reported: the move's time, the write pause at the switch, the longest
// write the writer saw, and the p99 latency of the writer and the reader
// during the move as a ratio to the same load without one. Every move is
// verified (it fails on a difference) and no request may fail.
func BenchmarkMove(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if v := os.Getenv("TENANTD_BENCH_MOVE_DOCS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		sizes = []int{n}
	}
	for _, kind := range storetest.Kinds(b) {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				db := storetest.New(b, kind)
				ws := workspace.New(db, workspace.Config{DataDir: b.TempDir()})
				defer ws.Close()
				id := benchTenant(b, db, ws, plans.Starter)
				preload(b, ws, id, n)

				// The same load without a move, for the ratio.
				base := startLoad(ws, id)
				<-base.enough
				bw, br := base.end(b)
				uploads := int64(len(bw))

				for b.Loop() {
					for _, to := range []tenantd.Isolation{tenantd.IsolationSilo, tenantd.IsolationPool} {
						l := startLoad(ws, id)
						t0 := time.Now()
						res, phases := moveTimed(b, ws, id, to)
						took := time.Since(t0)
						w, r := l.end(b)
						var clean func() error
						require.NoError(b, db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) (err error) {
							_, clean, err = ws.DestroyAtTx(ctx, tx, res.From)
							return err
						}))
						require.NoError(b, clean())
						name := map[tenantd.Isolation]string{tenantd.IsolationSilo: "to_silo", tenantd.IsolationPool: "to_pool"}[to]
						b.ReportMetric(took.Seconds(), name+"_s")
						b.ReportMetric(ms(res.Pause), name+"_pause_ms")
						b.ReportMetric(ms(w[len(w)-1]), name+"_longest_write_ms")
						b.ReportMetric(float64(p99(w))/float64(max(p99(bw), 1)), name+"_write_p99_ratio")
						b.ReportMetric(float64(p99(r))/float64(max(p99(br), 1)), name+"_read_p99_ratio")
						b.Logf("%s %d docs → %s: phases %v", kind, n, to, phases)
						b.Logf("%s %d docs → %s: %s, writes held %.1f ms (%d rows caught up), longest write %.1f ms, "+
							"p99 write %.1f ms (%.1f without a move), p99 read %.1f ms (%.1f), %d writes, %d reads during the move",
							kind, n, to, took.Round(time.Millisecond), ms(res.Pause), res.CaughtUp.Rows, ms(w[len(w)-1]),
							ms(p99(w)), ms(p99(bw)), ms(p99(r)), ms(p99(br)), len(w), len(r))
						u, err := ws.Usage(context.Background(), id)
						require.NoError(b, err)
						uploads += int64(len(w))
						require.EqualValues(b, int64(n)+uploads, u.Documents, "every document and every acknowledged upload is there")
					}
				}
			})
		}
	}
}

// moveTimed is workspace.Move with each phase timed.
func moveTimed(tb testing.TB, ws *workspace.Service, id uuid.UUID, to tenantd.Isolation) (*workspace.SwitchResult, map[string]time.Duration) {
	ctx := context.Background()
	times := map[string]time.Duration{}
	t0 := time.Now()
	lap := func(name string) {
		times[name] = time.Since(t0).Round(time.Millisecond)
		t0 = time.Now()
	}
	m, err := ws.BeginMove(ctx, id, to)
	require.NoError(tb, err)
	lap("begin")
	for _, phase := range []struct {
		name string
		f    func(context.Context, *workspace.Placement, workspace.MoveCursor) (workspace.MoveCursor, workspace.MoveStats, error)
	}{{"copy", ws.CopyBatch}, {"verify", ws.VerifyBatch}} {
		for cur := (workspace.MoveCursor{}); !cur.Done; {
			cur, _, err = phase.f(ctx, m, cur)
			require.NoError(tb, err)
		}
		lap(phase.name)
		require.NoError(tb, ws.CatchUpAll(ctx, m))
		lap(phase.name + "_catchup")
	}
	res, err := ws.Switch(ctx, id, m.Generation, nil)
	require.NoError(tb, err)
	lap("switch")
	return res, times
}
