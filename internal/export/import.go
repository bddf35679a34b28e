package export

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/milestone"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/provisioning"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// Limits of what an import reads: they bound its memory whatever the
// archive claims.
const (
	// maxSmallFile bounds manifest.json and tenant.json.
	maxSmallFile = 1 << 20
	// maxRecordBytes bounds one record (a line, a CSV row): the largest
	// document tenantd accepts (256 MiB) escaped, and some.
	maxRecordBytes = 600 << 20
	// importBatchBytes and importBatchRows bound one write of the import.
	importBatchBytes = 4 << 20
	importBatchRows  = 256
)

// ImportOptions tune an import.
type ImportOptions struct {
	// Slug is the new tenant's slug; "" keeps the archive's.
	Slug string
	// Actor is who imports, for the audit trail (default: tenantd's CLI).
	Actor lifecycle.Actor
}

// ImportResult is what an import made.
type ImportResult struct {
	// Tenant is the new tenant, ACTIVE.
	Tenant *ent.Tenant
	// SourceTenantID is the tenant the archive was exported from.
	SourceTenantID uuid.UUID
	// APIKey is the new tenant's owner key, shown once.
	APIKey   string
	APIKeyID uuid.UUID
	// What was written.
	Documents  int64
	QueryLog   int64
	Milestones int64
	Manifest   *Manifest
}

// archiveError is a refusal of the archive, naming the file at fault.
func archiveError(file, format string, args ...any) error {
	e := tenantd.Invalid("archive", "%s: "+format, append([]any{file}, args...)...)
	e.Extra = map[string]any{"file": file}
	return e
}

// ImportFile is Import of the archive at path (an upload, the CLI's file).
func (s *Service) ImportFile(ctx context.Context, path string, opts ImportOptions) (*ImportResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, tenantd.Invalid("archive", "cannot open the archive: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return s.Import(ctx, f, st.Size(), opts)
}

// Import makes a new tenant from an export archive. It first checks the
// archive whole — every file the manifest lists is there, with the
// manifest's byte count, record count and SHA-256, and nothing else is —
// and refuses it, writing nothing, if any check fails. Then it creates the
// tenant through the lifecycle (signup, provision) on the archive's plan,
// provisions its workspace, writes the documents and the query log in
// batches as it reads them (new ids; titles, content and times as they
// were), the activation milestones, a signing key and an owner API key,
// and activates it. It reads the archive one record at a time.
//
// The new tenant has no billing subscription: the archive's billing
// references belong to the tenant it came from.
//
// Returns INVALID_INPUT (field "archive", naming the file, for an archive
// that is not a complete, untampered export of a format version this
// tenantd reads; field "slug" for a slug that is not valid or is taken).
func (s *Service) Import(ctx context.Context, r io.ReaderAt, size int64, opts ImportOptions) (*ImportResult, error) {
	if opts.Actor.Name == "" {
		opts.Actor = lifecycle.Actor{By: tenantd.TriggerSystem, Name: "cli:import"}
	}
	ar, err := openArchive(r, size)
	if err != nil {
		return nil, err
	}
	if err := ar.verify(); err != nil {
		return nil, err
	}
	var profile TenantRecord
	if err := ar.decodeSmall(FileTenant, &profile); err != nil {
		return nil, err
	}
	in := &importRun{s: s, ar: ar, opts: opts, profile: profile}
	if err := in.check(ctx); err != nil {
		return nil, err
	}
	if err := in.create(ctx); err != nil {
		return nil, err
	}
	if err := in.fill(ctx); err != nil {
		// The tenant exists but is not whole: it is PROVISIONING_FAILED,
		// for an admin to delete, and the error names it.
		bctx := context.WithoutCancel(ctx)
		if _, ferr := s.machine.Fire(tenantd.SystemContext(bctx), lifecycle.Request{TenantID: in.id, Event: tenantd.EventFail,
			Actor: lifecycle.Actor{By: tenantd.TriggerSystem, Name: "import"}, Reason: "the import did not finish"}); ferr != nil {
			s.log.Error("mark a failed import", "tenant", in.id, "err", ferr)
		}
		s.log.Error("import failed after the tenant was created", "tenant", in.id, "err", err)
		if te := tenantd.AsError(err); te.Code != tenantd.EINTERNAL {
			return nil, &tenantd.Error{Code: te.Code, Field: te.Field, Extra: te.Extra,
				Message: fmt.Sprintf("%s (tenant %s was created and is PROVISIONING_FAILED)", te.Message, in.id)}
		}
		return nil, fmt.Errorf("import into tenant %s: %w", in.id, err)
	}
	t, err := s.db.Ent.Tenant.Get(tenantd.SystemContext(ctx), in.id)
	if err != nil {
		return nil, err
	}
	s.log.Info("tenant imported", "tenant", in.id, "from", profile.ID, "documents", in.res.Documents, "queries", in.res.QueryLog, "actor", opts.Actor.Name)
	in.res.Tenant, in.res.SourceTenantID, in.res.Manifest = t, profile.ID, ar.manifest
	return &in.res, nil
}

// archive is an opened export archive.
type archive struct {
	zr       *zip.Reader
	files    map[string]*zip.File
	manifest *Manifest
	listed   map[string]File
}

func openArchive(r io.ReaderAt, size int64) (*archive, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, tenantd.Invalid("archive", "the archive is not a complete ZIP file (truncated or damaged?): %v", err)
	}
	ar := &archive{zr: zr, files: map[string]*zip.File{}}
	for _, f := range zr.File {
		if _, dup := ar.files[f.Name]; dup {
			return nil, archiveError(f.Name, "the archive holds two files of this name")
		}
		ar.files[f.Name] = f
	}
	var m Manifest
	if err := ar.decodeSmall(FileManifest, &m); err != nil {
		return nil, err
	}
	if m.FormatVersion != FormatVersion {
		return nil, archiveError(FileManifest, "format version %d; this tenantd reads version %d", m.FormatVersion, FormatVersion)
	}
	if m.Format != JSON && m.Format != CSV {
		return nil, archiveError(FileManifest, "unknown format %q", m.Format)
	}
	ar.manifest = &m
	ar.listed = map[string]File{}
	for _, f := range m.Files {
		if _, dup := ar.listed[f.Name]; dup {
			return nil, archiveError(FileManifest, "lists %s twice", f.Name)
		}
		ar.listed[f.Name] = f
	}
	want := []string{FileTenant}
	for _, base := range recordFiles {
		want = append(want, FileName(base, m.Format))
	}
	for _, name := range want {
		if _, ok := ar.listed[name]; !ok {
			return nil, archiveError(FileManifest, "does not list %s", name)
		}
		if _, ok := ar.files[name]; !ok {
			return nil, archiveError(name, "listed in the manifest but missing from the archive (truncated?)")
		}
	}
	for name := range ar.files {
		if _, ok := ar.listed[name]; !ok && name != FileManifest {
			return nil, archiveError(name, "not listed in the manifest")
		}
	}
	for name := range ar.listed {
		if !slices.Contains(want, name) {
			return nil, archiveError(FileManifest, "lists %s, which is not a file of a %s archive", name, m.Format)
		}
	}
	return ar, nil
}

// decodeSmall decodes a JSON file of at most maxSmallFile bytes.
func (ar *archive) decodeSmall(name string, v any) error {
	f, ok := ar.files[name]
	if !ok {
		return archiveError(name, "missing from the archive (truncated, or not a tenantd export?)")
	}
	rc, err := f.Open()
	if err != nil {
		return archiveError(name, "cannot be read: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSmallFile+1))
	if err != nil {
		return archiveError(name, "cannot be read (damaged?): %v", err)
	}
	if len(b) > maxSmallFile {
		return archiveError(name, "larger than %d bytes", maxSmallFile)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return archiveError(name, "not valid JSON: %v", err)
	}
	return nil
}

// checked reads a file of the archive, checking it against the manifest
// as it goes: Close reports a difference in bytes, records or SHA-256.
type checked struct {
	name   string
	want   File
	rc     io.ReadCloser
	sum    hash.Hash
	n      int64
	format Format
}

func (ar *archive) open(name string) (*checked, error) {
	want := ar.listed[name]
	rc, err := ar.files[name].Open()
	if err != nil {
		return nil, archiveError(name, "cannot be read: %v", err)
	}
	return &checked{name: name, want: want, rc: rc, sum: sha256.New(), format: ar.manifest.Format}, nil
}

func (c *checked) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.sum.Write(p[:n])
	c.n += int64(n)
	if c.n > c.want.Bytes {
		return n, archiveError(c.name, "longer than the %d bytes the manifest gives", c.want.Bytes)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		var te *tenantd.Error
		if errors.As(err, &te) {
			return n, err
		}
		return n, archiveError(c.name, "cannot be read (tampered or damaged: %v)", err)
	}
	return n, err
}

// finish compares what was read with the manifest.
func (c *checked) finish(records int64) error {
	c.rc.Close()
	switch got := hex.EncodeToString(c.sum.Sum(nil)); {
	case c.n != c.want.Bytes:
		return archiveError(c.name, "%d bytes, the manifest gives %d (truncated or tampered)", c.n, c.want.Bytes)
	case got != c.want.SHA256:
		return archiveError(c.name, "its SHA-256 is %s, the manifest gives %s (tampered or damaged)", got, c.want.SHA256)
	case records != c.want.Records:
		return archiveError(c.name, "%d records, the manifest gives %d", records, c.want.Records)
	}
	return nil
}

// verify reads every listed file whole and checks it.
func (ar *archive) verify() error {
	for _, f := range ar.manifest.Files {
		c, err := ar.open(f.Name)
		if err != nil {
			return err
		}
		var records int64
		if f.Name == FileTenant {
			if _, err := io.Copy(io.Discard, c); err != nil {
				c.rc.Close()
				return asArchiveError(f.Name, err)
			}
			records = 1
		} else {
			err = eachRecord(c, ar.manifest.Format, headers[baseOf(f.Name)], func([]byte, []string) error { records++; return nil })
			if err != nil {
				c.rc.Close()
				return asArchiveError(f.Name, err)
			}
		}
		if err := c.finish(records); err != nil {
			return err
		}
	}
	return nil
}

func asArchiveError(name string, err error) error {
	var te *tenantd.Error
	if errors.As(err, &te) {
		return err
	}
	return archiveError(name, "cannot be read: %v", err)
}

// bounded fails a read once more than max bytes have been read since the
// last reset: what keeps one record of a hostile archive from filling the
// memory.
type bounded struct {
	r   io.Reader
	n   int64
	max int64
}

func (b *bounded) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return n, fmt.Errorf("a record longer than %d bytes", b.max)
	}
	return n, err
}

// eachRecord calls fn with each record of a record file: the line of a
// .jsonl file (without its newline) or the cells of a .csv row (after the
// header, which must be the file's). The slices are reused by the next
// call.
func eachRecord(r io.Reader, format Format, header []string, fn func(line []byte, cells []string) error) error {
	b := &bounded{r: r, max: maxRecordBytes}
	if format == CSV {
		cr := csv.NewReader(bufio.NewReaderSize(crGuard{b}, 64<<10))
		cr.ReuseRecord = true
		first := true
		for {
			row, err := cr.Read()
			if errors.Is(err, io.EOF) {
				if first {
					return errors.New("no header row")
				}
				return nil
			}
			if err != nil {
				return err
			}
			b.n = 0
			if first {
				if !slices.Equal(row, header) {
					return fmt.Errorf("the header is %q, want %q", row, header)
				}
				first = false
				continue
			}
			for i, c := range row {
				if strings.IndexByte(c, crStandIn) >= 0 {
					row[i] = strings.ReplaceAll(c, string([]byte{crStandIn}), "\r")
				}
			}
			if err := fn(nil, row); err != nil {
				return err
			}
		}
	}
	br := bufio.NewReaderSize(b, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, chunk...)
			continue
		case errors.Is(err, io.EOF):
			if len(line)+len(chunk) > 0 {
				return errors.New("the last record is not ended by a newline (truncated?)")
			}
			return nil
		case err != nil:
			return err
		}
		if len(line) > 0 {
			line = append(line, chunk...)
			chunk = line
		}
		b.n = 0
		if err := fn(bytes.TrimSuffix(chunk, []byte{'\n'}), nil); err != nil {
			return err
		}
		line = line[:0]
	}
}

// crStandIn stands for a carriage return while encoding/csv reads a file:
// its reader turns \r\n into \n even inside a quoted cell, which would
// change a document's text. 0xFF never occurs in UTF-8, so it cannot stand
// for anything else.
const crStandIn = 0xFF

// crGuard replaces every \r read with crStandIn.
type crGuard struct{ r io.Reader }

func (g crGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for i := range p[:n] {
		if p[i] == '\r' {
			p[i] = crStandIn
		}
	}
	return n, err
}

// importRun is one import under way.
type importRun struct {
	s       *Service
	ar      *archive
	opts    ImportOptions
	profile TenantRecord
	plan    *ent.Plan
	slug    string
	id      uuid.UUID
	ws      wsdriver.Placement
	res     ImportResult
}

// check validates the new tenant before anything is written.
func (in *importRun) check(ctx context.Context) error {
	sys := tenantd.SystemContext(ctx)
	p := in.profile
	in.slug = in.opts.Slug
	if in.slug == "" {
		in.slug = p.Slug
	}
	if err := provisioning.CheckSlug(in.slug); err != nil {
		return err
	}
	if err := tenantd.CheckLine("name", p.Name, 200); err != nil {
		return archiveError(FileTenant, "%s", tenantd.ErrorMessage(err))
	}
	if err := tenantd.CheckLine("email", p.Email, 254); err != nil {
		return archiveError(FileTenant, "%s", tenantd.ErrorMessage(err))
	}
	plan, err := plans.ByKey(sys, in.s.db.Ent, p.Plan)
	if err != nil {
		return archiveError(FileTenant, "the plan %q is not one of this tenantd's", p.Plan)
	}
	in.plan = plan
	taken, err := in.s.db.Ent.Tenant.Query().Where(tenant.Slug(in.slug)).Exist(sys)
	if err != nil {
		return fmt.Errorf("check slug: %w", err)
	}
	if taken {
		return tenantd.Invalid("slug", "the slug %q is taken; import with another slug (--slug)", in.slug)
	}
	return nil
}

// create makes the tenant (signup, provision) and its workspace, in one
// transaction.
func (in *importRun) create(ctx context.Context) error {
	s, p := in.s, in.profile
	sum := sha256.Sum256([]byte(in.slug))
	return s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		sys := tenantd.SystemContext(ctx)
		created, err := s.machine.CreateTx(ctx, tx, lifecycle.NewTenant{
			Name: p.Name, Slug: in.slug, SlugHash: hex.EncodeToString(sum[:]), Email: p.Email, PlanID: in.plan.ID,
			// Signup is a user's event: the importer is named in the actor.
			Actor:    lifecycle.Actor{By: tenantd.TriggerUser, Name: "import:" + in.opts.Actor.Name},
			Reason:   "imported from an export archive",
			Metadata: map[string]any{"importedFrom": p.ID.String(), "exportId": in.ar.manifest.ExportID.String(), "plan": in.plan.Key},
		})
		if err != nil {
			return err
		}
		in.id = created.Tenant.ID
		actor := in.opts.Actor
		if actor.By != tenantd.TriggerAdmin {
			actor.By = tenantd.TriggerSystem
		}
		if _, err := s.machine.FireTx(sys, tx, lifecycle.Request{TenantID: in.id, Event: tenantd.EventProvision,
			Actor: actor, Reason: "import"}); err != nil {
			return err
		}
		w, err := s.ws.CreateTx(ctx, tx, in.id, in.plan.Isolation)
		if err != nil {
			return err
		}
		in.ws = wsdriver.Placement{TenantID: in.id, Isolation: w.Isolation, Location: w.Location}
		return auth.EnsureSigningKey(sys, tx.Ent, in.id)
	})
}

// fill writes the data and activates the tenant.
func (in *importRun) fill(ctx context.Context) error {
	s := in.s
	if err := in.documents(ctx); err != nil {
		return err
	}
	if err := in.queryLog(ctx); err != nil {
		return err
	}
	ms, err := in.milestones()
	if err != nil {
		return err
	}
	var bytes int64
	err = s.ws.WriteAt(ctx, nil, in.ws, func(ctx context.Context, tx wsdriver.Tx) error {
		c, err := tx.Count(ctx)
		if err != nil {
			return err
		}
		bytes = c.Bytes
		u := in.profile.Usage
		return tx.SetUsage(ctx, wsdriver.Counters{Documents: c.Documents, Bytes: c.Bytes, Queries: u.Queries, QueryMonth: u.QueryMonth})
	})
	if err != nil {
		return fmt.Errorf("set usage: %w", err)
	}
	return s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		sys := tenantd.SystemContext(ctx)
		for _, m := range ms {
			// The rows alone: an imported tenant is not a new signup of the
			// activation funnel.
			if err := tx.Ent.Milestone.Create().SetTenantID(in.id).SetName(milestone.Name(m.Name)).
				SetOccurredAt(m.OccurredAt.UTC().Truncate(time.Microsecond)).Exec(sys); err != nil {
				return fmt.Errorf("record milestone %s: %w", m.Name, err)
			}
		}
		secret, key, err := auth.IssueAPIKey(ctx, tx.Ent, in.id, "owner", "import:"+in.opts.Actor.Name)
		if err != nil {
			return err
		}
		in.res.APIKey, in.res.APIKeyID, in.res.Milestones = secret, key.ID, int64(len(ms))
		_, err = s.machine.FireTx(sys, tx, lifecycle.Request{TenantID: in.id, Event: tenantd.EventActivate,
			Actor:    lifecycle.Actor{By: tenantd.TriggerSystem, Name: "import"},
			Metadata: map[string]any{"documents": in.res.Documents, "documentBytes": bytes, "queryLog": in.res.QueryLog}})
		return err
	})
}

// records reads the record file base, checking it against the manifest
// again as it goes (the archive is read a second time), and calls fn with
// each record decoded into a fresh value.
func (in *importRun) records(base string, fn func(line []byte, cells []string) error) error {
	name := FileName(base, in.ar.manifest.Format)
	c, err := in.ar.open(name)
	if err != nil {
		return err
	}
	var n int64
	err = eachRecord(c, in.ar.manifest.Format, headers[base], func(line []byte, cells []string) error {
		n++
		return fn(line, cells)
	})
	if err != nil {
		c.rc.Close()
		return asArchiveError(name, err)
	}
	return c.finish(n)
}

// baseOf is the base name of a record file ("documents.csv" → "documents").
func baseOf(name string) string {
	for _, b := range recordFiles {
		if name == b+".csv" || name == b+".jsonl" {
			return b
		}
	}
	return ""
}

// cells maps a CSV row of file base to its header's names.
func cells(base string, row []string) (map[string]string, error) {
	h := headers[base]
	if len(row) != len(h) {
		return nil, fmt.Errorf("a row of %d cells, the header has %d", len(row), len(h))
	}
	m := make(map[string]string, len(h))
	for i, k := range h {
		m[k] = row[i]
	}
	return m, nil
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func (in *importRun) flush(ctx context.Context, b *wsdriver.Batch) error {
	if len(b.Documents)+len(b.QueryLog) == 0 {
		return nil
	}
	err := in.s.ws.WriteAt(ctx, nil, in.ws, func(ctx context.Context, tx wsdriver.Tx) error { return tx.WriteBatch(ctx, *b) })
	*b = wsdriver.Batch{}
	return err
}

func (in *importRun) documents(ctx context.Context) error {
	var (
		batch wsdriver.Batch
		bytes int64
	)
	name := FileName(Documents, in.ar.manifest.Format)
	err := in.records(Documents, func(line []byte, row []string) error {
		var d DocumentRecord
		if row != nil {
			m, err := cells(Documents, row)
			if err != nil {
				return err
			}
			if d.CreatedAt, err = parseTime(m["createdAt"]); err != nil {
				return archiveError(name, "createdAt: %v", err)
			}
			d.Title, d.Content = m["title"], m["content"]
		} else if err := json.Unmarshal(line, &d); err != nil {
			return archiveError(name, "record %d: %v", in.res.Documents+1, err)
		}
		batch.Documents = append(batch.Documents, &wsdriver.Document{ID: uuid.Must(uuid.NewV7()), TenantID: in.id,
			Title: d.Title, Content: d.Content, HasContent: true, SizeBytes: int64(len(d.Content)), CreatedAt: d.CreatedAt.UTC()})
		bytes += int64(len(d.Content))
		in.res.Documents++
		if len(batch.Documents) >= importBatchRows || bytes >= importBatchBytes {
			bytes = 0
			return in.flush(ctx, &batch)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return in.flush(ctx, &batch)
}

func (in *importRun) queryLog(ctx context.Context) error {
	var batch wsdriver.Batch
	name := FileName(QueryLog, in.ar.manifest.Format)
	err := in.records(QueryLog, func(line []byte, row []string) error {
		var q QueryRecord
		if row != nil {
			m, err := cells(QueryLog, row)
			if err != nil {
				return err
			}
			if q.CreatedAt, err = parseTime(m["createdAt"]); err != nil {
				return archiveError(name, "createdAt: %v", err)
			}
			if q.Hits, err = strconv.Atoi(m["hits"]); err != nil {
				return archiveError(name, "hits: %v", err)
			}
			q.Query = m["query"]
		} else if err := json.Unmarshal(line, &q); err != nil {
			return archiveError(name, "record %d: %v", in.res.QueryLog+1, err)
		}
		batch.QueryLog = append(batch.QueryLog, &wsdriver.QueryLogEntry{ID: uuid.Must(uuid.NewV7()), TenantID: in.id,
			Query: q.Query, Hits: q.Hits, CreatedAt: q.CreatedAt.UTC()})
		in.res.QueryLog++
		if len(batch.QueryLog) >= 1000 {
			return in.flush(ctx, &batch)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return in.flush(ctx, &batch)
}

func (in *importRun) milestones() ([]MilestoneRecord, error) {
	var out []MilestoneRecord
	name := FileName(Milestones, in.ar.manifest.Format)
	err := in.records(Milestones, func(line []byte, row []string) error {
		var m MilestoneRecord
		if row != nil {
			c, err := cells(Milestones, row)
			if err != nil {
				return err
			}
			if m.OccurredAt, err = parseTime(c["occurredAt"]); err != nil {
				return archiveError(name, "occurredAt: %v", err)
			}
			m.Name = c["name"]
		} else if err := json.Unmarshal(line, &m); err != nil {
			return archiveError(name, "%v", err)
		}
		if milestone.NameValidator(milestone.Name(m.Name)) != nil {
			return archiveError(name, "unknown milestone %q", m.Name)
		}
		for _, o := range out {
			if o.Name == m.Name {
				return archiveError(name, "milestone %q twice", m.Name)
			}
		}
		if len(out) >= 16 {
			return archiveError(name, "more milestones than there are")
		}
		out = append(out, m)
		return nil
	})
	return out, err
}
