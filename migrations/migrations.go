// Package migrations embeds tenantd's versioned SQL migrations, one goose
// directory per dialect. Files named *_tenantd_*.sql are generated from the
// ent schema by gen.go (Atlas diff); the others are written by hand for what
// ent cannot express (triggers, row-level security, full-text search).
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres returns the PostgreSQL migrations.
func Postgres() fs.FS { return sub("postgres") }

// SQLite returns the SQLite migrations.
func SQLite() fs.FS { return sub("sqlite") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return f
}
