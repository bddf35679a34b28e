package wsdriver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// sqliteTx is a Tx (and Reader) on SQLite: a transaction or, for reads, one
// connection (a search keeps its snippet windows in a temporary table of
// the connection).
type sqliteTx struct{ tables }

// sqliteView runs fn on one connection of handle, outside any transaction:
// reads write nothing, so they skip the write queue and run beside the
// writer (WAL).
func sqliteView(ctx context.Context, handle *sql.DB, tenantID uuid.UUID, opts ViewOptions, fn func(ctx context.Context, r Reader) error) error {
	rctx := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	err := func() error {
		conn, err := handle.Conn(rctx)
		if err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		defer conn.Close()
		if opts.Snapshot {
			return sqliteSnapshot(rctx, conn, tenantID, fn)
		}
		return fn(rctx, &sqliteTx{tables{q: conn, tenantID: tenantID}})
	}()
	if err != nil && rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}

// sqliteSnapshot runs fn in a read transaction held open on conn: in WAL
// mode it reads the snapshot of its first read, whatever commits beside it.
// The transaction is begun with a plain BEGIN (DEFERRED), not BeginTx: the
// DSN makes BeginTx take the write lock (BEGIN IMMEDIATE). A connection
// whose transaction cannot be ended is discarded, never pooled.
func sqliteSnapshot(ctx context.Context, conn *sql.Conn, tenantID uuid.UUID, fn func(ctx context.Context, r Reader) error) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN DEFERRED"); err != nil {
		return fmt.Errorf("begin snapshot: %w", err)
	}
	defer func() {
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = fmt.Errorf("end snapshot: %w", rerr)
			}
		}
	}()
	// A deferred transaction takes its snapshot at its first read: now,
	// not at fn's first statement.
	var one int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM workspace_usage WHERE tenant_id = ?", tenantID).Scan(&one); err != nil {
		return fmt.Errorf("begin snapshot: %w", err)
	}
	return fn(ctx, &sqliteTx{tables{q: conn, tenantID: tenantID}})
}

// fts5 renders the query as an FTS5 expression; every term is quoted, so no
// user text is read as FTS5 syntax.
func fts5(q *Query) string {
	var parts []string
	for _, g := range q.Groups {
		var alts []string
		for _, t := range g {
			alts = append(alts, fts5Quote(t))
		}
		parts = append(parts, "("+strings.Join(alts, " OR ")+")")
	}
	expr := strings.Join(parts, " AND ")
	for _, t := range q.Exclude {
		expr = "(" + expr + ") NOT " + fts5Quote(t)
	}
	return expr
}

// fts5Any renders the query's wanted terms as one FTS5 OR-expression: what
// a snippet highlights.
func fts5Any(q *Query) string {
	var alts []string
	for _, g := range q.Groups {
		for _, t := range g {
			alts = append(alts, fts5Quote(t))
		}
	}
	return strings.Join(alts, " OR ")
}

func fts5Quote(t string) string { return `"` + strings.ReplaceAll(t, `"`, `""`) + `"` }

// Search ranks with bm25 first, reading nothing of the documents but their
// tenant (the first columns of the row, before the content's overflow
// pages: the tie-break is rowid, the insertion order, not created_at, which
// is stored after the content), then reads the returned documents, then
// makes their snippets in a temporary FTS5 table of this connection holding
// only the documents' snippet windows.
func (t *sqliteTx) Search(ctx context.Context, p SearchParams) ([]*Hit, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT d.rowid, -bm25(documents_fts, 10.0, 1.0)
		FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
		WHERE documents_fts MATCH ? AND d.tenant_id = ?
		ORDER BY bm25(documents_fts, 10.0, 1.0), d.rowid DESC LIMIT ?`, fts5(p.Query), t.tenantID, p.First)
	if err != nil {
		if strings.Contains(err.Error(), "syntax error") {
			return nil, tenantd.Invalid("query", "search syntax error: %v", err)
		}
		return nil, fmt.Errorf("search: %w", err)
	}
	var (
		rowids []any
		scores = map[int64]float64{}
	)
	for rows.Next() {
		var (
			rowid int64
			score float64
		)
		if err := rows.Scan(&rowid, &score); err != nil {
			rows.Close()
			return nil, fmt.Errorf("search: %w", err)
		}
		rowids = append(rowids, rowid)
		scores[rowid] = score
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if len(rowids) == 0 {
		return nil, nil
	}
	in := "?" + strings.Repeat(", ?", len(rowids)-1)
	rows, err = t.q.QueryContext(ctx, `SELECT rowid, id, tenant_id, title, substr(content, 1, `+strconv.Itoa(p.SnippetChars)+`), size_bytes, created_at FROM documents WHERE rowid IN (`+in+`)`, rowids...)
	if err != nil {
		return nil, fmt.Errorf("read hits: %w", err)
	}
	byRowid := map[int64]*Hit{}
	for rows.Next() {
		var rowid int64
		d := &Document{}
		var created any
		if err := rows.Scan(&rowid, &d.ID, &d.TenantID, &d.Title, &d.Content, &d.SizeBytes, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read hits: %w", err)
		}
		if d.CreatedAt, err = asTime(created); err != nil {
			rows.Close()
			return nil, err
		}
		byRowid[rowid] = &Hit{Document: d, Score: scores[rowid]}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read hits: %w", err)
	}
	hits := make([]*Hit, 0, len(rowids))
	for _, r := range rowids {
		if h, ok := byRowid[r.(int64)]; ok {
			hits = append(hits, h)
		}
	}
	if err := t.snippets(ctx, p, byRowid); err != nil {
		return nil, err
	}
	return hits, nil
}

// snippets makes the hits' snippets with FTS5's snippet function over a
// temporary table of the connection that holds only the snippet window of
// each hit. It matches any of the query's terms, so that a word present in
// the window is highlighted even when the rest of the query matched
// further on.
func (t *sqliteTx) snippets(ctx context.Context, p SearchParams, hits map[int64]*Hit) (err error) {
	if _, err := t.q.ExecContext(ctx, `DROP TABLE IF EXISTS temp.search_snippets`); err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	if _, err := t.q.ExecContext(ctx, `CREATE VIRTUAL TABLE temp.search_snippets USING fts5(content, tokenize='porter unicode61')`); err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	defer func() {
		// The connection goes back to the pool: leave nothing in it, even
		// when ctx has ended.
		if _, derr := t.q.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS temp.search_snippets`); derr != nil && err == nil {
			err = fmt.Errorf("snippets: %w", derr)
		}
	}()
	for rowid, h := range hits {
		if _, err := t.q.ExecContext(ctx, `INSERT INTO temp.search_snippets (rowid, content) VALUES (?, ?)`,
			rowid, p.Window(h.Document.Content)); err != nil {
			return fmt.Errorf("snippets: %w", err)
		}
	}
	rows, err := t.q.QueryContext(ctx, `SELECT rowid, snippet(search_snippets, 0, '[', ']', '…', 24)
		FROM temp.search_snippets WHERE search_snippets MATCH ?`, fts5Any(p.Query))
	if err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rowid   int64
			snippet string
		)
		if err := rows.Scan(&rowid, &snippet); err != nil {
			return fmt.Errorf("snippets: %w", err)
		}
		if h, ok := hits[rowid]; ok {
			h.Snippet = snippet
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	return nil
}
