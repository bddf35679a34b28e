package bench_test

import (
	"bufio"
	"context"
	"database/sql"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// benchJobs stands for River: the benchmark works each operation itself.
type benchJobs struct {
	mu sync.Mutex
	n  int64
}

func (j *benchJobs) InsertTx(context.Context, *sql.Tx, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.n++
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{ID: j.n}}, nil
}

// procStatus reads a field of /proc/self/status in bytes (VmRSS, VmHWM).
func procStatus(tb testing.TB, field string) int64 {
	tb.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(tb, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(tb, err)
			return kb << 10
		}
	}
	tb.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux: 5 to
// clear_refs).
func resetPeakRSS(tb testing.TB) {
	tb.Helper()
	require.NoError(tb, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
}

// BenchmarkExport measures an export of a tenant of 100 MiB of documents
// (TENANTD_BENCH_EXPORT_MIB picks the sizes, e.g. "100,1024" for 100 MiB
// and 1 GiB) on each store: export MB/s of document data, the archive's
// size, the process's peak RSS growth during the export (VmHWM after, less
// VmRSS before), and the import of the archive as a new tenant in MB/s.
func BenchmarkExport(b *testing.B) {
	sizes := []int{100}
	if v := os.Getenv("TENANTD_BENCH_EXPORT_MIB"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(b, err, "TENANTD_BENCH_EXPORT_MIB")
			sizes = append(sizes, n)
		}
	}
	for _, k := range storetest.Kinds(b) {
		for _, mib := range sizes {
			b.Run(string(k)+"/"+strconv.Itoa(mib)+"MiB", func(b *testing.B) {
				db := storetest.New(b, k)
				pub := events.NewPublisher(events.NewHub())
				ws := workspace.New(db, workspace.Config{DataDir: b.TempDir()})
				b.Cleanup(func() { ws.Close() })
				ops := operation.New(operation.Config{DB: db, Jobs: &benchJobs{}, Events: pub})
				m := lifecycle.New(lifecycle.Config{DB: db, Operations: ops, Events: pub})
				svc, err := export.New(export.Config{DB: db, Lifecycle: m, Workspaces: ws, Operations: ops, Events: pub, Dir: b.TempDir()})
				require.NoError(b, err)
				id := activeTenants(b, db, 1, "exp-"+uuid.NewString()[:6])[0]
				require.NoError(b, db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
					_, err := ws.CreateTx(ctx, tx, id, tenantd.IsolationPool)
					return err
				}))
				p, err := ws.Placement(sysCtx, id)
				require.NoError(b, err)
				total := fillDocuments(b, ws, p.Placement, mib<<20, 256<<10)
				admin := lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "admin:bench"}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					debug.FreeOSMemory() // the fill's garbage is not the export's
					before := procStatus(b, "VmRSS")
					resetPeakRSS(b)
					start := time.Now()
					op, _, err := svc.Request(sysCtx, id, "JSON", admin, "")
					require.NoError(b, err)
					require.NoError(b, ops.Work(sysCtx, op.ID, 1, 1))
					took := time.Since(start)
					peak := procStatus(b, "VmHWM")
					exp, err := svc.ExportOf(sysCtx, op.ID)
					require.NoError(b, err)
					require.Equal(b, "READY", string(exp.Status))
					b.ReportMetric(float64(total)/(1<<20)/took.Seconds(), "export-MB/s")
					b.ReportMetric(float64(peak-before)/(1<<20), "peak-RSS-growth-MiB")
					b.ReportMetric(float64(exp.SizeBytes)/(1<<20), "archive-MiB")

					b.StopTimer()
					start = time.Now()
					res, err := svc.ImportFile(sysCtx, svc.Dir()+"/"+*exp.Location, export.ImportOptions{Slug: "imp-" + uuid.NewString()[:8]})
					require.NoError(b, err)
					b.ReportMetric(float64(total)/(1<<20)/time.Since(start).Seconds(), "import-MB/s")
					require.EqualValues(b, total, mustUsage(b, ws, res.Tenant.ID))
					b.StartTimer()
				}
			})
		}
	}
}

func mustUsage(b *testing.B, ws *workspace.Service, id uuid.UUID) int64 {
	u, err := ws.Usage(sysCtx, id)
	require.NoError(b, err)
	return u.Bytes
}

// fillDocuments writes documents of docBytes each, about total bytes in
// all, straight into the workspace at p; it returns the bytes written.
func fillDocuments(tb testing.TB, ws *workspace.Service, p wsdriver.Placement, total, docBytes int) int64 {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	words := strings.Fields("tenant export archive snapshot stream document query manifest checksum purge restore plan silo pool lifecycle")
	var written int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for written < int64(total) {
		var batch wsdriver.Batch
		for len(batch.Documents) < 16 && written < int64(total) {
			var sb strings.Builder
			for sb.Len() < docBytes {
				sb.WriteString(words[rng.IntN(len(words))])
				sb.WriteByte(' ')
			}
			c := sb.String()[:docBytes]
			batch.Documents = append(batch.Documents, &wsdriver.Document{ID: uuid.Must(uuid.NewV7()), TenantID: p.TenantID,
				Title: "doc " + strconv.FormatInt(written, 10), Content: c, HasContent: true, SizeBytes: int64(len(c)),
				CreatedAt: base.Add(time.Duration(written))})
			written += int64(len(c))
		}
		require.NoError(tb, ws.WriteAt(sysCtx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error { return tx.WriteBatch(ctx, batch) }))
	}
	require.NoError(tb, ws.WriteAt(sysCtx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error {
		return tx.SetUsage(ctx, wsdriver.Counters{Documents: written / int64(docBytes), Bytes: written})
	}))
	return written
}
