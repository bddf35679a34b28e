package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/store"
)

// Document is one document of a tenant's workspace. Lists and search hits
// leave its content out (a page of 100 documents of 10 MiB would be a
// gigabyte in memory): Content holds the whole text only when HasContent
// says so (Get, Upload); ask Get for it otherwise.
type Document struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Title      string
	Content    string
	HasContent bool
	SizeBytes  int64
	CreatedAt  time.Time
}

// Usage is a workspace's use of its plan's quotas. Nil limits are unlimited.
type Usage struct {
	Documents          int64
	Bytes              int64
	QueriesThisMonth   int64
	MaxDocuments       *int64
	MaxBytes           *int64
	MaxQueriesPerMonth *int64
}

const maxTitle = 500

// tenantInfo is what the data plane needs to know of a tenant.
type tenantInfo struct {
	state    tenantd.State
	plan     string
	maxDocs  *int64
	maxBytes *int64
	maxQuery *int64
}

// loadTenant reads the tenant's state and plan limits in the main database;
// on PostgreSQL within the data transaction, with a share lock so that a
// suspension waits for an upload in flight rather than overtaking it.
func (s *Service) loadTenant(ctx context.Context, q querier, sc *scope, lock bool) (*tenantInfo, error) {
	query := `SELECT t.state, p.key, p.max_documents, p.max_storage_bytes, p.max_queries_per_month
		FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = ?`
	if lock && sc.postgres {
		query += " FOR SHARE OF t"
	}
	if sc.file != "" {
		q = s.db.Read // the silo file does not hold the tenants table
	}
	var (
		ti               tenantInfo
		maxD, maxB, maxQ sql.NullInt64
	)
	err := q.QueryRowContext(ctx, sc.q(query), sc.tenantID).Scan(&ti.state, &ti.plan, &maxD, &maxB, &maxQ)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", sc.tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("load tenant: %w", err)
	}
	ti.maxDocs, ti.maxBytes, ti.maxQuery = nullable(maxD), nullable(maxB), nullable(maxQ)
	return &ti, nil
}

func nullable(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func limitOr(p *int64) int64 {
	if p == nil {
		return math.MaxInt64
	}
	return *p
}

// writable and readable are the workspace's gates: lifecycle says what a
// state permits (lifecycle.PermitsOf).
func writable(s tenantd.State) error { return lifecycle.CanWrite(s) }

func readable(s tenantd.State) error { return lifecycle.CanRead(s) }

// validateDocument checks an upload before anything is written.
func (s *Service) validateDocument(title, content string) error {
	switch {
	case !utf8.ValidString(title):
		return tenantd.Invalid("title", "title must be valid UTF-8")
	case strings.TrimSpace(title) == "":
		return tenantd.Invalid("title", "title is required")
	case utf8.RuneCountInString(title) > maxTitle:
		return tenantd.Invalid("title", "title is %d characters long; the limit is %d", utf8.RuneCountInString(title), maxTitle)
	case strings.ContainsRune(title, 0):
		return tenantd.Invalid("title", "title must not contain NUL characters")
	case tenantd.CheckLine("title", title, maxTitle) != nil:
		return tenantd.CheckLine("title", title, maxTitle)
	case content == "":
		return tenantd.Invalid("content", "content is empty; upload a document with some text")
	case int64(len(content)) > s.cfg.MaxDocumentBytes:
		return tenantd.Invalid("content", "the document is %d bytes; the limit is %d bytes", len(content), s.cfg.MaxDocumentBytes)
	case !utf8.ValidString(content):
		return tenantd.Invalid("content", "content must be valid UTF-8 text")
	case strings.ContainsRune(content, 0):
		return tenantd.Invalid("content", "content must not contain NUL characters; upload text, not binary data")
	}
	return nil
}

// Upload stores a document in an ACTIVE tenant's workspace. The quota check,
// the usage counters, the document and (the first time) the first_upload
// milestone are written in one transaction.
//
// Returns INVALID_INPUT (title, content), FORBIDDEN naming the state for a
// tenant that is not ACTIVE, QUOTA_EXCEEDED with the limit and the usage.
func (s *Service) Upload(ctx context.Context, tenantID uuid.UUID, title, content string) (*Document, *Usage, error) {
	if err := s.validateDocument(title, content); err != nil {
		return nil, nil, err
	}
	sc, err := s.scopeOf(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	now := schema.Now()
	doc := &Document{ID: schema.NewID(), TenantID: tenantID, Title: strings.TrimSpace(title), Content: content,
		HasContent: true, SizeBytes: int64(len(content)), CreatedAt: now}
	var usage *Usage
	err = s.inTx(ctx, sc, func(ctx context.Context, q querier, mainTx *store.Tx) error {
		ti, err := s.loadTenant(ctx, q, sc, true)
		if err != nil {
			return err
		}
		if err := writable(ti.state); err != nil {
			return err
		}
		var docs, bytes, queries int64
		var month string
		err = q.QueryRowContext(ctx, sc.q(`UPDATE `+sc.table("workspace_usage")+`
			SET documents = documents + 1, bytes = bytes + ?
			WHERE tenant_id = ? AND documents + 1 <= ? AND bytes + ? <= ?
			RETURNING documents, bytes, queries, query_month`),
			doc.SizeBytes, tenantID, limitOr(ti.maxDocs), doc.SizeBytes, limitOr(ti.maxBytes)).Scan(&docs, &bytes, &queries, &month)
		if errors.Is(err, sql.ErrNoRows) {
			return s.uploadQuotaError(ctx, q, sc, ti, doc.SizeBytes)
		}
		if err != nil {
			return fmt.Errorf("count usage: %w", err)
		}
		usage = &Usage{Documents: docs, Bytes: bytes, QueriesThisMonth: monthQueries(month, queries, now),
			MaxDocuments: ti.maxDocs, MaxBytes: ti.maxBytes, MaxQueriesPerMonth: ti.maxQuery}
		_, err = q.ExecContext(ctx, sc.q(`INSERT INTO `+sc.table("documents")+
			` (id, tenant_id, title, content, size_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
			doc.ID, tenantID, doc.Title, doc.Content, doc.SizeBytes, now)
		if err != nil {
			return fmt.Errorf("store document: %w", err)
		}
		if mainTx != nil {
			_, err = analytics.RecordTx(ctx, mainTx, tenantID, analytics.FirstUpload, now, s.cfg.ActivationWindow)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if sc.file != "" {
		s.recordAfter(ctx, tenantID, analytics.FirstUpload, now)
	}
	return doc, usage, nil
}

// recordAfter records a milestone of an SQLite silo tenant, whose act
// committed in its own database file: the main database cannot share that
// transaction, so the milestone follows it (and is idempotent).
func (s *Service) recordAfter(ctx context.Context, tenantID uuid.UUID, m analytics.Milestone, at time.Time) {
	err := s.db.InTx(context.WithoutCancel(ctx), func(ctx context.Context, tx *store.Tx) error {
		_, err := analytics.RecordTx(ctx, tx, tenantID, m, at, s.cfg.ActivationWindow)
		return err
	})
	if err != nil {
		// The act happened; the funnel misses it until analytics.Rebuild.
		s.cfg.Logger.Error("record milestone after the act", "milestone", m, "tenant", tenantID, "err", err)
	}
}

func (s *Service) uploadQuotaError(ctx context.Context, q querier, sc *scope, ti *tenantInfo, size int64) error {
	u, err := s.readUsage(ctx, q, sc, ti)
	if err != nil {
		return err
	}
	if ti.maxDocs != nil && u.Documents+1 > *ti.maxDocs {
		return quotaError("documents", *ti.maxDocs, u.Documents, fmt.Sprintf(
			"the %s plan allows %d documents and this workspace has %d; delete documents or upgrade the plan", ti.plan, *ti.maxDocs, u.Documents))
	}
	return quotaError("bytes", limitOr(ti.maxBytes), u.Bytes, fmt.Sprintf(
		"the %s plan allows %d bytes of documents; this workspace uses %d and the document has %d; upgrade the plan for more",
		ti.plan, limitOr(ti.maxBytes), u.Bytes, size))
}

func quotaError(quota string, limit, usage int64, msg string) error {
	return &tenantd.Error{Code: tenantd.EQUOTA, Message: msg,
		Extra: map[string]any{"quota": quota, "limit": limit, "usage": usage}}
}

func (s *Service) readUsage(ctx context.Context, q querier, sc *scope, ti *tenantInfo) (*Usage, error) {
	var (
		u     = &Usage{MaxDocuments: ti.maxDocs, MaxBytes: ti.maxBytes, MaxQueriesPerMonth: ti.maxQuery}
		month string
	)
	err := q.QueryRowContext(ctx, sc.q(`SELECT documents, bytes, queries, query_month FROM `+sc.table("workspace_usage")+` WHERE tenant_id = ?`),
		sc.tenantID).Scan(&u.Documents, &u.Bytes, &u.QueriesThisMonth, &month)
	if errors.Is(err, sql.ErrNoRows) {
		return u, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	u.QueriesThisMonth = monthQueries(month, u.QueriesThisMonth, schema.Now())
	return u, nil
}

// monthQueries counts queries of the current month only.
func monthQueries(month string, n int64, now time.Time) int64 {
	if month != now.Format("2006-01") {
		return 0
	}
	return n
}

// Usage returns the tenant's usage against its quotas.
//
// Returns FORBIDDEN for a tenant whose data cannot be read.
func (s *Service) Usage(ctx context.Context, tenantID uuid.UUID) (*Usage, error) {
	sc, err := s.scopeOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var u *Usage
	err = s.read(ctx, sc, func(ctx context.Context, q querier, ti *tenantInfo) error {
		var err error
		u, err = s.readUsage(ctx, q, sc, ti)
		return err
	})
	return u, err
}

// read runs fn for a tenant whose data may be read, in a transaction bound
// to the tenant on PostgreSQL. Reads write nothing, so on SQLite they skip
// the main database's write queue: they run on one connection of the read
// handle (or of the silo file), outside any transaction, beside the writer.
func (s *Service) read(ctx context.Context, sc *scope, fn func(ctx context.Context, q querier, ti *tenantInfo) error) error {
	return s.readWithin(ctx, sc, 0, fn)
}

// readWithin is read with a statement timeout on PostgreSQL when timeout is
// positive (the caller's context deadline is SQLite's).
func (s *Service) readWithin(ctx context.Context, sc *scope, timeout time.Duration, fn func(ctx context.Context, q querier, ti *tenantInfo) error) error {
	if sc.postgres {
		return s.inTx(ctx, sc, func(ctx context.Context, q querier, _ *store.Tx) error {
			if timeout > 0 {
				if _, err := q.ExecContext(ctx, "SELECT set_config('statement_timeout', $1, true)", fmt.Sprintf("%dms", max(timeout.Milliseconds(), 1))); err != nil {
					return fmt.Errorf("set statement timeout: %w", err)
				}
			}
			ti, err := s.loadTenant(ctx, q, sc, false)
			if err != nil {
				return err
			}
			if err := readable(ti.state); err != nil {
				return err
			}
			return fn(ctx, q, ti)
		})
	}
	ti, err := s.loadTenant(ctx, s.db.Read, sc, false)
	if err != nil {
		return err
	}
	if err := readable(ti.state); err != nil {
		return err
	}
	handle := s.db.Read
	if sc.file != "" {
		db, release, err := s.silo(sc.file)
		if err != nil {
			return err
		}
		defer release()
		handle = db
	}
	// One connection for all of fn's statements: a search keeps its
	// snippet windows in a temporary table of the connection.
	conn, err := handle.Conn(ctx)
	if err != nil {
		return fmt.Errorf("read connection: %w", err)
	}
	defer conn.Close()
	return fn(ctx, conn, ti)
}

// Page asks for a page of documents, newest first.
type Page struct {
	// After and Before are cursors from an earlier page.
	After, Before *Cursor
	First, Last   *int
}

// Cursor is a position in the newest-first order of documents.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// DocumentPage is a page of documents.
type DocumentPage struct {
	Documents       []*Document
	HasNextPage     bool
	HasPreviousPage bool
	TotalCount      int64
}

// Documents returns a page of the tenant's documents, newest first.
//
// Returns FORBIDDEN for a tenant whose data cannot be read, INVALID_INPUT for
// a bad page size.
func (s *Service) Documents(ctx context.Context, tenantID uuid.UUID, p Page) (*DocumentPage, error) {
	n := 20
	backward := p.Last != nil && p.First == nil
	switch {
	case p.First != nil:
		n = *p.First
	case p.Last != nil:
		n = *p.Last
	}
	if n < 0 || n > 100 {
		return nil, tenantd.Invalid("first", "a page holds 0 to 100 documents, not %d", n)
	}
	sc, err := s.scopeOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	page := &DocumentPage{}
	err = s.read(ctx, sc, func(ctx context.Context, q querier, ti *tenantInfo) error {
		where, args := []string{"tenant_id = ?"}, []any{tenantID}
		if p.After != nil {
			where, args = append(where, "(created_at < ? OR (created_at = ? AND id < ?))"), append(args, p.After.CreatedAt, p.After.CreatedAt, p.After.ID)
		}
		if p.Before != nil {
			where, args = append(where, "(created_at > ? OR (created_at = ? AND id > ?))"), append(args, p.Before.CreatedAt, p.Before.CreatedAt, p.Before.ID)
		}
		order := "created_at DESC, id DESC"
		if backward {
			order = "created_at ASC, id ASC"
		}
		rows, err := q.QueryContext(ctx, sc.q(`SELECT id, tenant_id, title, '', size_bytes, created_at FROM `+
			sc.table("documents")+` WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`), append(args, n+1)...)
		if err != nil {
			return fmt.Errorf("list documents: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDocument(rows)
			if err != nil {
				return err
			}
			page.Documents = append(page.Documents, d)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		more := len(page.Documents) > n
		if more {
			page.Documents = page.Documents[:n]
		}
		if backward {
			for i, j := 0, len(page.Documents)-1; i < j; i, j = i+1, j-1 {
				page.Documents[i], page.Documents[j] = page.Documents[j], page.Documents[i]
			}
			page.HasPreviousPage, page.HasNextPage = more, p.Before != nil
		} else {
			page.HasNextPage, page.HasPreviousPage = more, p.After != nil
		}
		u, err := s.readUsage(ctx, q, sc, ti)
		if err != nil {
			return err
		}
		page.TotalCount = u.Documents
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanDocument(r scanner, extra ...any) (*Document, error) {
	d := &Document{}
	var created any
	if err := r.Scan(append([]any{&d.ID, &d.TenantID, &d.Title, &d.Content, &d.SizeBytes, &created}, extra...)...); err != nil {
		return nil, fmt.Errorf("read document: %w", err)
	}
	t, err := asTime(created)
	if err != nil {
		return nil, err
	}
	d.CreatedAt = t
	return d, nil
}

// asTime reads a timestamp column: time.Time from PostgreSQL, and from
// SQLite either time.Time (declared DATETIME) or the text it was stored as.
func asTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC(), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("unreadable timestamp %v", v)
}

// Get returns one of the tenant's documents, with its content.
//
// Returns NOT_FOUND if the tenant has no such document, FORBIDDEN for a
// tenant whose data cannot be read.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (*Document, error) {
	return s.get(ctx, tenantID, id, true)
}

// Head is Get without the content (HasContent false).
func (s *Service) Head(ctx context.Context, tenantID, id uuid.UUID) (*Document, error) {
	return s.get(ctx, tenantID, id, false)
}

func (s *Service) get(ctx context.Context, tenantID, id uuid.UUID, withContent bool) (*Document, error) {
	content := "''"
	if withContent {
		content = "content"
	}
	sc, err := s.scopeOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var d *Document
	err = s.read(ctx, sc, func(ctx context.Context, q querier, _ *tenantInfo) error {
		row := q.QueryRowContext(ctx, sc.q(`SELECT id, tenant_id, title, `+content+`, size_bytes, created_at FROM `+
			sc.table("documents")+` WHERE tenant_id = ? AND id = ?`), tenantID, id)
		var err error
		d, err = scanDocument(row)
		if errors.Is(err, sql.ErrNoRows) {
			return tenantd.Errorf(tenantd.ENOTFOUND, "no document with id %s", id)
		}
		if d != nil {
			d.HasContent = withContent
		}
		return err
	})
	return d, err
}
