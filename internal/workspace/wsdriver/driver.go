// Package wsdriver puts each store of tenant workspaces behind one
// interface, as riverdriver puts each database behind River: PostgreSQL
// pool (shared tables under row-level security), PostgreSQL schema (a silo
// tenant's own schema), SQLite pool (shared tables in the main file) and
// SQLite file (a silo tenant's own database file). The workspace service
// speaks Driver, Reader and Tx only; what differs between the stores —
// SQL dialect, full-text engine, where the tables are, how a workspace is
// made and destroyed — lives in the implementation, and one conformance
// suite (conformance_test.go) runs against all four.
//
// Besides what requests need (usage counters, documents, search, the query
// log), the interface offers what moving a workspace between stores needs:
// reading in batches in a stable order (ScanDocuments, ScanQueryLog),
// writing in batches (WriteBatch, SetUsage), counting and checksumming
// (Count, Checksum, comparable between stores) and destroying (Destroy).
package wsdriver

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/store"
)

// Kind names a store of workspaces.
type Kind string

// The stores.
const (
	KindPostgresPool   Kind = "postgres-pool"
	KindPostgresSchema Kind = "postgres-schema"
	KindSQLitePool     Kind = "sqlite-pool"
	KindSQLiteFile     Kind = "sqlite-file"
)

// Placement says where one tenant's workspace lives: the isolation selects
// the store, the location is where in it (PoolLocation, a schema name, a
// file path).
type Placement struct {
	TenantID  uuid.UUID
	Isolation tenantd.Isolation
	Location  string
}

// PoolLocation is the location of every pool workspace: the shared tables.
const PoolLocation = "pool"

// Errors a driver returns, wrapped.
var (
	// ErrNotFound: the workspace has no such document.
	ErrNotFound = errors.New("wsdriver: not found")
	// ErrTimeout: a View ran out of its ViewOptions.Timeout.
	ErrTimeout = errors.New("wsdriver: out of time")

	errNoRows = sql.ErrNoRows
)

// Driver is one store of workspaces.
//
// main, where a method takes it, is the request's transaction of the main
// database (tenants, plans, placements), or nil. A store whose tables live
// in the main database works inside main, or opens a transaction of its own
// there when main is nil; a store that lives elsewhere (an SQLite file)
// ignores it and commits on its own. On PostgreSQL every transaction the
// driver works in is bound to the tenant for row-level security.
type Driver interface {
	// Kind names the store.
	Kind() Kind
	// Isolation is the isolation the store gives.
	Isolation() tenantd.Isolation
	// Location returns where the store puts a new workspace of the tenant.
	Location(tenantID uuid.UUID) string
	// Create makes the workspace with zero usage. It is idempotent: run
	// again, it finds what it made and makes nothing twice.
	Create(ctx context.Context, main *store.Tx, p Placement) error
	// Destroy deletes the workspace's data and reports what it deleted.
	// What cannot be deleted in a transaction (a file) is deleted by
	// cleanup, to be called after main commits; the report names it.
	Destroy(ctx context.Context, main *store.Tx, p Placement) (report map[string]any, cleanup func() error, err error)
	// Write runs fn in a write transaction of the workspace, committed when
	// fn returns nil (with main, when the store writes in it) and rolled
	// back otherwise.
	Write(ctx context.Context, main *store.Tx, p Placement, fn func(ctx context.Context, tx Tx) error) error
	// View runs fn on a consistent-enough read of the workspace that writes
	// nothing and holds no lock another tenant waits for: on PostgreSQL
	// inside main (or a transaction of its own), on SQLite on a connection
	// of its own beside the writer (WAL), outside any transaction. With
	// ViewOptions.Snapshot every statement of fn reads one snapshot.
	View(ctx context.Context, main *store.Tx, p Placement, opts ViewOptions, fn func(ctx context.Context, r Reader) error) error
	// Close releases what the driver holds open (SQLite files).
	Close() error
}

// ViewOptions tune a View.
type ViewOptions struct {
	// Timeout, when positive, bounds fn: a statement timeout on PostgreSQL
	// (with a deadline a second later for a server that does not answer),
	// a deadline that interrupts the query on SQLite. View then returns an
	// error wrapping ErrTimeout.
	Timeout time.Duration
	// Snapshot makes every statement of fn read one snapshot of the
	// workspace, taken when the view begins: a write committed after that
	// is not seen, however long fn runs (an export reads the whole
	// workspace this way while the tenant keeps writing). On PostgreSQL it
	// is a transaction of its own, REPEATABLE READ READ ONLY (main must be
	// nil); on SQLite a read transaction held open on the view's
	// connection (WAL: the writer goes on beside it; the WAL cannot be
	// checkpointed past the snapshot until it ends). Without it, each
	// statement on SQLite, and on PostgreSQL each statement of a READ
	// COMMITTED transaction, sees what was committed when it started.
	Snapshot bool
}

// Reader reads one workspace.
type Reader interface {
	// Usage returns the usage counters; zero if the workspace has none.
	Usage(ctx context.Context) (Counters, error)
	// ListDocuments returns documents without their content, newest first
	// (oldest first when Backward), at most Limit.
	ListDocuments(ctx context.Context, p ListParams) ([]*Document, error)
	// Document returns one document, with its content if asked; an error
	// wrapping ErrNotFound if there is none.
	Document(ctx context.Context, id uuid.UUID, withContent bool) (*Document, error)
	// Search returns the best First matches of the query, best first. Each
	// hit's Document holds, as Content, the first SnippetChars characters
	// of the document; its Snippet has the matches between [ and ], or is
	// empty when the store highlighted none. It reads the full-text index
	// for matching and ranking, never the documents' whole text.
	//
	// Returns INVALID_INPUT (field "query") when the engine cannot read the
	// query.
	Search(ctx context.Context, p SearchParams) ([]*Hit, error)
	// ScanDocuments returns up to limit documents with their content, in
	// id order, after the id after (uuid.Nil for the first batch): the
	// stable order a move copies in. Ids are UUIDv7, so later documents
	// mostly sort later, but a copy must not rely on it to catch up.
	ScanDocuments(ctx context.Context, after uuid.UUID, limit int) ([]*Document, error)
	// ScanDocumentHeads is ScanDocuments without the content: what a copy
	// reads first to bound a batch by bytes.
	ScanDocumentHeads(ctx context.Context, after uuid.UUID, limit int) ([]*Document, error)
	// ScanQueryLog is ScanDocuments for the query log.
	ScanQueryLog(ctx context.Context, after uuid.UUID, limit int) ([]*QueryLogEntry, error)
	// DocumentsByID returns those of the documents, with their content,
	// that exist, in id order.
	DocumentsByID(ctx context.Context, ids []uuid.UUID) ([]*Document, error)
	// QueryLogByID is DocumentsByID for the query log.
	QueryLogByID(ctx context.Context, ids []uuid.UUID) ([]*QueryLogEntry, error)
	// Changes returns up to limit entries of the change log after the
	// sequence number after (0 for the first), in sequence order: the rows
	// that requests wrote in a transaction that tracked changes
	// (Tx.TrackChanges) and that nobody has forgotten yet.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// Count counts what the workspace holds, from the rows themselves (not
	// the usage counters).
	Count(ctx context.Context) (Counts, error)
	// CountRows is Count without the bytes (Bytes is 0): it reads the
	// (tenant_id, id) indexes only, not the rows, so it stays fast on a
	// large workspace — what a move's switch compares with writes held.
	CountRows(ctx context.Context) (Counts, error)
	// CountRowsAndChanges is CountRows together with the sequence numbers
	// of the change log, read in one snapshot (one statement): a row
	// written later is both missing from the counts and absent from the
	// sequence numbers.
	CountRowsAndChanges(ctx context.Context) (Counts, []int64, error)
	// Checksum digests everything the workspace holds — documents, query
	// log, usage counters — in a form that is the same in every store, so
	// a copy is verified by comparing the checksums of source and target.
	// It reads one document at a time.
	Checksum(ctx context.Context) (string, error)
	// Querier is the connection or transaction the reader reads on, for
	// tests and diagnostics.
	Querier() Querier
}

// Tx writes one workspace.
type Tx interface {
	Reader
	// ReserveUpload adds one document of size bytes to the usage counters
	// if that keeps them within maxDocuments and maxBytes, in one
	// statement (exact under concurrency), and returns the counters after.
	// ok is false, and nothing changed, when it would not.
	ReserveUpload(ctx context.Context, size, maxDocuments, maxBytes int64) (c Counters, ok bool, err error)
	// InsertDocument stores a document.
	InsertDocument(ctx context.Context, d *Document) error
	// CountQuery counts one query of month ("2006-01") if that keeps the
	// month's count within limit, and returns the count after; ok is false,
	// and nothing changed, when it would not.
	CountQuery(ctx context.Context, month string, limit int64) (n int64, ok bool, err error)
	// LogQuery writes a query log entry.
	LogQuery(ctx context.Context, e *QueryLogEntry) error
	// WriteBatch stores documents and query log entries as they are (ids,
	// timestamps), skipping any whose id is there already, so that a copy
	// may write a batch again after a crash. It does not touch the usage
	// counters (SetUsage does).
	WriteBatch(ctx context.Context, b Batch) error
	// SetUsage sets the usage counters.
	SetUsage(ctx context.Context, c Counters) error
	// TrackChanges makes InsertDocument and LogQuery of this transaction
	// also record the row in the workspace's change log, in the same
	// transaction: while a move copies the workspace, every row a request
	// writes is either there before the copy starts or in the log. The
	// log is read in any order and emptied by ForgetChanges, so it relies
	// on neither id order nor commit order.
	TrackChanges()
	// ForgetChanges deletes the change log entries of those sequence
	// numbers (the ones a move has copied).
	ForgetChanges(ctx context.Context, seqs []int64) error
	// ClearChanges empties the change log.
	ClearChanges(ctx context.Context) error
	// Main is the main-database transaction the workspace writes in, or nil
	// when it lives elsewhere and commits on its own.
	Main() *store.Tx
}

// Querier runs statements: a transaction or a connection.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Document is one document. Content holds the text only when HasContent
// says so.
type Document struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Title      string
	Content    string
	HasContent bool
	SizeBytes  int64
	CreatedAt  time.Time
}

// QueryLogEntry is one logged search.
type QueryLogEntry struct {
	ID        uuid.UUID
	TenantID  uuid.UUID
	Query     string
	Hits      int
	CreatedAt time.Time
}

// Hit is one search result.
type Hit struct {
	Document *Document
	Score    float64
	Snippet  string
}

// Counters are a workspace's usage counters: documents and bytes stored,
// queries counted in QueryMonth ("2006-01").
type Counters struct {
	Documents  int64
	Bytes      int64
	Queries    int64
	QueryMonth string
}

// Counts are what a workspace holds, counted from its rows.
type Counts struct {
	Documents int64
	Bytes     int64
	Queries   int64 // query log entries
}

// The tables of a workspace, as the change log names them.
const (
	TableDocuments = "documents"
	TableQueryLog  = "query_log"
)

// Change is one entry of the change log: a row a request wrote.
type Change struct {
	Seq   int64
	Table string
	RowID uuid.UUID
}

// Batch is what WriteBatch stores.
type Batch struct {
	Documents []*Document
	QueryLog  []*QueryLogEntry
}

// Cursor is a position in the newest-first order of documents.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// ListParams ask ListDocuments for a page.
type ListParams struct {
	// After and Before bound the page (exclusive), in newest-first order.
	After, Before *Cursor
	// Backward lists oldest first (the caller reverses the page).
	Backward bool
	Limit    int
}

// Query is a parsed search query: OR-groups of terms (words or phrases of
// lower-case words), all groups required, and excluded terms.
type Query struct {
	Groups  [][]string
	Exclude []string
}

// SearchParams ask Search for hits.
type SearchParams struct {
	Query *Query
	First int
	// SnippetChars is how much of each hit's content is read.
	SnippetChars int
	// Window cuts the text a hit's snippet is made from out of that
	// content: the highlighters' work grows with the square of the matches
	// in their text, so the caller bounds it.
	Window func(content string) string
}
