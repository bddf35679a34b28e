package wsdriver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/store"
)

// postgres is what the two PostgreSQL stores share: transactions of the
// main database bound to the tenant, reads under a statement timeout, and
// full-text search over the stored tsvector.
type postgres struct {
	db *store.DB
}

// maxCandidates bounds the matches a PostgreSQL search ranks, so that a
// query of very common words answers in bounded time; below it the ranking
// is exact.
const maxCandidates = 10_000

// inMain runs fn in main, or in a transaction of its own when main is nil,
// bound to the tenant for row-level security.
func (pg *postgres) inMain(ctx context.Context, main *store.Tx, tenantID uuid.UUID, fn func(ctx context.Context, tx *store.Tx) error) error {
	bound := func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", tenantID.String()); err != nil {
			return fmt.Errorf("bind transaction to tenant: %w", err)
		}
		return fn(ctx, tx)
	}
	if main != nil {
		return bound(ctx, main)
	}
	return pg.db.InTx(ctx, bound)
}

// inSnapshot runs fn in a REPEATABLE READ READ ONLY transaction of its own,
// bound to the tenant: every statement reads the snapshot taken at its
// first one (the binding), so fn sees one state of the workspace however
// long it runs. main is unused (the signature is inMain's).
func (pg *postgres) inSnapshot(ctx context.Context, _ *store.Tx, tenantID uuid.UUID, fn func(ctx context.Context, tx *store.Tx) error) error {
	return pg.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		// Before any other statement: the level is fixed by the first.
		if _, err := tx.SQL.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
			return fmt.Errorf("begin snapshot: %w", err)
		}
		if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('tenantd.tenant_id', $1, true)", tenantID.String()); err != nil {
			return fmt.Errorf("bind transaction to tenant: %w", err)
		}
		return fn(ctx, tx)
	})
}

func (pg *postgres) tx(tx *store.Tx, tenantID uuid.UUID, prefix string) *pgTx {
	return &pgTx{tables{q: tx.SQL, tenantID: tenantID, prefix: prefix, dollar: true, main: tx}}
}

// view is View for both stores; prepare, if set, runs first in the
// transaction.
func (pg *postgres) view(ctx context.Context, main *store.Tx, tenantID uuid.UUID, prefix string, opts ViewOptions,
	prepare func(ctx context.Context, tx *store.Tx) error, fn func(ctx context.Context, r Reader) error) error {
	rctx := ctx
	if opts.Timeout > 0 {
		// The statement timeout stops a long statement; the deadline, a
		// little later, only covers a server that does not answer at all.
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, opts.Timeout+time.Second)
		defer cancel()
	}
	run := pg.inMain
	if opts.Snapshot {
		if main != nil {
			return errors.New("wsdriver: a snapshot view needs a transaction of its own (main must be nil)")
		}
		// A schema upgrade (prepare) writes: a read-only snapshot does
		// without it, as it does without search.
		run, prepare = pg.inSnapshot, nil
	}
	err := run(rctx, main, tenantID, func(ctx context.Context, tx *store.Tx) error {
		if prepare != nil {
			if err := prepare(ctx, tx); err != nil {
				return err
			}
		}
		if opts.Timeout > 0 {
			if _, err := tx.SQL.ExecContext(ctx, "SELECT set_config('statement_timeout', $1, true)", fmt.Sprintf("%dms", max(opts.Timeout.Milliseconds(), 1))); err != nil {
				return fmt.Errorf("set statement timeout: %w", err)
			}
		}
		return fn(ctx, pg.tx(tx, tenantID, prefix))
	})
	if err != nil && (isStatementTimeout(err) || (rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil)) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}

// isStatementTimeout reports a PostgreSQL statement canceled by
// statement_timeout (query_canceled, 57014, is also a cancel request's).
func isStatementTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014" && strings.Contains(pgErr.Message, "statement timeout")
}

// pgTx is a Tx (and Reader) on PostgreSQL.
type pgTx struct{ tables }

// websearch renders the query for PostgreSQL's websearch_to_tsquery.
func websearch(q *Query) string {
	var parts []string
	for _, g := range q.Groups {
		var alts []string
		for _, t := range g {
			alts = append(alts, `"`+t+`"`)
		}
		parts = append(parts, strings.Join(alts, " or "))
	}
	for _, t := range q.Exclude {
		parts = append(parts, `-"`+t+`"`)
	}
	return strings.Join(parts, " ")
}

func (t *pgTx) Search(ctx context.Context, p SearchParams) ([]*Hit, error) {
	// Rank in steps: at most maxCandidates matches are ranked (a query of
	// very common words does not rank the whole workspace), and only the
	// returned rows are read.
	query := `WITH q AS (SELECT websearch_to_tsquery('english', ?) AS q),
		cand AS (SELECT d.id, d.search, d.created_at FROM ` + t.table("documents") + ` d, q
			WHERE d.tenant_id = ? AND d.search @@ q.q LIMIT ` + strconv.Itoa(maxCandidates) + `),
		top AS (SELECT cand.id, ts_rank_cd(cand.search, q.q) AS score, cand.created_at FROM cand, q
			ORDER BY score DESC, cand.created_at DESC LIMIT ?)
		SELECT d.id, d.tenant_id, d.title, left(d.content, ` + strconv.Itoa(p.SnippetChars) + `), d.size_bytes, d.created_at, top.score
		FROM top JOIN ` + t.table("documents") + ` d ON d.id = top.id ORDER BY top.score DESC, d.created_at DESC`
	ws := websearch(p.Query)
	rows, err := t.q.QueryContext(ctx, t.sql(query), ws, t.tenantID, p.First)
	if err != nil {
		if strings.Contains(err.Error(), "syntax error") {
			return nil, tenantd.Invalid("query", "search syntax error: %v", err)
		}
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var hits []*Hit
	for rows.Next() {
		h := &Hit{}
		d, err := scanDocument(rows, &h.Score)
		if err != nil {
			return nil, err
		}
		h.Document = d
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	rows.Close()
	if len(hits) > 0 {
		if err := t.headlines(ctx, ws, p, hits); err != nil {
			return nil, err
		}
	}
	return hits, nil
}

// headlines makes the hits' snippets with ts_headline over their snippet
// windows, sent as parameters.
func (t *pgTx) headlines(ctx context.Context, ws string, p SearchParams, hits []*Hit) error {
	windows := make([]string, len(hits))
	for i, h := range hits {
		windows[i] = p.Window(h.Document.Content)
	}
	rows, err := t.q.QueryContext(ctx, `SELECT t.i, ts_headline('english', t.w, websearch_to_tsquery('english', $1),
			'StartSel=[, StopSel=], MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "')
		FROM unnest($2::text[]) WITH ORDINALITY AS t(w, i)`, ws, windows)
	if err != nil {
		return fmt.Errorf("headlines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i        int
			headline string
		)
		if err := rows.Scan(&i, &headline); err != nil {
			return fmt.Errorf("headlines: %w", err)
		}
		if i >= 1 && i <= len(hits) {
			hits[i-1].Snippet = headline
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("headlines: %w", err)
	}
	return nil
}

// pqIdent quotes a PostgreSQL identifier.
func pqIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
