package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/workspace"
)

// importArchive is `tenantd import ARCHIVE [--slug s]`: a new tenant from
// an export archive, on the configured database, without a server. Its
// events reach running servers as every write's do (NOTIFY on PostgreSQL;
// on SQLite they read the database).
func importArchive(ctx context.Context, c *cli) int {
	if len(c.args) != 1 {
		fmt.Fprintln(c.stderr, "tenantd import: give the archive: tenantd import ARCHIVE [--slug s]")
		return 2
	}
	db, err := openStore(ctx, c)
	if err != nil {
		c.log.Error("import", "err", err)
		return 1
	}
	defer db.Close()
	if err := db.MigrationsCurrent(ctx); err != nil {
		c.log.Error("import", "err", err)
		return 1
	}
	pub := events.NewPublisher(events.NewHub())
	ws := workspace.New(db, workspace.Config{DataDir: c.cfg.DataDir, MaxDocumentBytes: c.cfg.MaxDocument, Logger: c.log})
	defer ws.Close()
	svc, err := export.New(export.Config{DB: db, Lifecycle: lifecycle.New(lifecycle.Config{DB: db, Events: pub}), Workspaces: ws,
		Events: pub, Dir: c.cfg.ExportDir, Logger: c.log})
	if err != nil {
		c.log.Error("import", "err", err)
		return 1
	}
	path, _ := filepath.Abs(c.args[0])
	res, err := svc.ImportFile(ctx, path, export.ImportOptions{Slug: flagString(c.flags, "slug"),
		Actor: lifecycle.Actor{By: tenantd.TriggerSystem, Name: "cli:import"}})
	if err != nil {
		fmt.Fprintf(c.stderr, "tenantd import: %s\n", tenantd.ErrorMessage(err))
		if tenantd.ErrorCode(err) == tenantd.EINTERNAL {
			c.log.Error("import", "err", err)
		}
		return 1
	}
	fmt.Fprintf(c.stdout, "imported tenant %s (slug %s, plan from the archive) from tenant %s: %d documents, %d query log entries, %d milestones\n",
		res.Tenant.ID, *res.Tenant.Slug, res.SourceTenantID, res.Documents, res.QueryLog, res.Milestones)
	fmt.Fprintf(c.stderr, "its owner API key, shown once:\n")
	fmt.Fprintln(c.stdout, res.APIKey)
	return 0
}
