// Package store opens tenantd's database — embedded SQLite by default,
// PostgreSQL when a URL is given — and runs work in transactions that ent and
// River share, so that a state change, its history row, its operation and its
// job commit together or not at all.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	_ "github.com/tenantd/tenantd/ent/runtime" // registers hooks and privacy policies
)

// Options say which database to open.
type Options struct {
	// DatabaseURL selects PostgreSQL (postgres:// or postgresql://). Empty
	// selects the embedded SQLite database in DataDir. On PostgreSQL it is
	// the application's role, which must not own the tables.
	DatabaseURL string
	// OwnerURL is the PostgreSQL role that owns the schema: migrations run
	// as it. Empty means DatabaseURL.
	OwnerURL string
	// DataDir holds the SQLite database file.
	DataDir string
	// MaxConns caps the PostgreSQL pool (default 20).
	MaxConns int32
	// Clock gives the rows' recorded times (created_at and the like) that
	// are not set explicitly; nil: the real clock.
	Clock  tenantd.Clock
	Logger *slog.Logger
}

// DB is an open tenantd database.
type DB struct {
	// SQL is the database/sql handle shared by ent, River and goose.
	SQL *sql.DB
	// Read is the handle for reads outside a transaction that may take a
	// while (full-text search). On SQLite it is a second set of connections
	// to the same file: WAL lets them read while a writer writes, and a slow
	// reader never holds a connection that a writer (which holds the write
	// queue) is waiting for. On PostgreSQL it is SQL.
	Read *sql.DB
	// Ent is the ent client over SQL.
	Ent *ent.Client
	// Pool is the pgx pool under SQL on PostgreSQL; nil on SQLite.
	Pool *pgxpool.Pool
	// Dialect is ent's dialect name: dialect.Postgres or dialect.SQLite.
	Dialect string
	// Path is the SQLite file; empty on PostgreSQL.
	Path string
	// URL is the PostgreSQL URL the database was opened with; empty on SQLite.
	URL string

	listenerPool *pgxpool.Pool
	log          *slog.Logger
	// writeMu queues SQLite write transactions in Go. SQLite has one writer;
	// without this, waiting writers sleep in its busy handler (1, 2, 5 ms…)
	// instead of taking the lock the moment it is free.
	writeMu sync.Mutex
	// river is the state of the driver River gets (river.go).
	river riverRest
}

// Open opens (and, for SQLite, creates) the database. It does not migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DatabaseURL != "" {
		return openPostgres(ctx, opts)
	}
	return openSQLite(ctx, opts)
}

// IsPostgresURL reports whether u names a PostgreSQL database.
func IsPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

func openPostgres(ctx context.Context, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(opts.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cfg.MaxConns = 20
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w", redactURL(opts.DatabaseURL), err)
	}
	// River keeps one hijacked connection per client for LISTEN; a separate
	// small pool keeps it from eating into the request pool.
	lcfg := cfg.Copy()
	lcfg.MaxConns, lcfg.MinConns = 2, 0
	listenerPool, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres listener pool: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	return &DB{
		SQL:          sqlDB,
		Read:         sqlDB,
		Ent:          newClient(dialect.Postgres, sqlDB, opts.Clock),
		Pool:         pool,
		Dialect:      dialect.Postgres,
		URL:          opts.DatabaseURL,
		listenerPool: listenerPool,
		log:          opts.Logger,
	}, nil
}

// SQLiteDSN returns the modernc.org/sqlite DSN tenantd uses for a file: WAL
// so readers never wait for the writer, foreign keys on, a busy timeout, and
// BEGIN IMMEDIATE so that every transaction takes the write lock up front and
// waits for it instead of failing when it upgrades from reader to writer.
// Temporary tables (a search's snippet windows) live in memory.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(2)&_txlock=immediate"
}

// sqliteReadConns is how many connections DB.Read holds on SQLite.
const sqliteReadConns = 4

func openSQLite(ctx context.Context, opts Options) (*DB, error) {
	dir := opts.DataDir
	if dir == "" {
		dir = "./data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, "tenantd.db")
	sqlDB, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// SQLite has one writer at a time; a few connections let readers run
	// beside it (WAL) without piling up waiters on the write lock.
	sqlDB.SetMaxOpenConns(4)
	sqlDB.SetConnMaxIdleTime(0)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// Opened after SQL, which has set up WAL. Its transactions would take the
	// write lock (BEGIN IMMEDIATE): readers use it outside transactions.
	readDB, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
	}
	readDB.SetMaxOpenConns(sqliteReadConns)
	readDB.SetMaxIdleConns(sqliteReadConns)
	return &DB{
		SQL:     sqlDB,
		Read:    readDB,
		Ent:     newClient(dialect.SQLite, sqlDB, opts.Clock),
		Dialect: dialect.SQLite,
		Path:    path,
		log:     opts.Logger,
	}, nil
}

// IsPostgres reports whether the database is PostgreSQL.
func (db *DB) IsPostgres() bool { return db.Dialect == dialect.Postgres }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Close closes the database.
func (db *DB) Close() error {
	db.river.close()
	err := db.SQL.Close()
	if db.Read != nil && db.Read != db.SQL {
		if rerr := db.Read.Close(); err == nil {
			err = rerr
		}
	}
	if db.Pool != nil {
		db.Pool.Close()
	}
	if db.listenerPool != nil {
		db.listenerPool.Close()
	}
	return err
}

// Tx is a transaction shared by ent and River.
type Tx struct {
	// SQL is the transaction; River's InsertTx takes it.
	SQL *sql.Tx
	// Ent is the ent client of the transaction. Entities it returns are
	// transactional: call Unwrap on those used after commit.
	Ent     *ent.Client
	Dialect string

	onCommit []func()
}

// OnCommit registers f to run after the transaction commits, for work that
// must only happen once the data is visible (for example an in-process event).
func (tx *Tx) OnCommit(f func()) { tx.onCommit = append(tx.onCommit, f) }

// IsPostgres reports whether the transaction runs on PostgreSQL.
func (tx *Tx) IsPostgres() bool { return tx.Dialect == dialect.Postgres }

// InTx runs fn in a transaction and commits if fn returns nil. Any error or
// panic rolls everything back: rows, history and River jobs alike.
//
// InTx must not be called from inside fn: on SQLite transactions queue on one
// lock.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) (err error) {
	if !db.IsPostgres() {
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
	}
	var captured txCapture
	etx, err := db.Ent.BeginTx(context.WithValue(ctx, txCaptureKey{}, &captured), nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if captured.tx == nil {
		_ = etx.Rollback()
		return errors.New("begin transaction: the driver did not expose its *sql.Tx")
	}
	tx := &Tx{SQL: captured.tx, Ent: etx.Client(), Dialect: db.Dialect}
	if !db.IsPostgres() {
		// River's notices sent in tx are delivered when it commits.
		db.river.txs.Store(captured.tx, tx)
		defer db.river.txs.Delete(captured.tx)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = etx.Rollback()
			panic(p)
		}
	}()
	if err := fn(ctx, tx); err != nil {
		if rbErr := etx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			db.log.Warn("rollback failed", "err", rbErr)
		}
		return err
	}
	if err := etx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range tx.onCommit {
		f()
	}
	return nil
}

// newClient returns an ent client whose transactions expose their *sql.Tx,
// so that River can insert jobs into them, and whose rows take their
// recorded times from clock (clockDefaults).
func newClient(dialectName string, db *sql.DB, clock tenantd.Clock) *ent.Client {
	c := ent.NewClient(ent.Driver(captureDriver{entsql.OpenDB(dialectName, db)}))
	c.Use(clockDefaults(tenantd.ClockOr(clock)))
	return c
}

type txCaptureKey struct{}

type txCapture struct{ tx *sql.Tx }

// captureDriver is ent's SQL driver, except that BeginTx hands the *sql.Tx it
// opens to the txCapture in the context. ent's own transaction then carries
// ent's semantics (hooks, Unwrap) while River writes into the same *sql.Tx.
type captureDriver struct{ *entsql.Driver }

func (d captureDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if c, ok := ctx.Value(txCaptureKey{}).(*txCapture); ok {
		if etx, ok := tx.(*entsql.Tx); ok {
			c.tx, _ = etx.Tx.(*sql.Tx)
		}
	}
	return tx, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
