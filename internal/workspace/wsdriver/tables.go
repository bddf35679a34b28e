package wsdriver

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd/internal/store"
)

// tables is the SQL both dialects share over one workspace's three tables
// (documents, query_log, workspace_usage): the implementations embed it and
// add what differs (search, where the tables are).
type tables struct {
	q        Querier
	tenantID uuid.UUID
	prefix   string // "public." or `"ws_…".` on PostgreSQL, "" on SQLite
	dollar   bool   // PostgreSQL's $n placeholders instead of ?
	main     *store.Tx
	track    bool // InsertDocument and LogQuery also write the change log
}

// table returns the qualified name of a workspace table.
func (t *tables) table(name string) string { return t.prefix + name }

// sql rewrites ? placeholders for PostgreSQL.
func (t *tables) sql(query string) string {
	if !t.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (t *tables) Querier() Querier { return t.q }

func (t *tables) Main() *store.Tx { return t.main }

func (t *tables) Usage(ctx context.Context) (Counters, error) {
	var c Counters
	err := t.q.QueryRowContext(ctx, t.sql(`SELECT documents, bytes, queries, query_month FROM `+t.table("workspace_usage")+` WHERE tenant_id = ?`),
		t.tenantID).Scan(&c.Documents, &c.Bytes, &c.Queries, &c.QueryMonth)
	if isNoRows(err) {
		return Counters{}, nil
	}
	if err != nil {
		return Counters{}, fmt.Errorf("read usage: %w", err)
	}
	return c, nil
}

func (t *tables) ReserveUpload(ctx context.Context, size, maxDocuments, maxBytes int64) (Counters, bool, error) {
	var c Counters
	err := t.q.QueryRowContext(ctx, t.sql(`UPDATE `+t.table("workspace_usage")+`
		SET documents = documents + 1, bytes = bytes + ?
		WHERE tenant_id = ? AND documents + 1 <= ? AND bytes + ? <= ?
		RETURNING documents, bytes, queries, query_month`),
		size, t.tenantID, maxDocuments, size, maxBytes).Scan(&c.Documents, &c.Bytes, &c.Queries, &c.QueryMonth)
	if isNoRows(err) {
		return Counters{}, false, nil
	}
	if err != nil {
		return Counters{}, false, fmt.Errorf("count usage: %w", err)
	}
	return c, true, nil
}

func (t *tables) InsertDocument(ctx context.Context, d *Document) error {
	_, err := t.q.ExecContext(ctx, t.sql(`INSERT INTO `+t.table("documents")+
		` (id, tenant_id, title, content, size_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		d.ID, t.tenantID, d.Title, d.Content, d.SizeBytes, d.CreatedAt)
	if err != nil {
		return fmt.Errorf("store document: %w", err)
	}
	return t.logChange(ctx, TableDocuments, d.ID)
}

func (t *tables) TrackChanges() { t.track = true }

// logChange records a row written by a request in the change log, when the
// transaction tracks changes.
func (t *tables) logChange(ctx context.Context, table string, id uuid.UUID) error {
	if !t.track {
		return nil
	}
	if _, err := t.q.ExecContext(ctx, t.sql(`INSERT INTO `+t.table("workspace_changes")+` (tenant_id, tbl, row_id) VALUES (?, ?, ?)`),
		t.tenantID, table, id); err != nil {
		return fmt.Errorf("log change of %s %s: %w", table, id, err)
	}
	return nil
}

func (t *tables) Changes(ctx context.Context, after int64, limit int) ([]Change, error) {
	rows, err := t.q.QueryContext(ctx, t.sql(`SELECT id, tbl, row_id FROM `+t.table("workspace_changes")+` WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`),
		t.tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read change log: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		if err := rows.Scan(&c.Seq, &c.Table, &c.RowID); err != nil {
			return nil, fmt.Errorf("read change log: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read change log: %w", err)
	}
	return out, nil
}

func (t *tables) ForgetChanges(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	args := []any{t.tenantID}
	for _, s := range seqs {
		args = append(args, s)
	}
	if _, err := t.q.ExecContext(ctx, t.sql(`DELETE FROM `+t.table("workspace_changes")+` WHERE tenant_id = ? AND id IN (`+placeholders(len(seqs))+`)`),
		args...); err != nil {
		return fmt.Errorf("forget changes: %w", err)
	}
	return nil
}

func (t *tables) ClearChanges(ctx context.Context) error {
	if _, err := t.q.ExecContext(ctx, t.sql(`DELETE FROM `+t.table("workspace_changes")+` WHERE tenant_id = ?`), t.tenantID); err != nil {
		return fmt.Errorf("clear change log: %w", err)
	}
	return nil
}

// placeholders returns n comma-separated ? placeholders.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func (t *tables) CountQuery(ctx context.Context, month string, limit int64) (int64, bool, error) {
	var n int64
	err := t.q.QueryRowContext(ctx, t.sql(`UPDATE `+t.table("workspace_usage")+`
		SET queries = CASE WHEN query_month = ? THEN queries + 1 ELSE 1 END, query_month = ?
		WHERE tenant_id = ? AND (query_month <> ? OR queries + 1 <= ?)
		RETURNING queries`), month, month, t.tenantID, month, limit).Scan(&n)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("count query: %w", err)
	}
	return n, true, nil
}

func (t *tables) LogQuery(ctx context.Context, e *QueryLogEntry) error {
	_, err := t.q.ExecContext(ctx, t.sql(`INSERT INTO `+t.table("query_log")+` (id, tenant_id, query, hits, created_at) VALUES (?, ?, ?, ?, ?)`),
		e.ID, t.tenantID, e.Query, e.Hits, e.CreatedAt)
	if err != nil {
		return fmt.Errorf("log query: %w", err)
	}
	return t.logChange(ctx, TableQueryLog, e.ID)
}

func (t *tables) WriteBatch(ctx context.Context, b Batch) error {
	// Many rows per statement: a copy's cost is mostly round trips.
	const perStatement = 100
	for start := 0; start < len(b.Documents); start += perStatement {
		chunk := b.Documents[start:min(len(b.Documents), start+perStatement)]
		args := make([]any, 0, 6*len(chunk))
		for _, d := range chunk {
			args = append(args, d.ID, t.tenantID, d.Title, d.Content, d.SizeBytes, d.CreatedAt)
		}
		if _, err := t.q.ExecContext(ctx, t.sql(`INSERT INTO `+t.table("documents")+
			` (id, tenant_id, title, content, size_bytes, created_at) VALUES `+rows(len(chunk), 6)+` ON CONFLICT (id) DO NOTHING`), args...); err != nil {
			return fmt.Errorf("write documents %s…: %w", chunk[0].ID, err)
		}
	}
	for start := 0; start < len(b.QueryLog); start += perStatement {
		chunk := b.QueryLog[start:min(len(b.QueryLog), start+perStatement)]
		args := make([]any, 0, 5*len(chunk))
		for _, e := range chunk {
			args = append(args, e.ID, t.tenantID, e.Query, e.Hits, e.CreatedAt)
		}
		if _, err := t.q.ExecContext(ctx, t.sql(`INSERT INTO `+t.table("query_log")+
			` (id, tenant_id, query, hits, created_at) VALUES `+rows(len(chunk), 5)+` ON CONFLICT (id) DO NOTHING`), args...); err != nil {
			return fmt.Errorf("write query log entries %s…: %w", chunk[0].ID, err)
		}
	}
	return nil
}

// rows returns n rows of cols ? placeholders each: "(?, ?), (?, ?)".
func rows(n, cols int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func (t *tables) SetUsage(ctx context.Context, c Counters) error {
	_, err := t.q.ExecContext(ctx, t.sql(`INSERT INTO `+t.table("workspace_usage")+
		` (tenant_id, documents, bytes, queries, query_month) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET documents = excluded.documents, bytes = excluded.bytes,
			queries = excluded.queries, query_month = excluded.query_month`),
		t.tenantID, c.Documents, c.Bytes, c.Queries, c.QueryMonth)
	if err != nil {
		return fmt.Errorf("set usage: %w", err)
	}
	return nil
}

// createUsage makes the zero usage row, idempotently.
func (t *tables) createUsage(ctx context.Context) error {
	if _, err := t.q.ExecContext(ctx, t.sql("INSERT INTO "+t.table("workspace_usage")+" (tenant_id) VALUES (?) ON CONFLICT (tenant_id) DO NOTHING"), t.tenantID); err != nil {
		return fmt.Errorf("create usage counters: %w", err)
	}
	return nil
}

// deleteRows deletes the tenant's rows of every table (a pool workspace)
// and reports how many of each.
func (t *tables) deleteRows(ctx context.Context, report map[string]any) error {
	for _, table := range []string{"documents", "query_log", "workspace_usage", "workspace_changes"} {
		res, err := t.q.ExecContext(ctx, t.sql("DELETE FROM "+t.table(table)+" WHERE tenant_id = ?"), t.tenantID)
		if err != nil {
			return fmt.Errorf("delete pooled %s: %w", table, err)
		}
		n, _ := res.RowsAffected()
		report["deleted_"+table] = n
	}
	return nil
}

func (t *tables) ListDocuments(ctx context.Context, p ListParams) ([]*Document, error) {
	where, args := []string{"tenant_id = ?"}, []any{t.tenantID}
	if p.After != nil {
		where, args = append(where, "(created_at < ? OR (created_at = ? AND id < ?))"), append(args, p.After.CreatedAt, p.After.CreatedAt, p.After.ID)
	}
	if p.Before != nil {
		where, args = append(where, "(created_at > ? OR (created_at = ? AND id > ?))"), append(args, p.Before.CreatedAt, p.Before.CreatedAt, p.Before.ID)
	}
	order := "created_at DESC, id DESC"
	if p.Backward {
		order = "created_at ASC, id ASC"
	}
	return t.documents(ctx, "list documents", false, `SELECT id, tenant_id, title, '', size_bytes, created_at FROM `+
		t.table("documents")+` WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, append(args, p.Limit)...)
}

// documents runs a query of documents rows (what names it in errors).
func (t *tables) documents(ctx context.Context, what string, withContent bool, query string, args ...any) ([]*Document, error) {
	rows, err := t.q.QueryContext(ctx, t.sql(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []*Document
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, err
		}
		d.HasContent = withContent
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (t *tables) Document(ctx context.Context, id uuid.UUID, withContent bool) (*Document, error) {
	content := "''"
	if withContent {
		content = "content"
	}
	row := t.q.QueryRowContext(ctx, t.sql(`SELECT id, tenant_id, title, `+content+`, size_bytes, created_at FROM `+
		t.table("documents")+` WHERE tenant_id = ? AND id = ?`), t.tenantID, id)
	d, err := scanDocument(row)
	if isNoRows(err) {
		return nil, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	d.HasContent = withContent
	return d, nil
}

func (t *tables) ScanDocuments(ctx context.Context, after uuid.UUID, limit int) ([]*Document, error) {
	return t.documents(ctx, "scan documents", true, `SELECT id, tenant_id, title, content, size_bytes, created_at FROM `+
		t.table("documents")+` WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`, t.tenantID, after, limit)
}

func (t *tables) ScanDocumentHeads(ctx context.Context, after uuid.UUID, limit int) ([]*Document, error) {
	return t.documents(ctx, "scan documents", false, `SELECT id, tenant_id, title, '', size_bytes, created_at FROM `+
		t.table("documents")+` WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`, t.tenantID, after, limit)
}

func (t *tables) DocumentsByID(ctx context.Context, ids []uuid.UUID) ([]*Document, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return t.documents(ctx, "read documents", true, `SELECT id, tenant_id, title, content, size_bytes, created_at FROM `+
		t.table("documents")+` WHERE tenant_id = ? AND id IN (`+placeholders(len(ids))+`) ORDER BY id`, idArgs(t.tenantID, ids)...)
}

func (t *tables) QueryLogByID(ctx context.Context, ids []uuid.UUID) ([]*QueryLogEntry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return t.queryLog(ctx, `SELECT id, tenant_id, query, hits, created_at FROM `+
		t.table("query_log")+` WHERE tenant_id = ? AND id IN (`+placeholders(len(ids))+`) ORDER BY id`, idArgs(t.tenantID, ids)...)
}

func idArgs(tenantID uuid.UUID, ids []uuid.UUID) []any {
	args := make([]any, 0, len(ids)+1)
	args = append(args, tenantID)
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

func (t *tables) ScanQueryLog(ctx context.Context, after uuid.UUID, limit int) ([]*QueryLogEntry, error) {
	return t.queryLog(ctx, `SELECT id, tenant_id, query, hits, created_at FROM `+
		t.table("query_log")+` WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`, t.tenantID, after, limit)
}

// queryLog runs a query of query_log rows.
func (t *tables) queryLog(ctx context.Context, query string, args ...any) ([]*QueryLogEntry, error) {
	rows, err := t.q.QueryContext(ctx, t.sql(query), args...)
	if err != nil {
		return nil, fmt.Errorf("scan query log: %w", err)
	}
	defer rows.Close()
	var out []*QueryLogEntry
	for rows.Next() {
		e, err := scanQueryLogEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan query log: %w", err)
	}
	return out, nil
}

func (t *tables) Count(ctx context.Context) (Counts, error) {
	var c Counts
	if err := t.q.QueryRowContext(ctx, t.sql(`SELECT count(*), coalesce(sum(size_bytes), 0) FROM `+t.table("documents")+` WHERE tenant_id = ?`),
		t.tenantID).Scan(&c.Documents, &c.Bytes); err != nil {
		return Counts{}, fmt.Errorf("count documents: %w", err)
	}
	if err := t.q.QueryRowContext(ctx, t.sql(`SELECT count(*) FROM `+t.table("query_log")+` WHERE tenant_id = ?`),
		t.tenantID).Scan(&c.Queries); err != nil {
		return Counts{}, fmt.Errorf("count query log: %w", err)
	}
	return c, nil
}

func (t *tables) CountRows(ctx context.Context) (Counts, error) {
	var c Counts
	if err := t.q.QueryRowContext(ctx, t.sql(`SELECT count(*) FROM `+t.table("documents")+` WHERE tenant_id = ?`),
		t.tenantID).Scan(&c.Documents); err != nil {
		return Counts{}, fmt.Errorf("count documents: %w", err)
	}
	if err := t.q.QueryRowContext(ctx, t.sql(`SELECT count(*) FROM `+t.table("query_log")+` WHERE tenant_id = ?`),
		t.tenantID).Scan(&c.Queries); err != nil {
		return Counts{}, fmt.Errorf("count query log: %w", err)
	}
	return c, nil
}

func (t *tables) CountRowsAndChanges(ctx context.Context) (Counts, []int64, error) {
	agg := "group_concat(id)"
	if t.dollar {
		agg = "string_agg(id::text, ',')"
	}
	var (
		c    Counts
		seqs sql.NullString
	)
	err := t.q.QueryRowContext(ctx, t.sql(`SELECT
		(SELECT count(*) FROM `+t.table("documents")+` WHERE tenant_id = ?),
		(SELECT count(*) FROM `+t.table("query_log")+` WHERE tenant_id = ?),
		(SELECT `+agg+` FROM `+t.table("workspace_changes")+` WHERE tenant_id = ?)`),
		t.tenantID, t.tenantID, t.tenantID).Scan(&c.Documents, &c.Queries, &seqs)
	if err != nil {
		return Counts{}, nil, fmt.Errorf("count rows and changes: %w", err)
	}
	var out []int64
	if seqs.Valid && seqs.String != "" {
		for _, f := range strings.Split(seqs.String, ",") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return Counts{}, nil, fmt.Errorf("count rows and changes: sequence number %q: %w", f, err)
			}
			out = append(out, n)
		}
	}
	return c, out, nil
}

// checksumVersion names the form Checksum digests; a change of the form
// changes the name, so checksums of different forms never compare equal.
const checksumVersion = "wsdriver-checksum-1"

func (t *tables) Checksum(ctx context.Context) (string, error) {
	h := sha256.New()
	h.Write([]byte(checksumVersion))
	// One row at a time: a document may be megabytes.
	rows, err := t.q.QueryContext(ctx, t.sql(`SELECT id, tenant_id, title, content, size_bytes, created_at FROM `+
		t.table("documents")+` WHERE tenant_id = ? ORDER BY id`), t.tenantID)
	if err != nil {
		return "", fmt.Errorf("checksum documents: %w", err)
	}
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			rows.Close()
			return "", err
		}
		h.Write([]byte{'d'})
		h.Write(d.ID[:])
		writeString(h, d.Title)
		writeString(h, d.Content)
		writeInt(h, d.SizeBytes)
		writeInt(h, d.CreatedAt.UnixMicro())
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("checksum documents: %w", err)
	}
	rows, err = t.q.QueryContext(ctx, t.sql(`SELECT id, tenant_id, query, hits, created_at FROM `+
		t.table("query_log")+` WHERE tenant_id = ? ORDER BY id`), t.tenantID)
	if err != nil {
		return "", fmt.Errorf("checksum query log: %w", err)
	}
	for rows.Next() {
		e, err := scanQueryLogEntry(rows)
		if err != nil {
			rows.Close()
			return "", err
		}
		h.Write([]byte{'q'})
		h.Write(e.ID[:])
		writeString(h, e.Query)
		writeInt(h, int64(e.Hits))
		writeInt(h, e.CreatedAt.UnixMicro())
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("checksum query log: %w", err)
	}
	u, err := t.Usage(ctx)
	if err != nil {
		return "", err
	}
	h.Write([]byte{'u'})
	writeInt(h, u.Documents)
	writeInt(h, u.Bytes)
	writeInt(h, u.Queries)
	writeString(h, u.QueryMonth)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeInt(h hash.Hash, n int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}

// writeString writes s with its length first, so that no two sequences of
// strings digest alike.
func writeString(h hash.Hash, s string) {
	writeInt(h, int64(len(s)))
	h.Write([]byte(s))
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

func scanQueryLogEntry(r scanner) (*QueryLogEntry, error) {
	e := &QueryLogEntry{}
	var created any
	if err := r.Scan(&e.ID, &e.TenantID, &e.Query, &e.Hits, &created); err != nil {
		return nil, fmt.Errorf("read query log entry: %w", err)
	}
	t, err := asTime(created)
	if err != nil {
		return nil, err
	}
	e.CreatedAt = t
	return e, nil
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

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }

// DocumentDigest digests one document as Checksum does: two stores hold the
// same document when the digests are equal.
func DocumentDigest(d *Document) [32]byte {
	h := sha256.New()
	h.Write(d.ID[:])
	writeString(h, d.Title)
	writeString(h, d.Content)
	writeInt(h, d.SizeBytes)
	writeInt(h, d.CreatedAt.UnixMicro())
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// QueryLogDigest is DocumentDigest for a query log entry.
func QueryLogDigest(e *QueryLogEntry) [32]byte {
	h := sha256.New()
	h.Write(e.ID[:])
	writeString(h, e.Query)
	writeInt(h, int64(e.Hits))
	writeInt(h, e.CreatedAt.UnixMicro())
	var out [32]byte
	h.Sum(out[:0])
	return out
}
