// Package workspace is the tenant data plane: each tenant's documents and
// query log. Where they live follows the plan's isolation — pool tenants
// share tables keyed by tenant_id, silo tenants get their own PostgreSQL
// schema or SQLite file — and a Workspace row registers which.
package workspace

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/store"
)

//go:embed sql/postgres_silo.sql
var postgresSiloDDL string

//go:embed sql/sqlite_silo.sql
var sqliteSiloDDL string

// PoolLocation is the location of every pool workspace: the shared tables.
const PoolLocation = "pool"

// Service creates workspaces and serves their data.
type Service struct {
	db      *store.DB
	dataDir string
	cfg     Config

	scopes sync.Map // tenant id → *scope

	mu    sync.Mutex
	silos map[string]*siloHandle // open SQLite silo files

	// searchReadHook, set by tests only, runs inside a search's reading,
	// after the tenant checks and before the search.
	searchReadHook func(ctx context.Context, tenantID uuid.UUID, q querier) error
}

// Config tunes a Service.
type Config struct {
	// DataDir holds SQLite silo files.
	DataDir string
	// MaxDocumentBytes is the largest document (default 10 MiB).
	MaxDocumentBytes int64
	// ActivationWindow is passed on to the activation funnel.
	ActivationWindow time.Duration
	// SearchTimeout bounds the reading of one search (default
	// DefaultSearchTimeout): a statement timeout on PostgreSQL, a context
	// deadline that interrupts the query on SQLite.
	SearchTimeout time.Duration
	Logger        *slog.Logger
}

// DefaultSearchTimeout is the default Config.SearchTimeout. A search's work
// is bounded (see search.go), so this is a backstop far above its normal
// latency, not a budget it is expected to use.
const DefaultSearchTimeout = 5 * time.Second

// New returns a Service.
func New(db *store.DB, cfg Config) *Service {
	if cfg.MaxDocumentBytes == 0 {
		cfg.MaxDocumentBytes = 10 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ActivationWindow == 0 {
		cfg.ActivationWindow = 7 * 24 * time.Hour
	}
	if cfg.SearchTimeout == 0 {
		cfg.SearchTimeout = DefaultSearchTimeout
	}
	return &Service{db: db, dataDir: cfg.DataDir, cfg: cfg, silos: map[string]*siloHandle{}}
}

// SchemaName returns the PostgreSQL schema of a silo tenant.
func SchemaName(tenantID uuid.UUID) string {
	return "ws_" + strings.ReplaceAll(tenantID.String(), "-", "")
}

// FilePath returns the SQLite file of a silo tenant.
func (s *Service) FilePath(tenantID uuid.UUID) string {
	return filepath.Join(s.dataDir, "workspaces", tenantID.String()+".db")
}

// CreateTx creates the tenant's workspace, registering it in tx. It is
// idempotent: run again, it finds the workspace and creates nothing, so a
// retried or resumed provisioning never makes a second one. On PostgreSQL a
// silo schema is created inside tx (PostgreSQL DDL is transactional); an
// SQLite silo file is created before, idempotently.
func (s *Service) CreateTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, iso tenantd.Isolation) (*ent.Workspace, error) {
	sys := tenantd.SystemContext(ctx)
	existing, err := tx.Ent.Workspace.Query().Where(workspace.TenantID(tenantID)).Only(sys)
	if err == nil {
		return existing, nil
	}
	if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("look up workspace: %w", err)
	}
	location := PoolLocation
	if iso == tenantd.IsolationSilo {
		if tx.IsPostgres() {
			location = SchemaName(tenantID)
			ddl := strings.ReplaceAll(postgresSiloDDL, "{{schema}}", pqIdent(location))
			if _, err := tx.SQL.ExecContext(ctx, ddl); err != nil {
				return nil, fmt.Errorf("create silo schema %s: %w", location, err)
			}
		} else {
			location = s.FilePath(tenantID)
			if err := s.createSQLiteSilo(ctx, location, tenantID); err != nil {
				return nil, err
			}
		}
	}
	ws, err := tx.Ent.Workspace.Create().
		SetTenantID(tenantID).SetIsolation(iso).SetLocation(location).
		Save(sys)
	if err != nil {
		return nil, fmt.Errorf("register workspace: %w", err)
	}
	if iso == tenantd.IsolationPool || tx.IsPostgres() {
		// The usage row of a pool or PostgreSQL silo workspace; an SQLite
		// silo file got its own above.
		sc := &scope{tenantID: tenantID, postgres: tx.IsPostgres()}
		if tx.IsPostgres() {
			sc.prefix = "public."
			if iso == tenantd.IsolationSilo {
				sc.prefix = pqIdent(location) + "."
			}
			if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", tenantID.String()); err != nil {
				return nil, err
			}
		}
		if _, err := tx.SQL.ExecContext(ctx, sc.q("INSERT INTO "+sc.table("workspace_usage")+" (tenant_id) VALUES (?) ON CONFLICT (tenant_id) DO NOTHING"), tenantID); err != nil {
			return nil, fmt.Errorf("create usage counters: %w", err)
		}
	}
	return ws, nil
}

func (s *Service) createSQLiteSilo(ctx context.Context, path string, tenantID uuid.UUID) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create workspace dir: %w", err)
	}
	db, err := sql.Open("sqlite", store.SQLiteDSN(path))
	if err != nil {
		return fmt.Errorf("open silo %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, sqliteSiloDDL); err != nil {
		return fmt.Errorf("create silo tables in %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO workspace_usage (tenant_id) VALUES (?) ON CONFLICT (tenant_id) DO NOTHING", tenantID); err != nil {
		return fmt.Errorf("create usage counters in %s: %w", path, err)
	}
	return nil
}

// pqIdent quotes a PostgreSQL identifier.
func pqIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// DestroyTx deletes the tenant's data inside tx: the pooled rows, or the
// silo schema on PostgreSQL; it marks the workspace destroyed and returns
// what it deleted. An SQLite silo file is removed by the returned cleanup,
// to be called after commit (a file cannot be deleted transactionally).
func (s *Service) DestroyTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID) (report map[string]any, cleanup func() error, err error) {
	sys := tenantd.SystemContext(ctx)
	cleanup = func() error { return nil }
	ws, err := tx.Ent.Workspace.Query().Where(workspace.TenantID(tenantID)).Only(sys)
	if ent.IsNotFound(err) {
		return map[string]any{"workspace": "none"}, cleanup, nil
	}
	if err != nil {
		return nil, nil, err
	}
	s.scopes.Delete(tenantID)
	report = map[string]any{"isolation": string(ws.Isolation), "location": ws.Location}
	if ws.DestroyedAt != nil {
		report["alreadyDestroyed"] = true
		return report, cleanup, nil
	}
	switch {
	case ws.Isolation == tenantd.IsolationSilo && tx.IsPostgres():
		if _, err := tx.SQL.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+pqIdent(ws.Location)+" CASCADE"); err != nil {
			return nil, nil, fmt.Errorf("drop silo schema: %w", err)
		}
		report["droppedSchema"] = ws.Location
	case ws.Isolation == tenantd.IsolationSilo:
		path := ws.Location
		s.mu.Lock()
		if h, ok := s.silos[path]; ok {
			h.db.Close()
			delete(s.silos, path)
		}
		s.mu.Unlock()
		cleanup = func() error {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
			return nil
		}
		report["deletedFile"] = path
	default:
		sc := &scope{tenantID: tenantID, postgres: tx.IsPostgres()}
		if tx.IsPostgres() {
			sc.prefix = "public."
			if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", tenantID.String()); err != nil {
				return nil, nil, err
			}
		}
		for _, table := range []string{"documents", "query_log", "workspace_usage"} {
			res, err := tx.SQL.ExecContext(ctx, sc.q("DELETE FROM "+sc.table(table)+" WHERE tenant_id = ?"), tenantID)
			if err != nil {
				return nil, nil, fmt.Errorf("delete pooled %s: %w", table, err)
			}
			n, _ := res.RowsAffected()
			report["deleted_"+table] = n
		}
	}
	if err := tx.Ent.Workspace.UpdateOne(ws).SetDestroyedAt(schema.Now()).Exec(sys); err != nil {
		return nil, nil, err
	}
	return report, cleanup, nil
}
