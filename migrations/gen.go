//go:build ignore

// gen.go writes a new versioned migration per dialect when the ent schema
// differs from what the existing migrations build. Run by `make generate`:
//
//	go run ./migrations/gen.go [-name tenantd] [-pg-url postgres://…/postgres]
//
// The SQLite side replays the directory into an in-memory database; the
// PostgreSQL side needs a server (TENANTD_DEV_DATABASE_URL or -pg-url) on
// which it creates, and afterwards drops, a scratch database.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	atlas "ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/tenantd/tenantd/ent/migrate"
)

func main() {
	pgURL := os.Getenv("TENANTD_DEV_DATABASE_URL")
	if pgURL == "" {
		pgURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	name := flag.String("name", "tenantd", "name part of a new migration file")
	flag.StringVar(&pgURL, "pg-url", pgURL, "PostgreSQL server used as the scratch database for the diff")
	flag.Parse()
	ctx := context.Background()

	sqliteDB, err := sql.Open("sqlite", "file:atlasdev?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		log.Fatal(err)
	}
	sqliteDB.SetMaxOpenConns(1) // an in-memory database lives in one connection
	defer sqliteDB.Close()
	if err := diff(ctx, "migrations/sqlite", dialect.SQLite, sqliteDB, *name); err != nil {
		log.Fatalf("sqlite: %v", err)
	}

	devDB, drop, err := scratchPostgres(ctx, pgURL)
	if err != nil {
		log.Fatalf("postgres: %v", err)
	}
	defer drop()
	if err := diff(ctx, "migrations/postgres", dialect.Postgres, devDB, *name); err != nil {
		drop()
		log.Fatalf("postgres: %v", err)
	}
}

// diff rehashes the directory (hand-written files count) and writes the
// migration that takes it to the ent schema, if there is one.
func diff(ctx context.Context, path, dialectName string, db *sql.DB, name string) error {
	dir, err := sqltool.NewGooseDir(path)
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	if err := atlasmigrate.WriteSumFile(dir, sum); err != nil {
		return err
	}
	drv := entsql.OpenDB(dialectName, db)
	return migrate.NewSchema(drv).NamedDiff(ctx, name,
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialectName),
		schema.WithFormatter(sqltool.GooseFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithDiffHook(keepHandWrittenTables),
	)
}

// keepHandWrittenTables drops, from the diff, changes to tables that ent does
// not model: the workspace tables (and SQLite's FTS5 shadow tables) written
// by hand in their own migrations.
func keepHandWrittenTables(next schema.Differ) schema.Differ {
	entTables := map[string]bool{}
	for _, t := range migrate.Tables {
		entTables[t.Name] = true
	}
	return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
		changes, err := next.Diff(current, desired)
		if err != nil {
			return nil, err
		}
		kept := changes[:0]
		for _, c := range changes {
			switch c := c.(type) {
			case *atlas.DropTable:
				if !entTables[c.T.Name] {
					continue
				}
			case *atlas.ModifyTable:
				if !entTables[c.T.Name] {
					continue
				}
			}
			kept = append(kept, c)
		}
		return kept, nil
	})
}

func scratchPostgres(ctx context.Context, serverURL string) (*sql.DB, func(), error) {
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		return nil, nil, err
	}
	dbName := fmt.Sprintf("tenantd_atlas_dev_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+dbName); err != nil {
		return nil, nil, fmt.Errorf("create scratch database (is PostgreSQL running at %s?): %w", serverURL, err)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, nil, err
	}
	u.Path = "/" + dbName
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, nil, err
	}
	dropped := false
	drop := func() {
		if dropped {
			return
		}
		dropped = true
		db.Close()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)"); err != nil {
			log.Printf("drop scratch database %s: %v", dbName, err)
		}
		admin.Close()
	}
	return db, drop, nil
}
