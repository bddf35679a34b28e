package wsdriver

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/store"
)

//go:embed sql/postgres_silo.sql
var postgresSiloDDL string

// PostgresSchema is the store of silo workspaces on PostgreSQL: each
// tenant's own schema (SchemaName) in the main database, made and owned by
// the application role.
type PostgresSchema struct {
	pg  postgres
	log *slog.Logger

	// upgraded holds the schemas known to have the bounded search vector,
	// so that the catalog is asked once per process and schema. It can
	// only go from no to yes; it says nothing about where a tenant lives.
	upgraded sync.Map
}

// NewPostgresSchema returns the PostgreSQL schema store of db.
func NewPostgresSchema(db *store.DB, log *slog.Logger) *PostgresSchema {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PostgresSchema{pg: postgres{db: db}, log: log}
}

// SchemaName returns the PostgreSQL schema of a silo tenant.
func SchemaName(tenantID uuid.UUID) string {
	return "ws_" + strings.ReplaceAll(tenantID.String(), "-", "")
}

// Kind is KindPostgresSchema.
func (d *PostgresSchema) Kind() Kind { return KindPostgresSchema }

// Isolation is silo.
func (d *PostgresSchema) Isolation() tenantd.Isolation { return tenantd.IsolationSilo }

// Location is the tenant's schema name.
func (d *PostgresSchema) Location(tenantID uuid.UUID) string { return SchemaName(tenantID) }

func prefixOf(p Placement) string { return pqIdent(p.Location) + "." }

// Create makes the schema, its tables and the usage row, inside the
// transaction (PostgreSQL DDL is transactional).
func (d *PostgresSchema) Create(ctx context.Context, main *store.Tx, p Placement) error {
	return d.pg.inMain(ctx, main, p.TenantID, func(ctx context.Context, tx *store.Tx) error {
		ddl := strings.ReplaceAll(postgresSiloDDL, "{{schema}}", pqIdent(p.Location))
		if _, err := tx.SQL.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("create silo schema %s: %w", p.Location, err)
		}
		return d.pg.tx(tx, p.TenantID, prefixOf(p)).createUsage(ctx)
	})
}

// Destroy drops the schema.
func (d *PostgresSchema) Destroy(ctx context.Context, main *store.Tx, p Placement) (map[string]any, func() error, error) {
	err := d.pg.inMain(ctx, main, p.TenantID, func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.SQL.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+pqIdent(p.Location)+" CASCADE"); err != nil {
			return fmt.Errorf("drop silo schema: %w", err)
		}
		tx.OnCommit(func() { d.upgraded.Delete(p.Location) })
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return map[string]any{"droppedSchema": p.Location}, noCleanup, nil
}

// Write runs fn in main (or its own transaction).
func (d *PostgresSchema) Write(ctx context.Context, main *store.Tx, p Placement, fn func(ctx context.Context, tx Tx) error) error {
	return d.pg.inMain(ctx, main, p.TenantID, func(ctx context.Context, tx *store.Tx) error {
		if err := d.upgrade(ctx, tx, p.Location); err != nil {
			return err
		}
		return fn(ctx, d.pg.tx(tx, p.TenantID, prefixOf(p)))
	})
}

// View runs fn in main (or its own transaction).
func (d *PostgresSchema) View(ctx context.Context, main *store.Tx, p Placement, opts ViewOptions, fn func(ctx context.Context, r Reader) error) error {
	prepare := func(ctx context.Context, tx *store.Tx) error { return d.upgrade(ctx, tx, p.Location) }
	return d.pg.view(ctx, main, p.TenantID, prefixOf(p), opts, prepare, fn)
}

// Close does nothing: the store holds nothing open.
func (d *PostgresSchema) Close() error { return nil }

// searchVector is the expression of a PostgreSQL documents table's search
// column: the function of migration 20261202050000, which bounds what is
// indexed.
const searchVector = "public.tenantd_document_search(title, content)"

// upgrade gives a silo schema made before migration 20261202050000 the
// bounded search vector. The application role owns silo schemas (it
// creates them), so it, not the migration run by the owner, alters them —
// in the transaction of the first request that uses the schema; an
// advisory lock keeps replicas from doing it twice. The table is rewritten
// under an exclusive lock: that tenant's requests wait for it, nobody
// else's.
func (d *PostgresSchema) upgrade(ctx context.Context, tx *store.Tx, schemaName string) error {
	if _, ok := d.upgraded.Load(schemaName); ok {
		return nil
	}
	table := pqIdent(schemaName) + ".documents"
	current := func() (bool, error) {
		var expr string
		err := tx.SQL.QueryRowContext(ctx, `SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
			JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
			WHERE d.adrelid = to_regclass($1) AND a.attname = 'search'`, table).Scan(&expr)
		if isNoRows(err) {
			return false, fmt.Errorf("silo schema %s has no documents.search column", schemaName)
		}
		if err != nil {
			return false, fmt.Errorf("inspect silo schema %s: %w", schemaName, err)
		}
		return strings.Contains(expr, "tenantd_document_search"), nil
	}
	known := func() { d.upgraded.Store(schemaName, true) }
	if ok, err := current(); err != nil {
		return err
	} else if ok {
		known()
		return nil
	}
	if _, err := tx.SQL.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "tenantd silo upgrade "+schemaName); err != nil {
		return fmt.Errorf("lock silo schema %s: %w", schemaName, err)
	}
	if ok, err := current(); err != nil {
		return err
	} else if ok {
		known()
		return nil
	}
	if _, err := tx.SQL.ExecContext(ctx, "ALTER TABLE "+table+" DROP COLUMN search, ADD COLUMN search tsvector GENERATED ALWAYS AS ("+
		searchVector+") STORED"); err != nil {
		return fmt.Errorf("upgrade search vector of silo schema %s: %w", schemaName, err)
	}
	if _, err := tx.SQL.ExecContext(ctx, "CREATE INDEX documents_search ON "+table+" USING gin (search)"); err != nil {
		return fmt.Errorf("upgrade search index of silo schema %s: %w", schemaName, err)
	}
	tx.OnCommit(func() {
		known()
		d.log.Info("silo schema upgraded to the bounded search vector", "schema", schemaName)
	})
	return nil
}
