package store

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/tenantd/tenantd/migrations"
)

// migrationLockKey is the PostgreSQL advisory lock that serializes replicas
// migrating the same database at start.
const migrationLockKey = 0x7465_6e61 // "tena"

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
	migrator, err := rivermigrate.New(db.RiverDriver(), &rivermigrate.Config{Logger: db.log})
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
	migrator, err := rivermigrate.New(db.RiverDriver(), &rivermigrate.Config{Logger: db.log})
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
