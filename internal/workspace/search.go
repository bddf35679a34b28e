package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

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

// Search finds the tenant's documents matching query, best first, and logs
// the query. The search, the query log entry, the monthly query count and
// (the first time) the first_query milestone happen in one transaction.
//
// Returns INVALID_INPUT (query, first), FORBIDDEN for a tenant whose data
// cannot be read, QUOTA_EXCEEDED when the month's queries are used up.
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
	var hits []*Hit
	err = s.inTx(ctx, sc, func(ctx context.Context, q querier, mainTx *store.Tx) error {
		ti, err := s.loadTenant(ctx, q, sc, false)
		if err != nil {
			return err
		}
		if err := readable(ti.state); err != nil {
			return err
		}
		if hits, err = s.search(ctx, q, sc, pq, first); err != nil {
			return err
		}
		var n int64
		err = q.QueryRowContext(ctx, sc.q(`UPDATE `+sc.table("workspace_usage")+`
			SET queries = CASE WHEN query_month = ? THEN queries + 1 ELSE 1 END, query_month = ?
			WHERE tenant_id = ? AND (query_month <> ? OR queries + 1 <= ?)
			RETURNING queries`), month, month, tenantID, month, limitOr(ti.maxQuery)).Scan(&n)
		if isNoRows(err) {
			return quotaError("queries", limitOr(ti.maxQuery), limitOr(ti.maxQuery), fmt.Sprintf(
				"the %s plan allows %d queries a month and this workspace has used them all; it resets on the 1st, or upgrade the plan",
				ti.plan, limitOr(ti.maxQuery)))
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

func (s *Service) search(ctx context.Context, q querier, sc *scope, pq *searchQuery, first int) ([]*Hit, error) {
	var query string
	var args []any
	if sc.postgres {
		// Rank in steps: at most maxCandidates matches are ranked (a query
		// of very common words does not rank the whole workspace), and the
		// costly headlines are made for the returned rows only.
		query = `WITH q AS (SELECT websearch_to_tsquery('english', ?) AS q),
			cand AS (SELECT d.id, d.search, d.created_at FROM ` + sc.table("documents") + ` d, q
				WHERE d.tenant_id = ? AND d.search @@ q.q LIMIT ` + strconv.Itoa(maxCandidates) + `),
			top AS (SELECT cand.id, ts_rank_cd(cand.search, q.q) AS score, cand.created_at FROM cand, q
				ORDER BY score DESC, cand.created_at DESC LIMIT ?)
			SELECT d.id, d.tenant_id, d.title, d.content, d.size_bytes, d.created_at, top.score,
				ts_headline('english', d.content, q.q, 'StartSel=[, StopSel=], MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "')
			FROM top JOIN ` + sc.table("documents") + ` d ON d.id = top.id, q ORDER BY top.score DESC, d.created_at DESC`
		args = []any{pq.websearch(), sc.tenantID, first}
	} else {
		query = `SELECT d.id, d.tenant_id, d.title, d.content, d.size_bytes, d.created_at,
				-bm25(documents_fts, 10.0, 1.0), snippet(documents_fts, 1, '[', ']', '…', 24)
			FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
			WHERE documents_fts MATCH ? AND d.tenant_id = ?
			ORDER BY bm25(documents_fts, 10.0, 1.0), d.created_at DESC LIMIT ?`
		args = []any{pq.fts5(), sc.tenantID, first}
	}
	rows, err := q.QueryContext(ctx, sc.q(query), args...)
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
		d, err := scanDocument(rows, &h.Score, &h.Snippet)
		if err != nil {
			return nil, err
		}
		h.Document = d
		if h.Snippet == "" || !strings.Contains(h.Snippet, "[") {
			h.Snippet = titleSnippet(d)
		}
		hits = append(hits, h)
	}
	return hits, rows.Err()
}

// titleSnippet is the excerpt of a document that matched in its title only.
func titleSnippet(d *Document) string {
	s := d.Content
	if utf8.RuneCountInString(s) > 160 {
		s = string([]rune(s)[:160]) + "…"
	}
	return s
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
