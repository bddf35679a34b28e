package wsdriver

import (
	"context"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/store"
)

// PostgresPool is the store of pool workspaces on PostgreSQL: the shared
// tables of the public schema, keyed by tenant_id, with row-level security
// (enabled and forced) as a second wall behind the tenant filter of every
// statement.
type PostgresPool struct{ pg postgres }

// NewPostgresPool returns the PostgreSQL pool store of db.
func NewPostgresPool(db *store.DB) *PostgresPool { return &PostgresPool{pg: postgres{db: db}} }

// Kind is KindPostgresPool.
func (d *PostgresPool) Kind() Kind { return KindPostgresPool }

// Isolation is pool.
func (d *PostgresPool) Isolation() tenantd.Isolation { return tenantd.IsolationPool }

// Location is PoolLocation for every tenant.
func (d *PostgresPool) Location(uuid.UUID) string { return PoolLocation }

const publicPrefix = "public."

// Create makes the tenant's usage row.
func (d *PostgresPool) Create(ctx context.Context, main *store.Tx, p Placement) error {
	return d.pg.inMain(ctx, main, p.TenantID, func(ctx context.Context, tx *store.Tx) error {
		return d.pg.tx(tx, p.TenantID, publicPrefix).createUsage(ctx)
	})
}

// Destroy deletes the tenant's rows of the shared tables.
func (d *PostgresPool) Destroy(ctx context.Context, main *store.Tx, p Placement) (map[string]any, func() error, error) {
	report := map[string]any{}
	err := d.pg.inMain(ctx, main, p.TenantID, func(ctx context.Context, tx *store.Tx) error {
		return d.pg.tx(tx, p.TenantID, publicPrefix).deleteRows(ctx, report)
	})
	if err != nil {
		return nil, nil, err
	}
	return report, noCleanup, nil
}

// Write runs fn in main (or its own transaction).
func (d *PostgresPool) Write(ctx context.Context, main *store.Tx, p Placement, fn func(ctx context.Context, tx Tx) error) error {
	return d.pg.inMain(ctx, main, p.TenantID, func(ctx context.Context, tx *store.Tx) error {
		return fn(ctx, d.pg.tx(tx, p.TenantID, publicPrefix))
	})
}

// View runs fn in main (or its own transaction).
func (d *PostgresPool) View(ctx context.Context, main *store.Tx, p Placement, opts ViewOptions, fn func(ctx context.Context, r Reader) error) error {
	return d.pg.view(ctx, main, p.TenantID, publicPrefix, opts, nil, fn)
}

// Close does nothing: the store holds nothing open.
func (d *PostgresPool) Close() error { return nil }

func noCleanup() error { return nil }
