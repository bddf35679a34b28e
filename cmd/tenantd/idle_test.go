package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestIdleProcessRests starts the real tenantd on SQLite and on PostgreSQL,
// side by side, with no tenant and no request, lets them settle, and
// measures each process over an idle interval: its CPU time (from
// /proc/<pid>/stat), the transactions the PostgreSQL one completes (counted
// on its connections by a proxy: pg_stat_database lags by up to 10 s), and
// whether the SQLite one changes its database at all (PRAGMA data_version,
// the WAL's size). An idle tenantd does nothing but a slow heartbeat: the
// SQLite one costs about what the PostgreSQL one does, both next to
// nothing, the PostgreSQL one completes about one transaction a second
// (River's leader lease, its scheduler and the backstop fetches, every 5 s)
// and the SQLite one writes nothing.
func TestIdleProcessRests(t *testing.T) {
	t.Parallel()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("starts real processes and measures them for seconds; run without -short (never skipped under CI=true)")
	}
	if runtime.GOOS != "linux" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TestIdleProcessRests reads /proc: CI runs on Linux")
		}
		t.Skip("reads /proc")
	}
	const (
		interval = 5 * time.Second
		// Figures of the idle interval. Before tenantd rested, SQLite took
		// about 15% of a core here (28% on the machine) and
		// PostgreSQL 2% with 13 transactions a second.
		maxShare     = 0.05 // of a core, for either store
		floorShare   = 0.02 // of a core: below it, CPU time is noise
		maxRatio     = 3.0  // SQLite's CPU over PostgreSQL's (with the floor)
		maxCommitsPS = 3.0  // PostgreSQL transactions per second (about 1 at rest, and the first runs of River's maintenance)
	)

	sqliteDir, sqliteAddr := t.TempDir(), freeAddr(t)
	sqliteProc := startProcess(t, []string{
		"TENANTD_ADDR=" + sqliteAddr, "TENANTD_DATA_DIR=" + sqliteDir,
		"TENANTD_ADMIN_TOKEN=tda_idle_test_admin_token_0000000", "TENANTD_LOG_LEVEL=warn",
	})

	dbURL := storetest.NewPostgresDatabase(t)
	proxy := startCommitCounter(t, dbURL)
	pgAddr := freeAddr(t)
	pgProc := startProcess(t, []string{
		"TENANTD_ADDR=" + pgAddr, "DATABASE_URL=" + proxy.url, "TENANTD_OWNER_DATABASE_URL=" + storetest.OwnerURL(dbURL),
		"TENANTD_DATA_DIR=" + t.TempDir(), "TENANTD_ADMIN_TOKEN=tda_idle_test_admin_token_0000000", "TENANTD_LOG_LEVEL=warn",
	})
	waitHealthy(t, "http://"+sqliteAddr)
	waitHealthy(t, "http://"+pgAddr)

	// Start-up work (migrations checked, River's first fetches and
	// maintenance runs) is over once a half second passes without a tick of
	// CPU time in either process.
	procs := []*process{sqliteProc, pgProc}
	settleBy := time.Now().Add(15 * time.Second)
	for time.Now().Before(settleBy) {
		before := cpuTimes(t, procs)
		time.Sleep(500 * time.Millisecond)
		after := cpuTimes(t, procs)
		if after[0]-before[0] <= 0.01 && after[1]-before[1] <= 0.01 {
			break
		}
	}

	walPath := filepath.Join(sqliteDir, "tenantd.db-wal")
	version := dataVersion(t, filepath.Join(sqliteDir, "tenantd.db"))
	version0, wal0, commits0, cpu0 := version(), fileSize(t, walPath), proxy.commits.Load(), cpuTimes(t, procs)
	time.Sleep(interval) // the measurement
	version1, wal1, commits1, cpu1 := version(), fileSize(t, walPath), proxy.commits.Load(), cpuTimes(t, procs)

	secs := interval.Seconds()
	sqliteCPU, pgCPU := cpu1[0]-cpu0[0], cpu1[1]-cpu0[1]
	commitsPS := float64(commits1-commits0) / secs
	t.Logf("idle for %s: SQLite %.2f CPU-s (%.1f%% of a core), data_version %d→%d, WAL %d→%d bytes; "+
		"PostgreSQL %.2f CPU-s (%.1f%% of a core), %d transactions (%.1f/s)",
		interval, sqliteCPU, 100*sqliteCPU/secs, version0, version1, wal0, wal1,
		pgCPU, 100*pgCPU/secs, commits1-commits0, commitsPS)

	require.LessOrEqual(t, sqliteCPU, maxRatio*max(pgCPU, floorShare*secs),
		"idle SQLite tenantd costs %.1f× the PostgreSQL one (%.2f vs %.2f CPU-s)", sqliteCPU/max(pgCPU, 0.01), sqliteCPU, pgCPU)
	require.LessOrEqual(t, sqliteCPU, maxShare*secs, "idle SQLite tenantd uses %.1f%% of a core", 100*sqliteCPU/secs)
	require.LessOrEqual(t, pgCPU, maxShare*secs, "idle PostgreSQL tenantd uses %.1f%% of a core", 100*pgCPU/secs)
	require.LessOrEqual(t, commitsPS, maxCommitsPS, "idle PostgreSQL tenantd completes %.1f transactions a second", commitsPS)
	require.Equal(t, version0, version1, "idle SQLite tenantd committed changes to its database")
	require.Equal(t, wal0, wal1, "idle SQLite tenantd grew its WAL")
}

// cpuTimes returns each process's user + system CPU time in seconds.
func cpuTimes(t *testing.T, procs []*process) []float64 {
	t.Helper()
	out := make([]float64, len(procs))
	for i, p := range procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		require.NoError(t, err)
		// Fields after the command name (in parentheses, which may hold
		// spaces): state is field 3, utime 14, stime 15.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		utime, err := strconv.ParseUint(fields[11], 10, 64)
		require.NoError(t, err)
		stime, err := strconv.ParseUint(fields[12], 10, 64)
		require.NoError(t, err)
		out[i] = float64(utime+stime) / 100 // USER_HZ, 100 on Linux
	}
	return out
}

// dataVersion returns a reader of SQLite's PRAGMA data_version on one
// connection of the test's own: it changes when another connection commits
// a change to the database.
func dataVersion(t *testing.T, path string) func() int64 {
	t.Helper()
	db, err := sql.Open("sqlite", store.SQLiteDSN(path))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return func() int64 {
		var v int64
		require.NoError(t, conn.QueryRowContext(context.Background(), "PRAGMA data_version").Scan(&v))
		return v
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	require.NoError(t, err)
	return fi.Size()
}

// commitCounter is a TCP proxy in front of PostgreSQL that counts the
// transactions completed on the connections through it: a server reply
// that completed a command (CommandComplete) and left the session idle
// (ReadyForQuery 'I'). A ping, an empty query, completes none.
type commitCounter struct {
	url     string
	commits atomic.Int64
}

func startCommitCounter(t *testing.T, dbURL string) *commitCounter {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	upstream := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u.Host = ln.Addr().String()
	c := &commitCounter{url: u.String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go c.serve(client, upstream)
		}
	})
	return c
}

func (c *commitCounter) serve(client net.Conn, upstream string) {
	defer client.Close()
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(server, client)
		server.Close()
	}()
	// Every message from the server is typed: a byte, then a length that
	// counts itself.
	r := bufio.NewReader(server)
	head := make([]byte, 5)
	completed := false
	for {
		if _, err := io.ReadFull(r, head); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		switch head[0] {
		case 'C':
			completed = true
		case 'Z':
			if len(body) == 1 && body[0] == 'I' {
				if completed {
					c.commits.Add(1)
				}
				completed = false
			}
		}
		if _, err := (&net.Buffers{head, body}).WriteTo(client); err != nil {
			return
		}
	}
}
