package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/store"
)

// Hit is one search result.
type Hit struct {
	Document *Document
	// Score is the relevance: higher is better.
	Score float64
	// Snippet is an excerpt with the matches between [ and ].
	Snippet string
}

const (
	maxQueryLen   = 500
	maxQueryTerms = 32
	// maxCandidates bounds the matches a PostgreSQL search ranks, so that a
	// query of very common words answers in bounded time; below it the
	// ranking is exact.
	maxCandidates = 10_000
)

// searchQuery is a parsed web-search style query: words (ANDed), "quoted
// phrases", OR between them, and -excluded words or phrases.
type searchQuery struct {
	groups  [][]string // OR-groups of required terms; a term is a word or a phrase
	exclude []string
}

// parseQuery reads a search query. The same syntax means the same on both
// stores: it becomes a websearch_to_tsquery string on PostgreSQL and an FTS5
// expression on SQLite.
//
// Returns INVALID_INPUT (field "query") for a query with a syntax error or
// nothing to find.
func parseQuery(s string) (*searchQuery, error) {
	switch {
	case !utf8.ValidString(s):
		return nil, tenantd.Invalid("query", "the query must be valid UTF-8")
	case utf8.RuneCountInString(s) > maxQueryLen:
		return nil, tenantd.Invalid("query", "the query is longer than %d characters", maxQueryLen)
	}
	q := &searchQuery{}
	var current []string // the OR-group being read
	terms := 0
	orNext := false
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		if unicode.IsSpace(r) {
			i++
			continue
		}
		neg := false
		if r == '-' && i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) {
			neg, i = true, i+1
			r = rs[i]
		}
		var term string
		if r == '"' {
			end := -1
			for j := i + 1; j < len(rs); j++ {
				if rs[j] == '"' {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, tenantd.Invalid("query", "search syntax error: the quoted phrase starting at character %d is not closed", i+1)
			}
			term = strings.Join(words(string(rs[i+1:end])), " ")
			i = end + 1
		} else {
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '"' {
				j++
			}
			raw := string(rs[i:j])
			i = j
			if raw == "OR" && !neg {
				if current == nil {
					return nil, tenantd.Invalid("query", "search syntax error: OR needs a word on each side")
				}
				orNext = true
				continue
			}
			term = strings.Join(words(raw), " ")
		}
		if term == "" {
			continue // punctuation only
		}
		terms++
		if terms > maxQueryTerms {
			return nil, tenantd.Invalid("query", "the query has more than %d words", maxQueryTerms)
		}
		switch {
		case neg:
			q.exclude = append(q.exclude, term)
		case orNext && current != nil:
			q.groups[len(q.groups)-1] = append(q.groups[len(q.groups)-1], term)
			current = q.groups[len(q.groups)-1]
		default:
			current = []string{term}
			q.groups = append(q.groups, current)
		}
		orNext = false
	}
	if orNext {
		return nil, tenantd.Invalid("query", "search syntax error: OR needs a word on each side")
	}
	if len(q.groups) == 0 {
		if len(q.exclude) > 0 {
			return nil, tenantd.Invalid("query", "a search needs at least one word to find; -word only excludes")
		}
		return nil, tenantd.Invalid("query", "the query has no words to search for")
	}
	return q, nil
}

// words splits text into the letters-and-digits words both full-text
// engines index.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// websearch renders the query for PostgreSQL's websearch_to_tsquery.
func (q *searchQuery) websearch() string {
	var parts []string
	for _, g := range q.groups {
		var alts []string
		for _, t := range g {
			alts = append(alts, `"`+t+`"`)
		}
		parts = append(parts, strings.Join(alts, " or "))
	}
	for _, t := range q.exclude {
		parts = append(parts, `-"`+t+`"`)
	}
	return strings.Join(parts, " ")
}

// fts5 renders the query as an FTS5 expression; every term is quoted, so no
// user text is read as FTS5 syntax.
func (q *searchQuery) fts5() string {
	var parts []string
	for _, g := range q.groups {
		var alts []string
		for _, t := range g {
			alts = append(alts, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
		}
		parts = append(parts, "("+strings.Join(alts, " OR ")+")")
	}
	expr := strings.Join(parts, " AND ")
	for _, t := range q.exclude {
		expr = "(" + expr + `) NOT "` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	return expr
}

// fts5Any renders the query's wanted terms as one FTS5 OR-expression: what
// a snippet highlights.
func (q *searchQuery) fts5Any() string {
	var alts []string
	for _, g := range q.groups {
		for _, t := range g {
			alts = append(alts, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
		}
	}
	return strings.Join(alts, " OR ")
}

// Search finds the tenant's documents matching query, best first, and logs
// the query.
//
// The reading comes first, outside any write transaction: on SQLite it runs
// beside the writer (WAL), so a search never holds the main database's write
// queue that every other tenant's writes and searches go through. Its work
// is bounded whatever the documents' sizes (see search) and, as a backstop,
// by Config.SearchTimeout. Then one short transaction counts the query
// against the monthly quota (a conditional UPDATE, so the quota is exact
// under concurrency), writes the query log entry and, the first time, the
// first_query milestone. A query over the quota is neither counted nor
// logged.
//
// Returns INVALID_INPUT (query, first), FORBIDDEN for a tenant whose data
// cannot be read, QUOTA_EXCEEDED when the month's queries are used up
// (quota "queries") or the search ran out of time (quota "search_time").
func (s *Service) Search(ctx context.Context, tenantID uuid.UUID, query string, first int) ([]*Hit, error) {
	if first < 1 || first > 100 {
		return nil, tenantd.Invalid("first", "first must be 1 to 100, not %d", first)
	}
	pq, err := parseQuery(query)
	if err != nil {
		return nil, err
	}
	sc, err := s.scopeOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := schema.Now()
	month := now.Format("2006-01")
	var (
		hits []*Hit
		ti   *tenantInfo
	)
	// On PostgreSQL the statement timeout stops the search; the deadline,
	// a little later, only covers a server that does not answer at all.
	deadline := s.cfg.SearchTimeout
	if sc.postgres {
		deadline += time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, deadline)
	err = s.readWithin(rctx, sc, s.cfg.SearchTimeout, func(ctx context.Context, q querier, t *tenantInfo) error {
		ti = t
		// A tenant whose quota is used up is told so without the search's
		// work; the UPDATE below is the exact check.
		u, err := s.readUsage(ctx, q, sc, t)
		if err != nil {
			return err
		}
		if t.maxQuery != nil && u.QueriesThisMonth >= *t.maxQuery {
			return queryQuotaError(t)
		}
		if s.searchReadHook != nil {
			if err := s.searchReadHook(ctx, tenantID, q); err != nil {
				return err
			}
		}
		hits, err = s.search(ctx, q, sc, pq, first)
		return err
	})
	timedOut := rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
	cancel()
	if err != nil {
		if timedOut || isStatementTimeout(err) {
			s.cfg.Logger.Warn("search ran out of time", "tenant", tenantID, "timeout", s.cfg.SearchTimeout, "err", err)
			return nil, searchTimeoutError(s.cfg.SearchTimeout)
		}
		return nil, err
	}
	err = s.inTx(ctx, sc, func(ctx context.Context, q querier, mainTx *store.Tx) error {
		var n int64
		err := q.QueryRowContext(ctx, sc.q(`UPDATE `+sc.table("workspace_usage")+`
			SET queries = CASE WHEN query_month = ? THEN queries + 1 ELSE 1 END, query_month = ?
			WHERE tenant_id = ? AND (query_month <> ? OR queries + 1 <= ?)
			RETURNING queries`), month, month, tenantID, month, limitOr(ti.maxQuery)).Scan(&n)
		if isNoRows(err) {
			return queryQuotaError(ti)
		}
		if err != nil {
			return fmt.Errorf("count query: %w", err)
		}
		_, err = q.ExecContext(ctx, sc.q(`INSERT INTO `+sc.table("query_log")+` (id, tenant_id, query, hits, created_at) VALUES (?, ?, ?, ?, ?)`),
			schema.NewID(), tenantID, query, len(hits), now)
		if err != nil {
			return fmt.Errorf("log query: %w", err)
		}
		if mainTx != nil {
			_, err = analytics.RecordTx(ctx, mainTx, tenantID, analytics.FirstQuery, now, s.cfg.ActivationWindow)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if sc.file != "" {
		s.recordAfter(ctx, tenantID, analytics.FirstQuery, now)
	}
	return hits, nil
}

func queryQuotaError(ti *tenantInfo) error {
	limit := limitOr(ti.maxQuery)
	return quotaError("queries", limit, limit, fmt.Sprintf(
		"the %s plan allows %d queries a month and this workspace has used them all; it resets on the 1st, or upgrade the plan",
		ti.plan, limit))
}

// searchTimeoutError answers a search that ran out of its time budget.
//
// The code is QUOTA_EXCEEDED with quota "search_time": the search used up a
// resource limit, as a query over the monthly count does. It is not
// INVALID_INPUT, because the query is valid and the same query may well
// answer in time when the server is less busy — the cause may be load the
// client has nothing to do with. It is not INTERNAL either: nothing broke,
// the limit worked as designed, and the client can act on it (retry later,
// or narrow the query), which "internal error" would not tell it. The search
// is neither counted nor logged.
func searchTimeoutError(limit time.Duration) error {
	return &tenantd.Error{Code: tenantd.EQUOTA,
		Message: fmt.Sprintf("the search did not finish within its time limit of %s; try again, or narrow the query with more words or a phrase", limit),
		Extra:   map[string]any{"quota": "search_time", "limit": limit.Milliseconds(), "usage": limit.Milliseconds()}}
}

// isStatementTimeout reports a PostgreSQL statement canceled by
// statement_timeout (query_canceled, 57014, is also a cancel request's).
func isStatementTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014" && strings.Contains(pgErr.Message, "statement timeout")
}

// search finds, ranks and excerpts the matches. Its work is bounded whatever
// the size of the documents:
//
//   - matching and ranking read the full-text index only (PostgreSQL: the
//     stored tsvector, at most 1 MiB per document, ranked for at most
//     maxCandidates matches; SQLite: FTS5's bm25 over the index's position
//     lists), never the documents' text;
//   - snippets are made for the returned rows only, from a bounded window
//     of each (see snippetKeys.window): the highlighters' work grows with
//     the square of the matches in their text, so a megabyte of text full
//     of a common word took them tens of seconds — and ts_headline over
//     1 MiB of a repeated phrase's words ran the PostgreSQL backend out of
//     memory.
func (s *Service) search(ctx context.Context, q querier, sc *scope, pq *searchQuery, first int) ([]*Hit, error) {
	if sc.postgres {
		return s.searchPostgres(ctx, q, sc, pq, first)
	}
	return s.searchSQLite(ctx, q, sc, pq, first)
}

func (s *Service) searchPostgres(ctx context.Context, q querier, sc *scope, pq *searchQuery, first int) ([]*Hit, error) {
	// Rank in steps: at most maxCandidates matches are ranked (a query of
	// very common words does not rank the whole workspace), and only the
	// returned rows are read.
	query := `WITH q AS (SELECT websearch_to_tsquery('english', ?) AS q),
		cand AS (SELECT d.id, d.search, d.created_at FROM ` + sc.table("documents") + ` d, q
			WHERE d.tenant_id = ? AND d.search @@ q.q LIMIT ` + strconv.Itoa(maxCandidates) + `),
		top AS (SELECT cand.id, ts_rank_cd(cand.search, q.q) AS score, cand.created_at FROM cand, q
			ORDER BY score DESC, cand.created_at DESC LIMIT ?)
		SELECT d.id, d.tenant_id, d.title, left(d.content, ` + strconv.Itoa(maxSnippetChars) + `), d.size_bytes, d.created_at, top.score
		FROM top JOIN ` + sc.table("documents") + ` d ON d.id = top.id ORDER BY top.score DESC, d.created_at DESC`
	rows, err := q.QueryContext(ctx, sc.q(query), pq.websearch(), sc.tenantID, first)
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
		if err := headlinesPostgres(ctx, q, sc, pq, hits); err != nil {
			return nil, err
		}
	}
	finishSnippets(hits)
	return hits, nil
}

// headlinesPostgres makes the hits' snippets with ts_headline over their
// snippet windows, sent as parameters.
func headlinesPostgres(ctx context.Context, q querier, sc *scope, pq *searchQuery, hits []*Hit) error {
	keys := pq.snippetKeys()
	windows := make([]string, len(hits))
	for i, h := range hits {
		windows[i] = keys.window(h.Document.Content)
	}
	rows, err := q.QueryContext(ctx, sc.q(`SELECT t.i, ts_headline('english', t.w, websearch_to_tsquery('english', ?),
			'StartSel=[, StopSel=], MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "')
		FROM unnest(?::text[]) WITH ORDINALITY AS t(w, i)`), pq.websearch(), windows)
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

// searchSQLite ranks with bm25 first, reading nothing of the documents but
// their tenant (the first columns of the row, before the content's overflow
// pages: the tie-break is rowid, the insertion order, not created_at, which
// is stored after the content), then reads the returned documents, then
// makes their snippets in a temporary FTS5 table of this connection holding
// only the documents' snippet windows.
func (s *Service) searchSQLite(ctx context.Context, q querier, sc *scope, pq *searchQuery, first int) ([]*Hit, error) {
	rows, err := q.QueryContext(ctx, `SELECT d.rowid, -bm25(documents_fts, 10.0, 1.0)
		FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
		WHERE documents_fts MATCH ? AND d.tenant_id = ?
		ORDER BY bm25(documents_fts, 10.0, 1.0), d.rowid DESC LIMIT ?`, pq.fts5(), sc.tenantID, first)
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
	rows, err = q.QueryContext(ctx, `SELECT rowid, id, tenant_id, title, substr(content, 1, `+strconv.Itoa(maxSnippetChars)+`), size_bytes, created_at FROM documents WHERE rowid IN (`+in+`)`, rowids...)
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
	if err := snippetsSQLite(ctx, q, pq, byRowid); err != nil {
		return nil, err
	}
	finishSnippets(hits)
	return hits, nil
}

// snippetsSQLite makes the hits' snippets with FTS5's snippet function over
// a temporary table of the connection that holds only the snippet window of
// each hit (see snippetKeys.window). It matches any of the query's
// terms, so that a word present in the window is highlighted even when the
// rest of the query matched further on.
func snippetsSQLite(ctx context.Context, q querier, pq *searchQuery, hits map[int64]*Hit) (err error) {
	if _, err := q.ExecContext(ctx, `DROP TABLE IF EXISTS temp.search_snippets`); err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	if _, err := q.ExecContext(ctx, `CREATE VIRTUAL TABLE temp.search_snippets USING fts5(content, tokenize='porter unicode61')`); err != nil {
		return fmt.Errorf("snippets: %w", err)
	}
	defer func() {
		// The connection goes back to the pool: leave nothing in it, even
		// when ctx has ended.
		if _, derr := q.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS temp.search_snippets`); derr != nil && err == nil {
			err = fmt.Errorf("snippets: %w", derr)
		}
	}()
	keys := pq.snippetKeys()
	for rowid, h := range hits {
		if _, err := q.ExecContext(ctx, `INSERT INTO temp.search_snippets (rowid, content) VALUES (?, ?)`,
			rowid, keys.window(h.Document.Content)); err != nil {
			return fmt.Errorf("snippets: %w", err)
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT rowid, snippet(search_snippets, 0, '[', ']', '…', 24)
		FROM temp.search_snippets WHERE search_snippets MATCH ?`, pq.fts5Any())
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

// finishSnippets gives a hit without a highlighted match in its snippet
// (a match in the title only, or beyond the snippet window) the opening of
// its document instead.
// finishSnippets gives a title-only match the document's opening, then
// drops the snippet text the hits were read with: a hit's document carries
// no content (HasContent false), which Get reads when it is asked for.
func finishSnippets(hits []*Hit) {
	for _, h := range hits {
		if h.Snippet == "" || !strings.Contains(h.Snippet, "[") {
			h.Snippet = titleSnippet(h.Document)
		}
		h.Document.Content, h.Document.HasContent = "", false
	}
}

// titleSnippet is the excerpt of a document that matched in its title only.
func titleSnippet(d *Document) string {
	s := prefix(d.Content, 160)
	if len(s) < len(d.Content) {
		s += "…"
	}
	return s
}

// prefix returns the first n characters of s, reading no further.
func prefix(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
