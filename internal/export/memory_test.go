package export_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// FillWorkspace writes documents of docBytes each, totalling about total
// bytes, straight into the tenant's workspace (batches, no quotas).
func fillWorkspace(t testing.TB, b *bundle, id uuid.UUID, total, docBytes int) {
	t.Helper()
	p, err := b.ws.Placement(sys, id)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("tenant export archive snapshot stream document query manifest checksum purge restore plan silo pool")
	text := func(n int) string {
		var sb strings.Builder
		for sb.Len() < n {
			sb.WriteString(words[rng.IntN(len(words))])
			sb.WriteByte(' ')
		}
		return sb.String()[:n]
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for written := 0; written < total; {
		var batch wsdriver.Batch
		for len(batch.Documents) < 64 && written < total {
			c := text(docBytes)
			batch.Documents = append(batch.Documents, &wsdriver.Document{ID: uuid.Must(uuid.NewV7()), TenantID: id, Title: text(40),
				Content: c, HasContent: true, SizeBytes: int64(len(c)), CreatedAt: base.Add(time.Duration(written))})
			written += len(c)
		}
		require.NoError(t, b.ws.WriteAt(sys, nil, p.Placement, func(ctx context.Context, tx wsdriver.Tx) error { return tx.WriteBatch(ctx, batch) }))
	}
}

// heapPeak samples the in-use heap every millisecond until stop is called
// and returns the highest value seen.
func heapPeak() (stop func() uint64) {
	var (
		peak uint64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// TestExportMemoryIsFlat exports a 64 MiB tenant and finds the heap grew by
// a small part of that: the archive is streamed, not held. (The 1 GiB
// figure is BenchmarkExport's, internal/bench.) Not parallel: the heap is
// the process's.
func TestExportMemoryIsFlat(t *testing.T) {
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			db := storetest.New(t, k)
			b := setup(t, db, export.Hooks{})
			id := b.tenant(t, plans.Starter)
			const size = 64 << 20
			fillWorkspace(t, b, id, size, 256<<10)
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			before := m.HeapInuse
			stop := heapPeak()
			exp := b.export(t, id, "JSON")
			peak := stop()
			growth := int64(peak) - int64(before)
			t.Logf("%s: exported %d MiB (archive %d MiB); heap in use %d MiB before, peak %d MiB (+%d MiB)", k,
				size>>20, exp.SizeBytes>>20, before>>20, peak>>20, growth>>20)
			require.Less(t, growth, int64(24<<20), "the heap grows by a bounded amount, not with the tenant (%d MiB)", size>>20)
		})
	}
}
