package wsdriver

import (
	"context"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/store"
)

// SQLitePool is the store of pool workspaces on SQLite: the shared tables
// of the main database file, keyed by tenant_id, with an FTS5 index kept
// in step by triggers.
type SQLitePool struct{ db *store.DB }

// NewSQLitePool returns the SQLite pool store of db.
func NewSQLitePool(db *store.DB) *SQLitePool { return &SQLitePool{db: db} }

// Kind is KindSQLitePool.
func (d *SQLitePool) Kind() Kind { return KindSQLitePool }

// Isolation is pool.
func (d *SQLitePool) Isolation() tenantd.Isolation { return tenantd.IsolationPool }

// Location is PoolLocation for every tenant.
func (d *SQLitePool) Location(uuid.UUID) string { return PoolLocation }

// inMain runs fn in main, or in a transaction of its own when main is nil.
func (d *SQLitePool) inMain(ctx context.Context, main *store.Tx, tenantID uuid.UUID, fn func(ctx context.Context, t *sqliteTx) error) error {
	run := func(ctx context.Context, tx *store.Tx) error {
		return fn(ctx, &sqliteTx{tables{q: tx.SQL, tenantID: tenantID, main: tx}})
	}
	if main != nil {
		return run(ctx, main)
	}
	return d.db.InTx(ctx, run)
}

// Create makes the tenant's usage row.
func (d *SQLitePool) Create(ctx context.Context, main *store.Tx, p Placement) error {
	return d.inMain(ctx, main, p.TenantID, func(ctx context.Context, t *sqliteTx) error { return t.createUsage(ctx) })
}

// Destroy deletes the tenant's rows of the shared tables.
func (d *SQLitePool) Destroy(ctx context.Context, main *store.Tx, p Placement) (map[string]any, func() error, error) {
	report := map[string]any{}
	if err := d.inMain(ctx, main, p.TenantID, func(ctx context.Context, t *sqliteTx) error { return t.deleteRows(ctx, report) }); err != nil {
		return nil, nil, err
	}
	return report, noCleanup, nil
}

// Write runs fn in main, or in a transaction of its own (which queues for
// the main database's one writer).
func (d *SQLitePool) Write(ctx context.Context, main *store.Tx, p Placement, fn func(ctx context.Context, tx Tx) error) error {
	return d.inMain(ctx, main, p.TenantID, func(ctx context.Context, t *sqliteTx) error { return fn(ctx, t) })
}

// View runs fn on a connection of the main database's read handle.
func (d *SQLitePool) View(ctx context.Context, _ *store.Tx, p Placement, opts ViewOptions, fn func(ctx context.Context, r Reader) error) error {
	return sqliteView(ctx, d.db.Read, p.TenantID, opts, fn)
}

// Close does nothing: the main database is the caller's.
func (d *SQLitePool) Close() error { return nil }
