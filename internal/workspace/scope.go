package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/store"
)

// querier runs statements: a *sql.Tx of the main database or of a silo file.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scope is where one tenant's data lives and how to address it.
type scope struct {
	tenantID uuid.UUID
	iso      tenantd.Isolation
	postgres bool
	prefix   string // "public." or `"ws_…".` on PostgreSQL, "" on SQLite
	file     string // the SQLite silo file; "" when the data is in the main database
}

// table returns the qualified name of a workspace table.
func (sc *scope) table(name string) string { return sc.prefix + name }

// q rewrites ? placeholders for PostgreSQL.
func (sc *scope) q(query string) string {
	if !sc.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// scopeOf finds the tenant's workspace. Workspaces do not move, so the
// answer is cached.
func (s *Service) scopeOf(ctx context.Context, tenantID uuid.UUID) (*scope, error) {
	if v, ok := s.scopes.Load(tenantID); ok {
		return v.(*scope), nil
	}
	ws, err := s.db.Ent.Workspace.Query().Where(workspace.TenantID(tenantID), workspace.DestroyedAtIsNil()).
		Only(tenantd.SystemContext(ctx))
	if err != nil {
		return nil, workspaceMissing(ctx, s, tenantID, err)
	}
	sc := &scope{tenantID: tenantID, iso: ws.Isolation, postgres: s.db.IsPostgres()}
	switch {
	case sc.postgres && ws.Isolation == tenantd.IsolationSilo:
		sc.prefix = pqIdent(ws.Location) + "."
		if err := s.upgradePostgresSilo(ctx, ws.Location); err != nil {
			return nil, err
		}
	case sc.postgres:
		sc.prefix = "public."
	case ws.Isolation == tenantd.IsolationSilo:
		sc.file = ws.Location
	}
	s.scopes.Store(tenantID, sc)
	return sc, nil
}

// searchVector is the expression of a PostgreSQL documents table's search
// column: the function of migration 20261202050000, which bounds what is
// indexed.
const searchVector = "public.tenantd_document_search(title, content)"

// upgradePostgresSilo gives a silo schema made before migration
// 20261202050000 the bounded search vector. The application role owns silo
// schemas (it creates them), so it, not the migration run by the owner,
// alters them — once, when a process first opens the workspace; an advisory
// lock keeps replicas from doing it twice. The table is rewritten under an
// exclusive lock: that tenant's requests wait for it, nobody else's.
func (s *Service) upgradePostgresSilo(ctx context.Context, schemaName string) error {
	table := pqIdent(schemaName) + ".documents"
	current := func(ctx context.Context, q querier) (bool, error) {
		var expr string
		err := q.QueryRowContext(ctx, `SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
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
	if ok, err := current(ctx, s.db.SQL); err != nil || ok {
		return err
	}
	return s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.SQL.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "tenantd silo upgrade "+schemaName); err != nil {
			return fmt.Errorf("lock silo schema %s: %w", schemaName, err)
		}
		if ok, err := current(ctx, tx.SQL); err != nil || ok {
			return err
		}
		if _, err := tx.SQL.ExecContext(ctx, "ALTER TABLE "+table+" DROP COLUMN search, ADD COLUMN search tsvector GENERATED ALWAYS AS ("+
			searchVector+") STORED"); err != nil {
			return fmt.Errorf("upgrade search vector of silo schema %s: %w", schemaName, err)
		}
		if _, err := tx.SQL.ExecContext(ctx, "CREATE INDEX documents_search ON "+table+" USING gin (search)"); err != nil {
			return fmt.Errorf("upgrade search index of silo schema %s: %w", schemaName, err)
		}
		s.cfg.Logger.Info("silo schema upgraded to the bounded search vector", "schema", schemaName)
		return nil
	})
}

// workspaceMissing explains why a tenant has no workspace to use.
func workspaceMissing(ctx context.Context, s *Service, tenantID uuid.UUID, err error) error {
	t, terr := s.db.Ent.Tenant.Get(tenantd.SystemContext(ctx), tenantID)
	if terr != nil {
		return tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", tenantID)
	}
	if gate := readable(t.State); gate != nil {
		return gate
	}
	return fmt.Errorf("workspace of tenant %s: %w", tenantID, err)
}

// inTx runs fn in a transaction where the scope's data lives: the main
// database (pool, and every PostgreSQL silo), or the tenant's SQLite file.
// On PostgreSQL the transaction is bound to the tenant for row-level
// security. mainTx is the main-database transaction, nil for an SQLite silo.
func (s *Service) inTx(ctx context.Context, sc *scope, fn func(ctx context.Context, q querier, mainTx *store.Tx) error) error {
	if sc.file == "" {
		return s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			if sc.postgres {
				if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", sc.tenantID.String()); err != nil {
					return fmt.Errorf("bind transaction to tenant: %w", err)
				}
			}
			return fn(ctx, tx.SQL, tx)
		})
	}
	silo, release, err := s.silo(sc.file)
	if err != nil {
		return err
	}
	defer release()
	tx, err := silo.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin silo transaction: %w", err)
	}
	if err := fn(ctx, tx, nil); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// maxOpenSilos bounds the SQLite silo files held open; the least recently
// used idle ones are closed beyond it.
const maxOpenSilos = 256

// siloHandle is an open SQLite silo file and how many callers use it.
type siloHandle struct {
	db       *sql.DB
	refs     int
	lastUsed time.Time
}

// silo returns the open handle of an SQLite silo file and the function that
// gives it back; a handle in use is never closed by eviction.
func (s *Service) silo(path string) (*sql.DB, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.silos[path]
	if !ok {
		db, err := sql.Open("sqlite", store.SQLiteDSN(path))
		if err != nil {
			return nil, nil, fmt.Errorf("open silo %s: %w", path, err)
		}
		db.SetMaxOpenConns(2)
		h = &siloHandle{db: db}
		s.silos[path] = h
	}
	h.refs++
	h.lastUsed = time.Now()
	s.evictLocked() // never this handle: it is in use
	release := func() {
		s.mu.Lock()
		h.refs--
		h.lastUsed = time.Now()
		s.mu.Unlock()
	}
	return h.db, release, nil
}

// evictLocked closes idle handles, least recently used first, down to
// maxOpenSilos.
func (s *Service) evictLocked() {
	for len(s.silos) > maxOpenSilos {
		var (
			oldest string
			when   time.Time
		)
		for path, h := range s.silos {
			if h.refs == 0 && (oldest == "" || h.lastUsed.Before(when)) {
				oldest, when = path, h.lastUsed
			}
		}
		if oldest == "" {
			return // all in use
		}
		s.silos[oldest].db.Close()
		delete(s.silos, oldest)
	}
}

// OpenSilos returns how many SQLite silo files are held open.
func (s *Service) OpenSilos() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.silos)
}

// Close closes the open silo files.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for path, h := range s.silos {
		if err := h.db.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.silos, path)
	}
	return first
}
