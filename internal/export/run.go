package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/apikey"
	entexport "github.com/tenantd/tenantd/ent/export"
	"github.com/tenantd/tenantd/ent/milestone"
	entop "github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// Progress is what a running export keeps on its operation (result
// "export") for watchers: the file being written and how far it got.
type Progress struct {
	Phase string `json:"phase"`
	File  string `json:"file"`
	// Rows are the records written, of RowsTotal counted at the start.
	Rows      int64 `json:"rows"`
	RowsTotal int64 `json:"rowsTotal"`
	// Bytes are the document bytes written, of BytesTotal (the usage
	// counter at the start).
	Bytes      int64 `json:"bytes"`
	BytesTotal int64 `json:"bytesTotal"`
}

// ProgressOf reads an operation's export progress; nil when it has none.
func ProgressOf(result map[string]any) *Progress {
	v, ok := result["export"]
	if !ok {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var p Progress
	if json.Unmarshal(b, &p) != nil || p.Phase == "" {
		return nil
	}
	return &p
}

// Batches: documents are read by bytes (a batch holds at most
// docBatchBytes of content, or one larger document), the rest by rows.
const (
	docBatchRows  = 256
	docBatchBytes = 4 << 20
	rowBatch      = 500
	// saveEvery is how much is written between two progress saves.
	saveEveryRows  = 5000
	saveEveryBytes = 32 << 20
)

// written is what the write step leaves on the operation (result
// "archive") for the publish step.
type written struct {
	Location  string `json:"location"`
	SizeBytes int64  `json:"sizeBytes"`
	SHA256    string `json:"sha256"`
	Files     []File `json:"files"`
}

// write is the write_archive step: the whole archive from one snapshot of
// the workspace, streamed into a temporary file of the store, synced and
// renamed into place. Run again (a retry, a crash before the checkpoint)
// it writes the archive anew from a new snapshot.
func (s *Service) write(ctx context.Context, r *operation.Run) (string, error) {
	sys := tenantd.SystemContext(ctx)
	exp, err := s.db.Ent.Export.Query().Where(entexport.OperationID(r.Op.ID)).Only(sys)
	if err != nil {
		if ent.IsNotFound(err) {
			return "", operation.Permanent(tenantd.Errorf(tenantd.ENOTFOUND, "the export of operation %s no longer exists (its tenant was purged?)", r.Op.ID))
		}
		return "", err
	}
	if exp.Status != entexport.StatusRUNNING {
		return "export is " + string(exp.Status), nil
	}
	// The request checked who may export in this state; the tenant may have
	// moved on since (a purge).
	if !tenantPermits(r.Tenant.State) {
		return "", operation.Permanent(mayExport(r.Tenant.State, systemActor))
	}
	owner, release, err := s.lease(ctx, exp.ID)
	if err != nil {
		return "", err
	}
	defer release()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go s.renew(ctx, exp.ID, owner, stop)
	loc := locationOf(exp.TenantID, exp.ID)
	final := s.path(loc)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create the tenant's export directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+exp.ID.String()+".zip.tmp-*")
	if err != nil {
		return "", fmt.Errorf("create the archive file: %w", err)
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	sum := sha256.New()
	size := &byteCounter{}
	exportedAt := s.now()
	aw := NewWriter(io.MultiWriter(tmp, sum, size), Format(exp.Format), exportedAt)
	var m *Manifest
	if _, err := s.ws.Snapshot(ctx, exp.TenantID, func(ctx context.Context, rd wsdriver.Reader) error {
		w := &archiveRun{s: s, r: r, aw: aw, rd: rd, tenant: r.Tenant}
		if err := w.all(ctx); err != nil {
			return err
		}
		m, err = aw.Close(Manifest{FormatVersion: FormatVersion, Generator: "tenantd", TenantID: exp.TenantID,
			ExportID: exp.ID, ExportedAt: exportedAt})
		return err
	}); err != nil {
		return "", fmt.Errorf("write the archive: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("sync the archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("close the archive: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("put the archive in place: %w", err)
	}
	tmp = nil
	syncDir(dir)
	digest := hex.EncodeToString(sum.Sum(nil))
	r.Set("archive", written{Location: loc, SizeBytes: size.n, SHA256: digest, Files: m.Files})
	return fmt.Sprintf("%d files, %d bytes, sha256 %s", len(m.Files)+1, size.n, digest[:16]), nil
}

// systemActor is tenantd re-checking a request in its worker.
var systemActor = lifecycle.Actor{By: tenantd.TriggerSystem, Name: "worker:export"}

// tenantPermits says whether a tenant in state st may still be exported
// by a request that was allowed when it was made.
func tenantPermits(st tenantd.State) bool { return mayExport(st, systemActor) == nil }

// syncDir makes a rename durable: the directory entry is on disk.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// publish is the publish step: the export is READY with its digest, its
// files and its expiry, in the transaction of the checkpoint.
func (s *Service) publish(ctx context.Context, tx *store.Tx, r *operation.Run) (string, error) {
	sys := tenantd.SystemContext(ctx)
	var out written
	if b, err := json.Marshal(r.Op.Result["archive"]); err == nil {
		_ = json.Unmarshal(b, &out)
	}
	exp, err := tx.Ent.Export.Query().Where(entexport.OperationID(r.Op.ID)).Only(sys)
	if ent.IsNotFound(err) {
		// Purged meanwhile: the archive has nothing to belong to.
		if out.Location != "" {
			_ = os.Remove(s.path(out.Location))
		}
		return "", operation.Permanent(tenantd.Errorf(tenantd.ENOTFOUND, "the export of operation %s no longer exists (its tenant was purged?)", r.Op.ID))
	}
	if err != nil {
		return "", err
	}
	if exp.Status != entexport.StatusRUNNING {
		return "export is " + string(exp.Status), nil
	}
	if out.Location == "" {
		return "", fmt.Errorf("the write step left no archive")
	}
	files := make([]map[string]any, len(out.Files))
	for i, f := range out.Files {
		files[i] = map[string]any{"name": f.Name, "records": f.Records, "bytes": f.Bytes, "sha256": f.SHA256}
	}
	now := s.now()
	expires := now.Add(s.ttl)
	exp, err = tx.Ent.Export.UpdateOne(exp).SetStatus(entexport.StatusREADY).
		SetLocation(out.Location).SetSizeBytes(out.SizeBytes).SetSha256(out.SHA256).SetFiles(files).
		SetReadyAt(now).SetExpiresAt(expires).Save(sys)
	if err != nil {
		return "", fmt.Errorf("publish the export: %w", err)
	}
	r.Set("exportId", exp.ID.String())
	r.Set("sizeBytes", out.SizeBytes)
	r.Set("sha256", out.SHA256)
	s.log.Info("export ready", "tenant", exp.TenantID, "export", exp.ID, "bytes", out.SizeBytes, "expires", expires)
	return "ready until " + expires.Format(time.RFC3339), nil
}

// failed is the kind's OnFail: the export is FAILED and its archive, if
// one was written, removed once that commits.
func (s *Service) failed(ctx context.Context, tx *store.Tx, r *operation.Run, f operation.Failure) error {
	sys := tenantd.SystemContext(ctx)
	if _, err := tx.Ent.Export.Update().
		Where(entexport.OperationID(r.Op.ID), entexport.StatusEQ(entexport.StatusRUNNING)).
		SetStatus(entexport.StatusFAILED).Save(sys); err != nil {
		return fmt.Errorf("mark the export failed: %w", err)
	}
	if a, ok := r.Op.Result["archive"].(map[string]any); ok {
		if loc, _ := a["location"].(string); loc != "" {
			tx.OnCommit(func() { _ = os.Remove(s.path(loc)) })
		}
	}
	return nil
}

// archiveRun writes one archive.
type archiveRun struct {
	s      *Service
	r      *operation.Run
	aw     *Writer
	rd     wsdriver.Reader
	tenant *ent.Tenant
	prog   Progress
	saved  Progress
}

func (w *archiveRun) all(ctx context.Context) error {
	sys := tenantd.SystemContext(ctx)
	t := w.tenant
	usage, err := w.rd.Usage(ctx)
	if err != nil {
		return err
	}
	counts, err := w.rd.CountRows(ctx)
	if err != nil {
		return err
	}
	if w.s.hooks.InSnapshot != nil {
		w.s.hooks.InSnapshot(ctx, t.ID)
	}
	others := 0
	for _, n := range []func() (int, error){
		func() (int, error) {
			return w.s.db.Ent.StateTransition.Query().Where(statetransition.TenantID(t.ID)).Count(sys)
		},
		func() (int, error) { return w.s.db.Ent.Operation.Query().Where(entop.TenantID(t.ID)).Count(sys) },
		func() (int, error) { return w.s.db.Ent.APIKey.Query().Where(apikey.TenantID(t.ID)).Count(sys) },
		func() (int, error) { return w.s.db.Ent.Milestone.Query().Where(milestone.TenantID(t.ID)).Count(sys) },
	} {
		c, err := n()
		if err != nil {
			return err
		}
		others += c
	}
	w.prog = Progress{Phase: PhaseExport, RowsTotal: counts.Documents + counts.Queries + int64(others), BytesTotal: usage.Bytes}
	if err := w.tenantFile(ctx, usage); err != nil {
		return err
	}
	for _, f := range []struct {
		base string
		fn   func(context.Context) error
	}{
		{Documents, w.documents}, {QueryLog, w.queryLog}, {Transitions, w.transitions},
		{Operations, w.operations}, {APIKeys, w.apiKeys}, {Milestones, w.milestones},
	} {
		w.prog.File = FileName(f.base, w.aw.format)
		if err := w.save(ctx, true); err != nil {
			return err
		}
		if err := w.aw.Begin(f.base); err != nil {
			return err
		}
		if err := f.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", f.base, err)
		}
	}
	w.prog.File = FileManifest
	return w.save(ctx, true)
}

// put writes one record and saves the progress now and then.
func (w *archiveRun) put(ctx context.Context, rec record, docBytes int64) error {
	if err := w.aw.Put(rec); err != nil {
		return err
	}
	w.prog.Rows++
	w.prog.Bytes += docBytes
	return w.save(ctx, false)
}

func (w *archiveRun) save(ctx context.Context, now bool) error {
	if !now && w.prog.Rows-w.saved.Rows < saveEveryRows && w.prog.Bytes-w.saved.Bytes < saveEveryBytes {
		return nil
	}
	w.saved = w.prog
	p := w.prog
	if err := w.r.Save(ctx, map[string]any{"export": p}); err != nil {
		return err
	}
	return w.r.Report(ctx, fmt.Sprintf("%s: %d of %d records", p.File, p.Rows, p.RowsTotal))
}

func (w *archiveRun) tenantFile(ctx context.Context, usage wsdriver.Counters) error {
	t := w.tenant
	p, err := t.QueryPlan().Only(tenantd.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("read the tenant's plan: %w", err)
	}
	rec := TenantRecord{ID: t.ID, Name: t.Name, State: string(t.State), Plan: p.Key, Isolation: string(p.Isolation),
		CreatedAt: t.CreatedAt.UTC(), StateChangedAt: t.StateChangedAt.UTC(), PurgeAfter: utcPtr(t.PurgeAfter),
		Billing: Billing{CustomerID: t.BillingCustomerID, SubscriptionID: t.BillingSubscriptionID},
		Usage:   Usage{Documents: usage.Documents, Bytes: usage.Bytes, Queries: usage.Queries, QueryMonth: usage.QueryMonth}}
	if t.Slug != nil {
		rec.Slug = *t.Slug
	}
	if t.Email != nil {
		rec.Email = *t.Email
	}
	return w.aw.Object(FileTenant, rec)
}

func (w *archiveRun) documents(ctx context.Context) error {
	after := uuid.Nil
	for {
		heads, err := w.rd.ScanDocumentHeads(ctx, after, docBatchRows)
		if err != nil || len(heads) == 0 {
			return err
		}
		n, bytes := 0, int64(0)
		for n < len(heads) && (n == 0 || bytes+heads[n].SizeBytes <= docBatchBytes) {
			bytes += heads[n].SizeBytes
			n++
		}
		docs, err := w.rd.ScanDocuments(ctx, after, n)
		if err != nil {
			return err
		}
		for i, d := range docs {
			if err := w.put(ctx, &DocumentRecord{ID: d.ID, Title: d.Title, Content: d.Content, SizeBytes: d.SizeBytes, CreatedAt: d.CreatedAt.UTC()}, d.SizeBytes); err != nil {
				return err
			}
			docs[i] = nil // the batch is not held past its record
			after = d.ID
		}
		if len(docs) == 0 {
			return errors.New("documents changed inside the snapshot")
		}
	}
}

func (w *archiveRun) queryLog(ctx context.Context) error {
	after := uuid.Nil
	for {
		log, err := w.rd.ScanQueryLog(ctx, after, rowBatch)
		if err != nil || len(log) == 0 {
			return err
		}
		for _, e := range log {
			if err := w.put(ctx, &QueryRecord{ID: e.ID, Query: e.Query, Hits: e.Hits, CreatedAt: e.CreatedAt.UTC()}, 0); err != nil {
				return err
			}
			after = e.ID
		}
	}
}

func (w *archiveRun) transitions(ctx context.Context) error {
	sys := tenantd.SystemContext(ctx)
	last := 0
	for {
		rows, err := w.s.db.Ent.StateTransition.Query().
			Where(statetransition.TenantID(w.tenant.ID), statetransition.SeqGT(last)).
			Order(ent.Asc(statetransition.FieldSeq)).Limit(rowBatch).All(sys)
		if err != nil || len(rows) == 0 {
			return err
		}
		for _, t := range rows {
			rec := &TransitionRecord{Seq: t.Seq, Event: string(t.Event), ToState: string(t.ToState), TriggeredBy: string(t.TriggeredBy),
				Actor: t.Actor, Reason: t.Reason, Metadata: t.Metadata, Private: t.Private, OccurredAt: t.OccurredAt.UTC(),
				PrevHash: t.PrevHash, Hash: t.Hash}
			if t.FromState != nil {
				from := string(*t.FromState)
				rec.FromState = &from
			}
			if err := w.put(ctx, rec, 0); err != nil {
				return err
			}
			last = t.Seq
		}
	}
}

func (w *archiveRun) operations(ctx context.Context) error {
	sys := tenantd.SystemContext(ctx)
	after := uuid.Nil
	for {
		rows, err := w.s.db.Ent.Operation.Query().
			Where(entop.TenantID(w.tenant.ID), entop.IDGT(after)).
			Order(ent.Asc(entop.FieldID)).Limit(rowBatch).All(sys)
		if err != nil || len(rows) == 0 {
			return err
		}
		for _, o := range rows {
			rec := &OperationRecord{ID: o.ID, Kind: string(o.Kind), Status: string(o.Status), Steps: o.Steps, Params: o.Params,
				Result: o.Result, RequestedBy: o.RequestedBy, Attempt: o.Attempt, ErrorCode: o.ErrorCode, ErrorMessage: o.ErrorMessage,
				CreatedAt: o.CreatedAt.UTC(), StartedAt: utcPtr(o.StartedAt), FinishedAt: utcPtr(o.FinishedAt)}
			if err := w.put(ctx, rec, 0); err != nil {
				return err
			}
			after = o.ID
		}
	}
}

func (w *archiveRun) apiKeys(ctx context.Context) error {
	sys := tenantd.SystemContext(ctx)
	after := uuid.Nil
	for {
		// Select names the columns: the secret's hash is never read.
		rows, err := w.s.db.Ent.APIKey.Query().
			Where(apikey.TenantID(w.tenant.ID), apikey.IDGT(after)).
			Order(ent.Asc(apikey.FieldID)).Limit(rowBatch).
			Select(apikey.FieldID, apikey.FieldName, apikey.FieldPrefix, apikey.FieldCreatedBy, apikey.FieldCreatedAt,
				apikey.FieldLastUsedAt, apikey.FieldRevokedAt).All(sys)
		if err != nil || len(rows) == 0 {
			return err
		}
		for _, k := range rows {
			rec := &APIKeyRecord{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt.UTC(),
				LastUsedAt: utcPtr(k.LastUsedAt), RevokedAt: utcPtr(k.RevokedAt)}
			if err := w.put(ctx, rec, 0); err != nil {
				return err
			}
			after = k.ID
		}
	}
}

func (w *archiveRun) milestones(ctx context.Context) error {
	rows, err := w.s.db.Ent.Milestone.Query().Where(milestone.TenantID(w.tenant.ID)).
		Order(ent.Asc(milestone.FieldOccurredAt), ent.Asc(milestone.FieldName)).All(tenantd.SystemContext(ctx))
	if err != nil {
		return err
	}
	for _, m := range rows {
		if err := w.put(ctx, &MilestoneRecord{Name: string(m.Name), OccurredAt: m.OccurredAt.UTC()}, 0); err != nil {
			return err
		}
	}
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// The lease of the write_archive step. River rescues a job it believes
// stuck after RescueStuckJobsAfter, which follows the other kinds' short
// timeouts, not this one's (operation.Kind.Leased): an export longer than
// that is run a second time while the first run may still be writing on
// another replica. The run holding the lease writes; another waits (its job
// snoozes) until the lease ends — renewed every leaseTTL/3 while the holder
// lives, it lapses leaseTTL after a crash.
const leaseTTL = 30 * time.Second

// errLeaseLost ends a write whose lease another run took.
var errLeaseLost = errors.New("the export's lease was lost to another run")

// lease takes the export's lease for this run, or returns Continue until
// it lapses.
func (s *Service) lease(ctx context.Context, exportID uuid.UUID) (owner string, release func(), err error) {
	me := uuid.NewString()
	sys := tenantd.SystemContext(ctx)
	now := s.now()
	n, err := s.db.Ent.Export.Update().
		Where(entexport.ID(exportID), entexport.Or(entexport.LeaseUntilIsNil(), entexport.LeaseUntilLT(now))).
		SetLeaseOwner(me).SetLeaseUntil(now.Add(leaseTTL)).Save(sys)
	if err != nil {
		return "", nil, fmt.Errorf("take the export's lease: %w", err)
	}
	if n == 0 {
		e, err := s.db.Ent.Export.Get(sys, exportID)
		if err != nil {
			return "", nil, err
		}
		wait := leaseTTL
		if e.LeaseUntil != nil {
			wait = e.LeaseUntil.Sub(now) + time.Second
		}
		s.log.Info("export is being written by another run; waiting", "export", exportID, "for", wait)
		return "", nil, operation.Continue(wait)
	}
	return me, func() {
		_ = s.db.Ent.Export.Update().Where(entexport.ID(exportID), entexport.LeaseOwner(me)).
			ClearLeaseOwner().ClearLeaseUntil().Exec(tenantd.SystemContext(context.WithoutCancel(ctx)))
	}, nil
}

// renew renews the lease until ctx ends; if the lease is lost it stops the
// write.
func (s *Service) renew(ctx context.Context, exportID uuid.UUID, owner string, stop context.CancelCauseFunc) {
	tick := s.clock.NewTicker(leaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.Chan():
		}
		n, err := s.db.Ent.Export.Update().Where(entexport.ID(exportID), entexport.LeaseOwner(owner)).
			SetLeaseUntil(s.now().Add(leaseTTL)).Save(tenantd.SystemContext(ctx))
		if err == nil && n == 0 {
			stop(errLeaseLost)
			return
		}
	}
}
