package store

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/tenantd/tenantd/migrations"
)

// migrationLockKey is the PostgreSQL advisory lock that serializes replicas
// migrating the same database at start.
const migrationLockKey = 0x7465_6e61 // "tena"

// Migrate applies the migrations of the database opts names. On PostgreSQL
// it connects as the schema owner (opts.OwnerURL, else opts.DatabaseURL) and
// then grants the application role of opts.DatabaseURL what it needs: the
// data privileges on every table and sequence, and CREATE on the database
// for silo schemas — never ownership, so row-level security binds it.
func Migrate(ctx context.Context, opts Options) (*MigrationResult, error) {
	if opts.DatabaseURL == "" {
		db, err := Open(ctx, opts)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		return db.Migrate(ctx)
	}
	ownerURL := opts.OwnerURL
	if ownerURL == "" {
		ownerURL = opts.DatabaseURL
	}
	owner, err := Open(ctx, Options{DatabaseURL: ownerURL, MaxConns: 4, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("connect as the schema owner: %w", err)
	}
	defer owner.Close()
	app, err := pgxpool.ParseConfig(opts.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	// The grant runs under the migration lock too: two replicas granting at
	// once fail with PostgreSQL's "tuple concurrently updated".
	return owner.migrate(ctx, func() error { return owner.GrantApplicationRole(ctx, app.ConnConfig.User) })
}

// GrantApplicationRole gives role the privileges tenantd needs at run time
// (idempotent; a no-op for the owner itself).
func (db *DB) GrantApplicationRole(ctx context.Context, role string) error {
	var current string
	if err := db.SQL.QueryRowContext(ctx, "SELECT current_user").Scan(&current); err != nil {
		return err
	}
	if role == "" || role == current {
		return nil
	}
	q := quoteIdent(role)
	var dbName string
	if err := db.SQL.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbName); err != nil {
		return err
	}
	for _, stmt := range []string{
		"GRANT USAGE ON SCHEMA public TO " + q,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + q,
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO " + q,
		"GRANT CREATE ON DATABASE " + quoteIdent(dbName) + " TO " + q,
	} {
		if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("grant the application role %s: %w", role, err)
		}
	}
	return nil
}

// CheckRowSecurity refuses an application role that row-level security
// would not bind: a superuser, a role with BYPASSRLS, or the owner (or a
// member of the owner) of a pooled workspace table. SQLite has no roles.
func (db *DB) CheckRowSecurity(ctx context.Context) error {
	if !db.IsPostgres() {
		return nil
	}
	var (
		role          string
		super, bypass bool
	)
	err := db.SQL.QueryRowContext(ctx, "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").
		Scan(&role, &super, &bypass)
	if err != nil {
		return fmt.Errorf("read the application role: %w", err)
	}
	why := ""
	switch {
	case super:
		why = "is a superuser"
	case bypass:
		why = "has BYPASSRLS"
	default:
		var owned string
		err := db.SQL.QueryRowContext(ctx, `SELECT string_agg(tablename, ', ') FROM pg_tables
			WHERE schemaname = 'public' AND tablename IN ('documents', 'query_log', 'workspace_usage')
			AND pg_has_role(current_user, tableowner, 'USAGE')`).Scan(&nullString{&owned})
		if err != nil {
			return fmt.Errorf("read table owners: %w", err)
		}
		if owned != "" {
			why = "owns the pooled tables (" + owned + ")"
		}
	}
	if why != "" {
		return fmt.Errorf("DATABASE_URL connects as role %q, which %s and so is not bound by row-level security on the pooled "+
			"tenant tables: connect as a role without SUPERUSER or BYPASSRLS that does not own the tables, and run migrations "+
			"as the owner with TENANTD_OWNER_DATABASE_URL (see README, \"PostgreSQL roles\")", role, why)
	}
	return nil
}

type nullString struct{ s *string }

func (n *nullString) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*n.s = ""
	case string:
		*n.s = v
	case []byte:
		*n.s = string(v)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// MigrationResult says what Migrate applied.
type MigrationResult struct {
	Schema []int64 // tenantd schema versions applied
	River  []int   // River versions applied
}

// Migrate applies tenantd's embedded migrations and River's, in that order.
// On PostgreSQL it holds an advisory lock for the whole run, so replicas
// starting together migrate one after the other and the later ones find
// nothing to do.
func (db *DB) Migrate(ctx context.Context) (*MigrationResult, error) {
	return db.migrate(ctx, nil)
}

// migrate applies the migrations and then runs after, all under the
// migration lock.
func (db *DB) migrate(ctx context.Context, after func() error) (*MigrationResult, error) {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	provider, err := db.goose()
	if err != nil {
		return nil, err
	}
	applied, err := provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply tenantd migrations: %w", err)
	}
	res := &MigrationResult{}
	for _, r := range applied {
		res.Schema = append(res.Schema, r.Source.Version)
	}
	migrator, err := rivermigrate.New(db.riverBaseDriver(), &rivermigrate.Config{Logger: db.log})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	rres, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("apply river migrations: %w", err)
	}
	for _, v := range rres.Versions {
		res.River = append(res.River, v.Version)
	}
	if after != nil {
		if err := after(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// MigrationsCurrent returns nil when every embedded tenantd and River
// migration has been applied, and otherwise an error saying what is missing.
func (db *DB) MigrationsCurrent(ctx context.Context) error {
	provider, err := db.goose()
	if err != nil {
		return err
	}
	pending, err := provider.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("read tenantd migration state: %w", err)
	}
	if pending {
		return fmt.Errorf("tenantd migrations are pending: run `tenantd migrate`")
	}
	migrator, err := rivermigrate.New(db.riverBaseDriver(), &rivermigrate.Config{Logger: db.log})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	v, err := migrator.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("read river migration state: %w", err)
	}
	if !v.OK {
		return fmt.Errorf("river migrations are pending: %v", v.Messages)
	}
	return nil
}

func (db *DB) goose() (*goose.Provider, error) {
	var (
		d    goose.Dialect
		fsys fs.FS
	)
	if db.IsPostgres() {
		d, fsys = goose.DialectPostgres, migrations.Postgres()
	} else {
		d, fsys = goose.DialectSQLite3, migrations.SQLite()
	}
	p, err := goose.NewProvider(d, db.SQL, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// lockMigrations takes the migration lock on a dedicated connection. SQLite
// needs none: tenantd runs as one process on an SQLite file.
func (db *DB) lockMigrations(ctx context.Context) (func(), error) {
	if !db.IsPostgres() {
		return func() {}, nil
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		conn.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() {
		// A fresh context: the unlock must happen even if ctx is done.
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockKey)
		conn.Close()
	}, nil
}
