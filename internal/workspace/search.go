package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// Hit is one search result.
type Hit struct {
	Document *Document
	// Score is the relevance relative to the best hit of the same search:
	// 1 for the best, down towards 0, the same scale on every store (the
	// raw ranks are not: SQLite's bm25 of a small workspace is ~1e-6,
	// PostgreSQL's ts_rank_cd ~0.1).
	Score float64
	// Snippet is an excerpt with the matches between [ and ].
	Snippet string
}

const (
	maxQueryLen   = 500
	maxQueryTerms = 32
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
	now := s.now()
	month := now.Format("2006-01")
	keys := pq.snippetKeys()
	params := wsdriver.SearchParams{
		Query: &wsdriver.Query{Groups: pq.groups, Exclude: pq.exclude}, First: first,
		SnippetChars: maxSnippetChars, Window: keys.window,
	}
	var (
		found []*wsdriver.Hit
		ti    *tenantInfo
	)
	err = s.read(ctx, tenantID, s.cfg.SearchTimeout, func(ctx context.Context, r wsdriver.Reader, t *tenantInfo) error {
		ti = t
		// A tenant whose quota is used up is told so without the search's
		// work; the count below is the exact check.
		u, err := s.readUsage(ctx, r, t)
		if err != nil {
			return err
		}
		if t.maxQuery != nil && u.QueriesThisMonth >= *t.maxQuery {
			return queryQuotaError(t)
		}
		if s.searchReadHook != nil {
			if err := s.searchReadHook(ctx, tenantID, r.Querier()); err != nil {
				return err
			}
		}
		found, err = r.Search(ctx, params)
		return err
	})
	if err != nil {
		if errors.Is(err, wsdriver.ErrTimeout) {
			s.cfg.Logger.Warn("search ran out of time", "tenant", tenantID, "timeout", s.cfg.SearchTimeout, "err", err)
			return nil, searchTimeoutError(s.cfg.SearchTimeout)
		}
		return nil, err
	}
	hits := make([]*Hit, len(found))
	best := 0.0
	for _, h := range found {
		best = max(best, h.Score)
	}
	for i, h := range found {
		score := 1.0
		if best > 0 {
			score = h.Score / best
		}
		hits[i] = &Hit{Document: (*Document)(h.Document), Score: score, Snippet: h.Snippet}
	}
	finishSnippets(hits)
	inMain := false
	err = s.write(ctx, tenantID, func(ctx context.Context, tx wsdriver.Tx, _ querier) error {
		if _, ok, err := tx.CountQuery(ctx, month, limitOr(ti.maxQuery)); err != nil {
			return err
		} else if !ok {
			return queryQuotaError(ti)
		}
		if err := tx.LogQuery(ctx, &wsdriver.QueryLogEntry{ID: schema.NewID(), TenantID: tenantID, Query: query, Hits: len(hits), CreatedAt: now}); err != nil {
			return err
		}
		if main := tx.Main(); main != nil {
			inMain = true
			_, err := analytics.RecordTx(ctx, main, tenantID, analytics.FirstQuery, now, s.cfg.ActivationWindow)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !inMain {
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
