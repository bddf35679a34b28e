// Package workspace is the tenant data plane: each tenant's documents and
// query log. Where they live follows the tenant's placement (placement.go),
// a Workspace row that can change: pool tenants share tables keyed by
// tenant_id, silo tenants get their own PostgreSQL schema or SQLite file.
// Each store is a wsdriver.Driver; this package holds what is the same
// everywhere — validation, state gates, quotas, the query syntax, the
// activation milestones — and routes every request by the placement it
// reads in that request.
package workspace

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// PoolLocation is the location of every pool workspace: the shared tables.
const PoolLocation = wsdriver.PoolLocation

// Service creates workspaces and serves their data.
type Service struct {
	db      *store.DB
	cfg     Config
	clock   tenantd.Clock
	drivers map[tenantd.Isolation]wsdriver.Driver
	router  router

	// searchReadHook, set by tests only, runs inside a search's reading,
	// after the tenant checks and before the search.
	searchReadHook func(ctx context.Context, tenantID uuid.UUID, q querier) error
	// gateHook, set by tests only, is told when a write arrives at the
	// cutover gate ("arrive") and when it has passed it ("pass").
	gateHook func(tenantID uuid.UUID, event string)
	// moveHook, set by tests only, is told of a move's events.
	moveHook MoveHook
}

// querier runs statements: a transaction or a connection.
type querier = wsdriver.Querier

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
	// Clock is the time of documents, queries, usage months and milestones
	// (default the wall clock).
	Clock  tenantd.Clock
	Logger *slog.Logger
}

// DefaultSearchTimeout is the default Config.SearchTimeout. A search's work
// is bounded (see search.go), so this is a backstop far above its normal
// latency, not a budget it is expected to use.
const DefaultSearchTimeout = 5 * time.Second

// New returns a Service over the stores of db's kind: PostgreSQL pool and
// schema, or SQLite pool and file.
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
	s := &Service{db: db, cfg: cfg, clock: tenantd.ClockOr(cfg.Clock)}
	if db.IsPostgres() {
		s.drivers = map[tenantd.Isolation]wsdriver.Driver{
			tenantd.IsolationPool: wsdriver.NewPostgresPool(db),
			tenantd.IsolationSilo: wsdriver.NewPostgresSchema(db, cfg.Logger),
		}
		s.router = &postgresRouter{db: db}
	} else {
		s.drivers = map[tenantd.Isolation]wsdriver.Driver{
			tenantd.IsolationPool: wsdriver.NewSQLitePool(db),
			tenantd.IsolationSilo: wsdriver.NewSQLiteFile(cfg.DataDir),
		}
		s.router = newSQLiteRouter(db)
	}
	return s
}

// now is the time as the workspace stores it.
func (s *Service) now() time.Time { return tenantd.Now(s.clock) }

// SchemaName returns the PostgreSQL schema of a silo tenant.
func SchemaName(tenantID uuid.UUID) string { return wsdriver.SchemaName(tenantID) }

// FilePath returns the SQLite file of a silo tenant (on SQLite).
func (s *Service) FilePath(tenantID uuid.UUID) string {
	return wsdriver.NewSQLiteFile(s.cfg.DataDir).Location(tenantID)
}

// driverOf returns the store of a placement.
func (s *Service) driverOf(p wsdriver.Placement) (wsdriver.Driver, error) {
	d, ok := s.drivers[p.Isolation]
	if !ok {
		return nil, fmt.Errorf("workspace of tenant %s: no store for isolation %q", p.TenantID, p.Isolation)
	}
	return d, nil
}

// CreateTx creates the tenant's workspace, registering its placement in
// tx. It is idempotent: run again, it finds the workspace and creates
// nothing, so a retried or resumed provisioning never makes a second one.
// On PostgreSQL a silo schema is created inside tx (PostgreSQL DDL is
// transactional); an SQLite silo file is created before, idempotently.
func (s *Service) CreateTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, iso tenantd.Isolation) (*ent.Workspace, error) {
	sys := tenantd.SystemContext(ctx)
	existing, err := tx.Ent.Workspace.Query().Where(workspace.TenantID(tenantID)).Only(sys)
	if err == nil {
		return existing, nil
	}
	if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("look up workspace: %w", err)
	}
	d, err := s.driverOf(wsdriver.Placement{TenantID: tenantID, Isolation: iso})
	if err != nil {
		return nil, err
	}
	p := wsdriver.Placement{TenantID: tenantID, Isolation: iso, Location: d.Location(tenantID)}
	if err := d.Create(ctx, tx, p); err != nil {
		return nil, err
	}
	ws, err := tx.Ent.Workspace.Create().
		SetTenantID(tenantID).SetIsolation(iso).SetLocation(p.Location).
		Save(sys)
	if err != nil {
		return nil, fmt.Errorf("register workspace: %w", err)
	}
	return ws, nil
}

// DestroyTx deletes the tenant's data inside tx — the pooled rows, or the
// silo schema on PostgreSQL, and the target of a move under way — marks
// the workspace destroyed and returns what it deleted. An SQLite silo file
// is removed by the returned cleanup, to be called after commit (a file
// cannot be deleted transactionally); the report names it ("deletedFile").
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
	report = map[string]any{"isolation": string(ws.Isolation), "location": ws.Location}
	if ws.DestroyedAt != nil {
		report["alreadyDestroyed"] = true
		return report, cleanup, nil
	}
	p := placementOf(ws)
	destroyed, clean, err := s.DestroyAtTx(ctx, tx, p.Placement)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range destroyed {
		report[k] = v
	}
	cleanup = clean
	if p.Target != nil {
		target, cleanTarget, err := s.DestroyAtTx(ctx, tx, *p.Target)
		if err != nil {
			return nil, nil, fmt.Errorf("destroy the target of a move: %w", err)
		}
		report["target"] = target
		cleanup = func() error {
			if err := clean(); err != nil {
				return err
			}
			return cleanTarget()
		}
	}
	upd := tx.Ent.Workspace.UpdateOne(ws).SetDestroyedAt(s.now())
	if p.Target != nil {
		upd.ClearTargetIsolation().ClearTargetLocation()
	}
	if err := upd.Exec(sys); err != nil {
		return nil, nil, err
	}
	return report, cleanup, nil
}

// DestroyAtTx destroys the workspace at p, which is not (or no longer) a
// tenant's placement: the source after a move's switch, or an abandoned
// target. It leaves the placement record alone. See DestroyTx for cleanup.
func (s *Service) DestroyAtTx(ctx context.Context, tx *store.Tx, p wsdriver.Placement) (map[string]any, func() error, error) {
	d, err := s.driverOf(p)
	if err != nil {
		return nil, nil, err
	}
	report, cleanup, err := d.Destroy(ctx, tx, p)
	if err != nil {
		return nil, nil, fmt.Errorf("destroy %s workspace at %s: %w", d.Kind(), p.Location, err)
	}
	return report, cleanup, nil
}

// OpenSilos returns how many SQLite silo files are held open.
func (s *Service) OpenSilos() int {
	n := 0
	for _, d := range s.drivers {
		if f, ok := d.(interface{ OpenFiles() int }); ok {
			n += f.OpenFiles()
		}
	}
	return n
}

// Close closes the open silo files.
func (s *Service) Close() error {
	var first error
	for _, d := range s.drivers {
		if err := d.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// PlacementAt returns where the store of the isolation keeps (or would
// keep) the tenant's workspace: what a move's source was, after the switch.
func (s *Service) PlacementAt(tenantID uuid.UUID, iso tenantd.Isolation) wsdriver.Placement {
	p := wsdriver.Placement{TenantID: tenantID, Isolation: iso}
	if d, err := s.driverOf(p); err == nil {
		p.Location = d.Location(tenantID)
	}
	return p
}
