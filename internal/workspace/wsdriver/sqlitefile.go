package wsdriver

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/store"
)

//go:embed sql/sqlite_silo.sql
var sqliteSiloDDL string

// SQLiteFile is the store of silo workspaces on SQLite: each tenant's own
// database file under Dir/workspaces. A workspace's writes commit in its
// file alone, so they never queue for the main database's writer; Tx.Main
// is nil.
type SQLiteFile struct {
	dir string

	mu      sync.Mutex
	handles map[string]*fileHandle // open files by path
	uses    uint64                 // a clock of uses, for least-recently-used eviction
}

// fileHandle is an open silo file and how many callers use it.
type fileHandle struct {
	db      *sql.DB
	refs    int
	lastUse uint64
}

// MaxOpenFiles bounds the files an SQLiteFile holds open; the least
// recently used idle ones are closed beyond it.
const MaxOpenFiles = 256

// NewSQLiteFile returns the SQLite file store keeping its files under dir.
func NewSQLiteFile(dir string) *SQLiteFile {
	return &SQLiteFile{dir: dir, handles: map[string]*fileHandle{}}
}

// Kind is KindSQLiteFile.
func (d *SQLiteFile) Kind() Kind { return KindSQLiteFile }

// Isolation is silo.
func (d *SQLiteFile) Isolation() tenantd.Isolation { return tenantd.IsolationSilo }

// Location is the tenant's file path.
func (d *SQLiteFile) Location(tenantID uuid.UUID) string {
	return filepath.Join(d.dir, "workspaces", tenantID.String()+".db")
}

// Create makes the file, its tables and the usage row, idempotently. A
// file cannot join main's transaction: it is made before main commits, and
// made again harmlessly when main is retried.
func (d *SQLiteFile) Create(ctx context.Context, _ *store.Tx, p Placement) error {
	if err := os.MkdirAll(filepath.Dir(p.Location), 0o700); err != nil {
		return fmt.Errorf("create workspace dir: %w", err)
	}
	db, err := sql.Open("sqlite", store.SQLiteDSN(p.Location))
	if err != nil {
		return fmt.Errorf("open silo %s: %w", p.Location, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, sqliteSiloDDL); err != nil {
		return fmt.Errorf("create silo tables in %s: %w", p.Location, err)
	}
	t := &tables{q: db, tenantID: p.TenantID}
	if err := t.createUsage(ctx); err != nil {
		return fmt.Errorf("%s: %w", p.Location, err)
	}
	return nil
}

// Destroy closes the file; cleanup deletes it (report "deletedFile").
func (d *SQLiteFile) Destroy(_ context.Context, _ *store.Tx, p Placement) (map[string]any, func() error, error) {
	path := p.Location
	d.mu.Lock()
	if h, ok := d.handles[path]; ok {
		h.db.Close()
		delete(d.handles, path)
	}
	d.mu.Unlock()
	cleanup := func() error {
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		return nil
	}
	return map[string]any{"deletedFile": path}, cleanup, nil
}

// Write runs fn in a transaction of the file.
func (d *SQLiteFile) Write(ctx context.Context, _ *store.Tx, p Placement, fn func(ctx context.Context, tx Tx) error) error {
	db, release, err := d.open(p.Location)
	if err != nil {
		return err
	}
	defer release()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin silo transaction: %w", err)
	}
	if err := fn(ctx, &sqliteTx{tables{q: tx, tenantID: p.TenantID}}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit silo transaction: %w", err)
	}
	return nil
}

// View runs fn on a connection of the file.
func (d *SQLiteFile) View(ctx context.Context, _ *store.Tx, p Placement, opts ViewOptions, fn func(ctx context.Context, r Reader) error) error {
	db, release, err := d.open(p.Location)
	if err != nil {
		return err
	}
	defer release()
	return sqliteView(ctx, db, p.TenantID, opts, fn)
}

// open returns the open handle of a file and the function that gives it
// back; a handle in use is never closed by eviction.
func (d *SQLiteFile) open(path string) (*sql.DB, func(), error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.handles[path]
	if !ok {
		if _, err := os.Stat(path); err != nil {
			// Opening would make an empty file.
			return nil, nil, fmt.Errorf("open silo %s: %w", path, err)
		}
		db, err := sql.Open("sqlite", store.SQLiteDSN(path))
		if err != nil {
			return nil, nil, fmt.Errorf("open silo %s: %w", path, err)
		}
		db.SetMaxOpenConns(2)
		h = &fileHandle{db: db}
		d.handles[path] = h
	}
	d.uses++
	h.refs++
	h.lastUse = d.uses
	d.evictLocked() // never this handle: it is in use
	release := func() {
		d.mu.Lock()
		h.refs--
		d.uses++
		h.lastUse = d.uses
		d.mu.Unlock()
	}
	return h.db, release, nil
}

// evictLocked closes idle handles, least recently used first, down to
// MaxOpenFiles.
func (d *SQLiteFile) evictLocked() {
	for len(d.handles) > MaxOpenFiles {
		var (
			oldest string
			when   uint64
		)
		for path, h := range d.handles {
			if h.refs == 0 && (oldest == "" || h.lastUse < when) {
				oldest, when = path, h.lastUse
			}
		}
		if oldest == "" {
			return // all in use
		}
		d.handles[oldest].db.Close()
		delete(d.handles, oldest)
	}
}

// OpenFiles returns how many files are held open.
func (d *SQLiteFile) OpenFiles() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.handles)
}

// Close closes the open files.
func (d *SQLiteFile) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	for path, h := range d.handles {
		if err := h.db.Close(); err != nil && first == nil {
			first = err
		}
		delete(d.handles, path)
	}
	return first
}
