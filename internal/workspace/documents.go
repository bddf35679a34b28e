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
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// Document is one document of a tenant's workspace. Lists and search hits
// leave its content out (a page of 100 documents of 10 MiB would be a
// gigabyte in memory): Content holds the whole text only when HasContent
// says so (Get, Upload); ask Get for it otherwise.
type Document wsdriver.Document

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
	now := s.now()
	doc := &Document{ID: schema.NewID(), TenantID: tenantID, Title: strings.TrimSpace(title), Content: content,
		HasContent: true, SizeBytes: int64(len(content)), CreatedAt: now}
	var (
		usage  *Usage
		inMain bool
	)
	err := s.write(ctx, tenantID, func(ctx context.Context, tx wsdriver.Tx, tenants querier) error {
		ti, err := s.router.tenant(ctx, tenants, tenantID, true)
		if err != nil {
			return err
		}
		if err := writable(ti.state); err != nil {
			return err
		}
		c, ok, err := tx.ReserveUpload(ctx, doc.SizeBytes, limitOr(ti.maxDocs), limitOr(ti.maxBytes))
		if err != nil {
			return err
		}
		if !ok {
			return s.uploadQuotaError(ctx, tx, ti, doc.SizeBytes)
		}
		usage = usageOf(c, ti, now)
		if err := tx.InsertDocument(ctx, (*wsdriver.Document)(doc)); err != nil {
			return err
		}
		if main := tx.Main(); main != nil {
			inMain = true
			_, err = analytics.RecordTx(ctx, main, tenantID, analytics.FirstUpload, now, s.cfg.ActivationWindow)
		}
		return err
	})
	if err != nil {
		return nil, nil, s.refuse(ctx, tenantID, err)
	}
	if !inMain {
		s.recordAfter(ctx, tenantID, analytics.FirstUpload, now)
	}
	return doc, usage, nil
}

// recordAfter records a milestone of a tenant whose act committed in its
// own database file: the main database cannot share that transaction, so
// the milestone follows it (and is idempotent).
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

func (s *Service) uploadQuotaError(ctx context.Context, r wsdriver.Reader, ti *tenantInfo, size int64) error {
	u, err := s.readUsage(ctx, r, ti)
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

func usageOf(c wsdriver.Counters, ti *tenantInfo, now time.Time) *Usage {
	return &Usage{Documents: c.Documents, Bytes: c.Bytes, QueriesThisMonth: monthQueries(c.QueryMonth, c.Queries, now),
		MaxDocuments: ti.maxDocs, MaxBytes: ti.maxBytes, MaxQueriesPerMonth: ti.maxQuery}
}

func (s *Service) readUsage(ctx context.Context, r wsdriver.Reader, ti *tenantInfo) (*Usage, error) {
	c, err := r.Usage(ctx)
	if err != nil {
		return nil, err
	}
	return usageOf(c, ti, s.now()), nil
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
	var u *Usage
	err := s.read(ctx, tenantID, 0, func(ctx context.Context, r wsdriver.Reader, ti *tenantInfo) error {
		var err error
		u, err = s.readUsage(ctx, r, ti)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// write runs fn in a write transaction of the tenant's workspace, routed by
// the placement committed when the write passes the tenant's cutover gate,
// which it holds until it commits. tenants is where fn reads the tenants
// and plans tables: the main-database transaction when the workspace
// writes in one, else outside any transaction.
func (s *Service) write(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, tx wsdriver.Tx, tenants querier) error) error {
	if s.gateHook != nil {
		s.gateHook(tenantID, "arrive")
	}
	err := s.router.write(ctx, tenantID, func(ctx context.Context, main *store.Tx, q querier, p *Placement) error {
		if s.gateHook != nil {
			s.gateHook(tenantID, "pass")
		}
		d, err := s.driverOf(p.Placement)
		if err != nil {
			return err
		}
		return d.Write(ctx, main, p.Placement, func(ctx context.Context, tx wsdriver.Tx) error {
			if p.Target != nil {
				// A move is copying the workspace: what this write adds
				// goes in the change log too (see move.go).
				tx.TrackChanges()
			}
			tenants := q
			if m := tx.Main(); m != nil {
				tenants = m.SQL
			}
			return fn(ctx, tx, tenants)
		})
	})
	return s.explain(ctx, tenantID, err)
}

// read runs fn for a tenant whose data may be read, on a read of its
// workspace routed by the committed placement (see wsdriver.Driver.View):
// in a transaction bound to the tenant on PostgreSQL; on SQLite outside
// any transaction, beside the writer. A positive timeout bounds fn
// (wsdriver.ViewOptions).
func (s *Service) read(ctx context.Context, tenantID uuid.UUID, timeout time.Duration, fn func(ctx context.Context, r wsdriver.Reader, ti *tenantInfo) error) error {
	for attempt := 1; ; attempt++ {
		generation, err := s.readOnce(ctx, tenantID, timeout, fn)
		if attempt == maxReadAttempts || ctx.Err() != nil {
			if errors.Is(err, errSwitched) {
				return tenantd.Errorf(tenantd.ECONFLICT, "the workspace moved %d times during this read; try again", attempt)
			}
			return err
		}
		switch {
		case errors.Is(err, errSwitched):
			// A move switched the placement while this read was on the
			// old one, which may have been emptied meanwhile (a pool's
			// rows are deleted, not dropped: the read sees nothing and
			// no error): read again, at the new one.
			continue
		case err != nil && generation > 0 && tenantd.ErrorCode(err) == tenantd.EINTERNAL:
			// The same, when the old copy was dropped under the read (a
			// silo's schema or file is gone).
			if p, perr := s.Placement(ctx, tenantID); perr == nil && p.Generation != generation {
				continue
			}
		}
		return err
	}
}

// maxReadAttempts bounds the reads again of a read that a move's switch
// overtook; two moves within one read are already rare.
const maxReadAttempts = 3

// errSwitched: the placement a read used is no longer the committed one.
var errSwitched = errors.New("the workspace switched placement during the read")

// readOnce is read at the placement committed now; it returns that
// placement's generation (0 if it read none), and errSwitched when the
// placement changed before the read ended. The check after the read is
// what makes the result trustworthy at any source grace: if the placement
// read afterwards is still the one the read used, no switch committed
// before the read's last statement, and a source is only destroyed after
// its switch.
func (s *Service) readOnce(ctx context.Context, tenantID uuid.UUID, timeout time.Duration, fn func(ctx context.Context, r wsdriver.Reader, ti *tenantInfo) error) (int, error) {
	generation := 0
	err := s.router.read(ctx, tenantID, func(ctx context.Context, main *store.Tx, q querier, p *Placement) error {
		generation = p.Generation
		ti, err := s.router.tenant(ctx, q, tenantID, false)
		if err != nil {
			return err
		}
		if err := readable(ti.state); err != nil {
			return err
		}
		d, err := s.driverOf(p.Placement)
		if err != nil {
			return err
		}
		err = d.View(ctx, main, p.Placement, wsdriver.ViewOptions{Timeout: timeout}, func(ctx context.Context, r wsdriver.Reader) error {
			return fn(ctx, r, ti)
		})
		if err != nil {
			return err
		}
		now, err := s.router.placement(ctx, q, tenantID)
		if err != nil {
			return err
		}
		if now.Generation != p.Generation {
			return errSwitched
		}
		return nil
	})
	if errors.Is(err, errSwitched) {
		return generation, err
	}
	return generation, s.explain(ctx, tenantID, err)
}

// explain turns a missing workspace into why the tenant has none to use.
func (s *Service) explain(ctx context.Context, tenantID uuid.UUID, err error) error {
	if !errors.Is(err, errNoPlacement) {
		return s.refuse(ctx, tenantID, err)
	}
	t, terr := s.db.Ent.Tenant.Get(tenantd.SystemContext(ctx), tenantID)
	if terr != nil {
		return tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", tenantID)
	}
	if gate := lifecycle.CanReadTenant(t); gate != nil {
		return gate
	}
	return err
}

// refuse names the purge date in the refusal of a tenant that is
// PENDING_DELETION (a rare path: it reads the tenant again).
func (s *Service) refuse(ctx context.Context, tenantID uuid.UUID, gate error) error {
	if tenantd.ErrorCode(gate) != tenantd.EFORBIDDEN {
		return gate
	}
	if t, err := s.db.Ent.Tenant.Get(tenantd.SystemContext(ctx), tenantID); err == nil && t.State == tenantd.StatePendingDeletion {
		return lifecycle.CanReadTenant(t)
	}
	return gate
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
	page := &DocumentPage{}
	err := s.read(ctx, tenantID, 0, func(ctx context.Context, r wsdriver.Reader, ti *tenantInfo) error {
		lp := wsdriver.ListParams{Backward: backward, Limit: n + 1}
		if p.After != nil {
			lp.After = (*wsdriver.Cursor)(p.After)
		}
		if p.Before != nil {
			lp.Before = (*wsdriver.Cursor)(p.Before)
		}
		docs, err := r.ListDocuments(ctx, lp)
		if err != nil {
			return err
		}
		for _, d := range docs {
			page.Documents = append(page.Documents, (*Document)(d))
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
		u, err := s.readUsage(ctx, r, ti)
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
	var d *Document
	err := s.read(ctx, tenantID, 0, func(ctx context.Context, r wsdriver.Reader, _ *tenantInfo) error {
		doc, err := r.Document(ctx, id, withContent)
		if errors.Is(err, wsdriver.ErrNotFound) {
			return tenantd.Errorf(tenantd.ENOTFOUND, "no document with id %s", id)
		}
		if err != nil {
			return err
		}
		d = (*Document)(doc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
