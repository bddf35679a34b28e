package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// Placement is the committed record of where a tenant's workspace lives
// (the Workspace row).
type Placement struct {
	wsdriver.Placement
	// Generation counts the changes of placement: 1 when the workspace was
	// made, one more at each switch.
	Generation int
	// Target is the workspace a move is filling, nil when no move is under
	// way. Until the switch, requests use the placement, never the target.
	Target *wsdriver.Placement
}

func placementOf(ws *ent.Workspace) *Placement {
	p := &Placement{
		Placement:  wsdriver.Placement{TenantID: ws.TenantID, Isolation: ws.Isolation, Location: ws.Location},
		Generation: ws.Generation,
	}
	if ws.TargetIsolation != nil && ws.TargetLocation != nil {
		p.Target = &wsdriver.Placement{TenantID: ws.TenantID, Isolation: *ws.TargetIsolation, Location: *ws.TargetLocation}
	}
	return p
}

// errNoPlacement: the tenant has no workspace to route to (none made yet,
// or destroyed).
var errNoPlacement = errors.New("no workspace")

// router reads a request's placement in the main database, where the
// placements are, and keeps each tenant's cutover gate. Every request reads
// the committed placement (one indexed row) itself: nothing is cached, so a
// switch that commits is followed by the next request on every replica.
// One implementation per kind of main database.
type router interface {
	// read runs fn with the tenant's committed placement. main is the
	// transaction of the main database that fn reads tenants and plans in
	// (PostgreSQL), or nil when fn reads them outside one, on q (SQLite).
	// It returns errNoPlacement, wrapped, for a tenant without a workspace.
	read(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, main *store.Tx, q querier, p *Placement) error) error
	// write is read through the tenant's cutover gate: fn does not start
	// while a cutover holds the gate closed, and a cutover waits for fn to
	// return. The placement fn gets is the one committed when it passed.
	write(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, main *store.Tx, q querier, p *Placement) error) error
	// cutover holds the tenant's gate closed while fn runs in a transaction
	// of the main database; p is read in it.
	cutover(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, tx *store.Tx, p *Placement) error) error
	// tenant reads the tenant's state and plan limits on q; lock share-locks
	// the tenant's row where the database can, so that a suspension waits
	// for a write in flight rather than overtaking it.
	tenant(ctx context.Context, q querier, tenantID uuid.UUID, lock bool) (*tenantInfo, error)
	// placement reads the committed placement on q, as it is at this
	// statement (q is read's querier).
	placement(ctx context.Context, q querier, tenantID uuid.UUID) (*Placement, error)
}

// placementQuery reads a placement; the caller appends a lock clause.
const placementQuery = `SELECT isolation, location, generation, target_isolation, target_location
	FROM workspaces WHERE tenant_id = %s AND destroyed_at IS NULL`

func scanPlacement(row *sql.Row, tenantID uuid.UUID) (*Placement, error) {
	var (
		ws         ent.Workspace
		tIso, tLoc sql.NullString
	)
	err := row.Scan(&ws.Isolation, &ws.Location, &ws.Generation, &tIso, &tLoc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("workspace of tenant %s: %w", tenantID, errNoPlacement)
	}
	if err != nil {
		return nil, fmt.Errorf("read placement of tenant %s: %w", tenantID, err)
	}
	ws.TenantID = tenantID
	if tIso.Valid && tLoc.Valid {
		iso := tenantd.Isolation(tIso.String)
		ws.TargetIsolation, ws.TargetLocation = &iso, &tLoc.String
	}
	return placementOf(&ws), nil
}

const tenantQuery = `SELECT t.state, p.key, p.max_documents, p.max_storage_bytes, p.max_queries_per_month
	FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = %s`

func scanTenant(row *sql.Row, tenantID uuid.UUID) (*tenantInfo, error) {
	var (
		ti               tenantInfo
		maxD, maxB, maxQ sql.NullInt64
	)
	err := row.Scan(&ti.state, &ti.plan, &maxD, &maxB, &maxQ)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("load tenant: %w", err)
	}
	ti.maxDocs, ti.maxBytes, ti.maxQuery = nullable(maxD), nullable(maxB), nullable(maxQ)
	return &ti, nil
}

// postgresRouter routes on PostgreSQL, where replicas share nothing but the
// database: the gate is the placement row itself. A write reads it FOR
// SHARE in the transaction it writes in and holds that lock to commit; a
// cutover takes it FOR UPDATE, so it waits for the writes in flight, and
// the writes arriving meanwhile wait for the cutover's commit and then read
// the placement it committed (a locking read in READ COMMITTED returns the
// row's newest version).
type postgresRouter struct{ db *store.DB }

func (r *postgresRouter) route(ctx context.Context, tenantID uuid.UUID, lock string, fn func(ctx context.Context, main *store.Tx, q querier, p *Placement) error) error {
	return r.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		p, err := scanPlacement(tx.SQL.QueryRowContext(ctx, fmt.Sprintf(placementQuery, "$1")+lock, tenantID), tenantID)
		if err != nil {
			return err
		}
		return fn(ctx, tx, tx.SQL, p)
	})
}

// placement reads the newest committed placement: the transactions of
// read are READ COMMITTED, so each statement sees the commits before it.
func (r *postgresRouter) placement(ctx context.Context, q querier, tenantID uuid.UUID) (*Placement, error) {
	return scanPlacement(q.QueryRowContext(ctx, fmt.Sprintf(placementQuery, "$1"), tenantID), tenantID)
}

func (r *postgresRouter) read(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, main *store.Tx, q querier, p *Placement) error) error {
	return r.route(ctx, tenantID, "", fn)
}

func (r *postgresRouter) write(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, main *store.Tx, q querier, p *Placement) error) error {
	return r.route(ctx, tenantID, " FOR SHARE", fn)
}

func (r *postgresRouter) cutover(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, tx *store.Tx, p *Placement) error) error {
	return r.route(ctx, tenantID, " FOR UPDATE", func(ctx context.Context, tx *store.Tx, _ querier, p *Placement) error {
		return fn(ctx, tx, p)
	})
}

func (r *postgresRouter) tenant(ctx context.Context, q querier, tenantID uuid.UUID, lock bool) (*tenantInfo, error) {
	query := fmt.Sprintf(tenantQuery, "$1")
	if lock {
		query += " FOR SHARE OF t"
	}
	return scanTenant(q.QueryRowContext(ctx, query, tenantID), tenantID)
}

// sqliteRouter routes on SQLite, which one process serves: the gate is a
// lock of the process, one per tenant, shared by every Service on the same
// database file. A write holds it for reading from before it reads the
// placement until its workspace commits (an SQLite file commits apart from
// the main database, so the placement row cannot be the gate); a cutover
// holds it for writing.
type sqliteRouter struct {
	db    *store.DB
	gates *gates
}

// sqliteGates holds the gates of each SQLite database file of the process.
var sqliteGates sync.Map // file path → *gates

func newSQLiteRouter(db *store.DB) *sqliteRouter {
	g, _ := sqliteGates.LoadOrStore(db.Path, &gates{m: map[uuid.UUID]*gate{}})
	return &sqliteRouter{db: db, gates: g.(*gates)}
}

func (r *sqliteRouter) placement(ctx context.Context, q querier, tenantID uuid.UUID) (*Placement, error) {
	return scanPlacement(q.QueryRowContext(ctx, fmt.Sprintf(placementQuery, "?"), tenantID), tenantID)
}

func (r *sqliteRouter) read(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, main *store.Tx, q querier, p *Placement) error) error {
	// The read handle: a read never queues behind the writer.
	p, err := r.placement(ctx, r.db.Read, tenantID)
	if err != nil {
		return err
	}
	return fn(ctx, nil, r.db.Read, p)
}

func (r *sqliteRouter) write(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, main *store.Tx, q querier, p *Placement) error) error {
	release, err := r.gates.enter(ctx, tenantID, false)
	if err != nil {
		return err
	}
	defer release()
	return r.read(ctx, tenantID, fn)
}

func (r *sqliteRouter) cutover(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, tx *store.Tx, p *Placement) error) error {
	release, err := r.gates.enter(ctx, tenantID, true)
	if err != nil {
		return err
	}
	defer release()
	return r.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		p, err := r.placement(ctx, tx.SQL, tenantID)
		if err != nil {
			return err
		}
		return fn(ctx, tx, p)
	})
}

func (r *sqliteRouter) tenant(ctx context.Context, q querier, tenantID uuid.UUID, _ bool) (*tenantInfo, error) {
	// No row locks on SQLite: a write in the main database holds its one
	// write lock, which a suspension waits for.
	return scanTenant(q.QueryRowContext(ctx, fmt.Sprintf(tenantQuery, "?"), tenantID), tenantID)
}

// gates are the cutover gates of one database's tenants, made on first use
// and dropped when nobody holds them.
type gates struct {
	mu sync.Mutex
	m  map[uuid.UUID]*gate
}

type gate struct {
	rw   sync.RWMutex
	refs int
}

// enter passes the tenant's gate — shared by writes, exclusive for a
// cutover — and returns the function that leaves it.
func (g *gates) enter(ctx context.Context, tenantID uuid.UUID, exclusive bool) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	e, ok := g.m[tenantID]
	if !ok {
		e = &gate{}
		g.m[tenantID] = e
	}
	e.refs++
	g.mu.Unlock()
	if exclusive {
		e.rw.Lock()
	} else {
		e.rw.RLock()
	}
	return func() {
		if exclusive {
			e.rw.Unlock()
		} else {
			e.rw.RUnlock()
		}
		g.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(g.m, tenantID)
		}
		g.mu.Unlock()
	}, nil
}

// Placement returns the tenant's committed placement.
//
// Returns NOT_FOUND for a tenant without a workspace.
func (s *Service) Placement(ctx context.Context, tenantID uuid.UUID) (*Placement, error) {
	ws, err := s.db.Ent.Workspace.Query().Where(workspace.TenantID(tenantID), workspace.DestroyedAtIsNil()).Only(tenantd.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "tenant %s has no workspace", tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("read placement of tenant %s: %w", tenantID, err)
	}
	return placementOf(ws), nil
}

// BeginMoveTx starts moving the tenant's workspace to the store of the
// isolation to: it makes the target workspace, empty, and records it as
// the placement's target, in tx. Requests keep using the placement until
// SwitchTx. It is idempotent: run again for the same isolation, it returns
// the move under way.
//
// Returns NOT_FOUND for a tenant without a workspace, INVALID_INPUT when
// the workspace already has that isolation, CONFLICT when a move to
// another isolation is under way.
func (s *Service) BeginMoveTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, to tenantd.Isolation) (*Placement, error) {
	sys := tenantd.SystemContext(ctx)
	ws, err := lockedPlacement(tx, tenantID).Only(sys)
	if ent.IsNotFound(err) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "tenant %s has no workspace", tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("read placement of tenant %s: %w", tenantID, err)
	}
	p := placementOf(ws)
	switch {
	case p.Target != nil && p.Target.Isolation == to:
		return p, nil
	case p.Target != nil:
		return nil, tenantd.Errorf(tenantd.ECONFLICT, "the workspace of tenant %s is moving to %s already", tenantID, p.Target.Isolation)
	case p.Isolation == to:
		return nil, tenantd.Invalid("isolation", "the workspace of tenant %s is %s already", tenantID, to)
	}
	d, err := s.driverOf(wsdriver.Placement{TenantID: tenantID, Isolation: to})
	if err != nil {
		return nil, err
	}
	target := wsdriver.Placement{TenantID: tenantID, Isolation: to, Location: d.Location(tenantID)}
	if err := d.Create(ctx, tx, target); err != nil {
		return nil, fmt.Errorf("create the target of a move: %w", err)
	}
	ws, err = tx.Ent.Workspace.UpdateOne(ws).SetTargetIsolation(to).SetTargetLocation(target.Location).Save(sys)
	if err != nil {
		return nil, fmt.Errorf("record the target of a move: %w", err)
	}
	return placementOf(ws), nil
}

// ViewAt runs fn on a read of the workspace at p — a move's source or
// target — with no state gate and no placement check: it is for the move,
// not for requests.
func (s *Service) ViewAt(ctx context.Context, p wsdriver.Placement, fn func(ctx context.Context, r wsdriver.Reader) error) error {
	d, err := s.driverOf(p)
	if err != nil {
		return err
	}
	return d.View(ctx, nil, p, wsdriver.ViewOptions{}, fn)
}

// Snapshot runs fn on one read snapshot of the tenant's workspace at its
// committed placement (wsdriver.ViewOptions.Snapshot): every read of fn
// sees the workspace as it was when Snapshot began, while the tenant goes
// on writing. There is no state gate: the caller (an export) decides what
// the tenant's state permits. It returns the placement read.
//
// Returns NOT_FOUND for a tenant without a workspace.
func (s *Service) Snapshot(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, r wsdriver.Reader) error) (*Placement, error) {
	p, err := s.Placement(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	d, err := s.driverOf(p.Placement)
	if err != nil {
		return nil, err
	}
	return p, d.View(ctx, nil, p.Placement, wsdriver.ViewOptions{Snapshot: true}, fn)
}

// WriteAt runs fn in a write transaction of the workspace at p, in main
// when its store writes in the main database and main is set (inside
// Cutover, pass its transaction: on SQLite a second one would wait for it
// forever). No state gate, no placement check, no cutover gate.
func (s *Service) WriteAt(ctx context.Context, main *store.Tx, p wsdriver.Placement, fn func(ctx context.Context, tx wsdriver.Tx) error) error {
	d, err := s.driverOf(p)
	if err != nil {
		return err
	}
	return d.Write(ctx, main, p, fn)
}

// Cutover closes the tenant's write gate while fn runs: writes under way
// finish first, writes arriving meanwhile wait until fn returns and then
// route by the placement fn committed (SwitchTx). Reads are not held: they
// read the placement committed when they start, and both workspaces exist
// until the source is destroyed. fn runs in a transaction of the main
// database — on PostgreSQL the one holding the placement row — and should
// be short: every write of the tenant waits for it.
func (s *Service) Cutover(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, tx *store.Tx, p *Placement) error) error {
	err := s.router.cutover(ctx, tenantID, fn)
	if errors.Is(err, errNoPlacement) {
		return tenantd.Errorf(tenantd.ENOTFOUND, "tenant %s has no workspace", tenantID)
	}
	return err
}

// SwitchTx ends a move: the target becomes the placement, the generation
// counts one more and the target is cleared, in tx (Cutover's, so that no
// write of the tenant is under way). It returns the placement moved from,
// whose workspace still exists: destroy it with DestroyAtTx once no read
// may still be using it. generation is the one the move began at; another
// means the placement changed meanwhile.
//
// Returns CONFLICT if no move is under way or the generation is not
// generation.
func (s *Service) SwitchTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, generation int) (*wsdriver.Placement, error) {
	sys := tenantd.SystemContext(ctx)
	ws, err := tx.Ent.Workspace.Query().Where(workspace.TenantID(tenantID), workspace.DestroyedAtIsNil()).Only(sys)
	if err != nil {
		return nil, fmt.Errorf("read placement of tenant %s: %w", tenantID, err)
	}
	p := placementOf(ws)
	if p.Target == nil || p.Generation != generation {
		return nil, tenantd.Errorf(tenantd.ECONFLICT, "the workspace of tenant %s is at generation %d with no move to switch from generation %d",
			tenantID, p.Generation, generation)
	}
	n, err := tx.Ent.Workspace.Update().Where(workspace.ID(ws.ID), workspace.Generation(generation)).
		SetIsolation(p.Target.Isolation).SetLocation(p.Target.Location).
		ClearTargetIsolation().ClearTargetLocation().AddGeneration(1).Save(sys)
	if err != nil {
		return nil, fmt.Errorf("switch placement of tenant %s: %w", tenantID, err)
	}
	if n != 1 {
		return nil, tenantd.Errorf(tenantd.ECONFLICT, "the placement of tenant %s changed during the switch", tenantID)
	}
	from := p.Placement
	return &from, nil
}

// AbandonMoveTx ends a move without switching: the target is cleared from
// the placement and destroyed (see DestroyTx for cleanup). Without a move
// under way it does nothing.
func (s *Service) AbandonMoveTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID) (map[string]any, func() error, error) {
	sys := tenantd.SystemContext(ctx)
	ws, err := lockedPlacement(tx, tenantID).Only(sys)
	if err != nil {
		return nil, nil, fmt.Errorf("read placement of tenant %s: %w", tenantID, err)
	}
	p := placementOf(ws)
	if p.Target == nil {
		return map[string]any{"move": "none"}, func() error { return nil }, nil
	}
	report, cleanup, err := s.DestroyAtTx(ctx, tx, *p.Target)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Ent.Workspace.UpdateOne(ws).ClearTargetIsolation().ClearTargetLocation().Exec(sys); err != nil {
		return nil, nil, fmt.Errorf("clear the target of a move: %w", err)
	}
	return report, cleanup, nil
}

// lockedPlacement queries the tenant's placement row locked for update in
// tx. SQLite has no row locks: its transactions hold the database's one
// write lock from their start.
func lockedPlacement(tx *store.Tx, tenantID uuid.UUID) *ent.WorkspaceQuery {
	q := tx.Ent.Workspace.Query().Where(workspace.TenantID(tenantID), workspace.DestroyedAtIsNil())
	if tx.IsPostgres() {
		q.ForUpdate()
	}
	return q
}
