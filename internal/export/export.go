// Package export gives a tenant its data (GDPR Art. 15 and 20) and takes it
// back: an EXPORT operation streams a ZIP archive of everything tenantd
// holds of the tenant — profile, documents with their full content, query
// log, history, operations, API key metadata, activation milestones — from
// one read snapshot of its workspace, into a directory every replica
// shares; a signed link (or the tenant's own API key, or an admin token)
// downloads it until it expires and a sweep deletes it. Import makes a new
// tenant from such an archive after checking every digest of its manifest.
//
// The format is documented in the README ("Data export format") and by a
// JSON Schema per file (schema/, served at /exports/schema/).
package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	entexport "github.com/tenantd/tenantd/ent/export"
	"github.com/tenantd/tenantd/ent/exportdownload"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace"
)

// Defaults.
const (
	// DefaultTTL is how long an archive and its download link live.
	DefaultTTL = 7 * 24 * time.Hour
	// DefaultTimeout bounds one run of an EXPORT job. The archive comes from
	// one snapshot, so it cannot be split over runs the way a data move is:
	// one run writes all of it. Measured on a 2-core machine
	// (internal/bench BenchmarkExport), a 1 GiB tenant takes 13 s on SQLite
	// (77 MB/s) and 9 s on PostgreSQL (110 MB/s); the largest tenant with a
	// storage limit (pro, 50 GiB) would take about 12 minutes at that pace,
	// and 30 minutes leaves room for a slower (shared) export directory.
	// River's rescue of stuck jobs does not wait for it (the kind is
	// Leased): the step holds a lease that a second run waits for.
	DefaultTimeout = 30 * time.Minute
)

// The steps of an EXPORT operation.
const (
	// StepWrite writes the archive from one snapshot into the store.
	StepWrite = "write_archive"
	// StepPublish marks the export READY with its digest and expiry.
	StepPublish = "publish"
)

// Queue is the River queue of EXPORT jobs: few at once, so that large
// exports do not take every worker of the default queue.
const Queue = "export"

// PhaseExport is the phase an export shows on operationProgress.
const PhaseExport = "EXPORT"

// Authenticator checks a bearer token (auth.Service is one).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (tenantd.Viewer, error)
}

// Config wires a Service.
type Config struct {
	DB         *store.DB
	Lifecycle  *lifecycle.Machine
	Workspaces *workspace.Service
	// Operations runs the EXPORT operations: New registers the kind. Nil
	// makes a Service that imports only (the CLI).
	Operations  *operation.Engine
	Events      *events.Publisher
	Idempotency *idempotency.Store
	// Auth lets a download present a bearer token instead of a signature;
	// nil accepts signed links only.
	Auth  Authenticator
	Clock tenantd.Clock
	// Dir is the export store: a directory every replica shares (NFS, …).
	Dir string
	// TTL is how long an archive is kept and its link works (DefaultTTL).
	TTL time.Duration
	// Timeout bounds one run of an EXPORT job (DefaultTimeout).
	Timeout time.Duration
	Logger  *slog.Logger
	// Hooks are for tests.
	Hooks Hooks
}

// Hooks let tests act at the points that matter. Production code leaves
// them nil.
type Hooks struct {
	// InSnapshot runs inside an export's snapshot, after its first read
	// and before the documents: a write made here must not be in the
	// archive.
	InSnapshot func(ctx context.Context, tenantID uuid.UUID)
}

// Service exports and imports tenants.
type Service struct {
	db      *store.DB
	machine *lifecycle.Machine
	ws      *workspace.Service
	ops     *operation.Engine
	events  *events.Publisher
	idem    *idempotency.Store
	auth    Authenticator
	clock   tenantd.Clock
	dir     string
	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger
	hooks   Hooks
}

// New returns a Service over the export store cfg.Dir (made if missing)
// and registers the EXPORT kind with cfg.Operations.
func New(cfg Config) (*Service, error) {
	if cfg.Dir == "" {
		return nil, errors.New("export: no export directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("export: create the export directory: %w", err)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = events.NewPublisher(events.NewHub())
	}
	if cfg.Idempotency == nil {
		cfg.Idempotency = idempotency.New(cfg.DB).WithClock(cfg.Clock)
	}
	s := &Service{db: cfg.DB, machine: cfg.Lifecycle, ws: cfg.Workspaces, ops: cfg.Operations, events: cfg.Events,
		idem: cfg.Idempotency, auth: cfg.Auth, clock: tenantd.ClockOr(cfg.Clock), dir: cfg.Dir, ttl: cfg.TTL,
		timeout: cfg.Timeout, log: cfg.Logger, hooks: cfg.Hooks}
	if s.ops != nil {
		s.ops.Add(s.kind())
	}
	return s, nil
}

// kind is the EXPORT operation: the archive is written in one step (one
// snapshot), then published. A failure leaves the tenant as it is and the
// export FAILED.
func (s *Service) kind() operation.Kind {
	return operation.Kind{
		Name: tenantd.OpExport, Queue: Queue, Timeout: s.timeout, MaxAttempts: 3, Leased: true,
		Steps: []operation.Step{
			{Name: StepWrite, Do: s.write},
			{Name: StepPublish, Tx: s.publish},
		},
		OnFail: s.failed,
	}
}

func (s *Service) now() time.Time { return tenantd.Now(s.clock) }

// TTL returns how long an archive is kept.
func (s *Service) TTL() time.Duration { return s.ttl }

// Dir returns the export store's directory.
func (s *Service) Dir() string { return s.dir }

// ParseFormat reads a format name; "" is JSON.
//
// Returns INVALID_INPUT (field "format") for another.
func ParseFormat(v string) (Format, error) {
	switch Format(v) {
	case "", JSON:
		return JSON, nil
	case CSV:
		return CSV, nil
	}
	return "", tenantd.Invalid("format", "format must be JSON or CSV")
}

// answer is what an idempotency key keeps of a request.
type answer struct {
	OperationID uuid.UUID `json:"operationId"`
	ExportID    uuid.UUID `json:"exportId"`
}

// Request starts an EXPORT of the tenant's data in format ("" is JSON): in
// one transaction the Export row (RUNNING) and the operation with its job.
// The tenant's state must permit an export (lifecycle.Permits.Export);
// a PENDING_DELETION tenant is exported for an admin only (export, then
// delete). With an idempotency key the same key and input give the first
// answer.
//
// Returns INVALID_INPUT (format), NOT_FOUND (a tenant the caller in ctx
// may not see), FORBIDDEN (the state does not permit it: a PURGED tenant's
// data no longer exists; a PENDING_DELETION one needs an admin), CONFLICT
// (an export of the tenant is under way), IDEMPOTENCY_MISMATCH.
func (s *Service) Request(ctx context.Context, tenantID uuid.UUID, format string, actor lifecycle.Actor, idempotencyKey string) (*ent.Operation, *ent.Export, error) {
	f, err := ParseFormat(format)
	if err != nil {
		return nil, nil, err
	}
	if idempotencyKey == "" {
		return s.request(ctx, tenantID, f, actor)
	}
	scope := "requestDataExport:system"
	if v, ok := tenantd.ViewerFrom(ctx); ok && v.TokenID != uuid.Nil {
		scope = "requestDataExport:" + v.TokenID.String()
	}
	var op *ent.Operation
	var exp *ent.Export
	a, err := idempotency.Do(ctx, s.idem, idempotency.Request{
		Scope: scope, Key: idempotencyKey,
		Input: struct {
			TenantID uuid.UUID `json:"tenantId"`
			Format   Format    `json:"format"`
		}{tenantID, f},
	}, func(ctx context.Context, _ *idempotency.Claim) (answer, error) {
		var err error
		op, exp, err = s.request(ctx, tenantID, f, actor)
		if err != nil {
			return answer{}, err
		}
		return answer{OperationID: op.ID, ExportID: exp.ID}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if op != nil {
		return op, exp, nil
	}
	// A replay: the first answer, as the rows are now.
	if op, err = s.db.Ent.Operation.Get(ctx, a.OperationID); err != nil {
		return nil, nil, notFound(err, "operation %s not found", a.OperationID)
	}
	if exp, err = s.db.Ent.Export.Get(ctx, a.ExportID); err != nil {
		return nil, nil, notFound(err, "export %s not found", a.ExportID)
	}
	return op, exp, nil
}

func notFound(err error, format string, args ...any) error {
	if ent.IsNotFound(err) {
		return tenantd.Errorf(tenantd.ENOTFOUND, format, args...)
	}
	return err
}

// mayExport says whether actor may export a tenant in state st.
func mayExport(st tenantd.State, actor lifecycle.Actor) error {
	deny := func(msg string) error {
		return &tenantd.Error{Code: tenantd.EFORBIDDEN, Message: msg, Extra: map[string]any{"state": string(st)}}
	}
	switch {
	case st == tenantd.StatePurged:
		return deny("the tenant was purged: its data no longer exists, so there is nothing to export")
	case !lifecycle.PermitsOf(st).Export:
		return deny(fmt.Sprintf("the tenant is %s: it has no workspace data to export yet", st))
	case st == tenantd.StatePendingDeletion && actor.By != tenantd.TriggerAdmin && actor.By != tenantd.TriggerSystem:
		return deny("the tenant is PENDING_DELETION: only an admin may export its data now (or restore the tenant first)")
	}
	return nil
}

func (s *Service) request(ctx context.Context, tenantID uuid.UUID, f Format, actor lifecycle.Actor) (*ent.Operation, *ent.Export, error) {
	sys := tenantd.SystemContext(ctx)
	var (
		op  *ent.Operation
		exp *ent.Export
	)
	err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		t, err := s.machine.LockTx(ctx, tx, tenantID) // the caller's visibility; a transition waits for this
		if err != nil {
			return err
		}
		if err := mayExport(t.State, actor); err != nil {
			return err
		}
		running, err := tx.Ent.Export.Query().
			Where(entexport.TenantID(tenantID), entexport.StatusEQ(entexport.StatusRUNNING)).First(sys)
		if err == nil {
			return &tenantd.Error{Code: tenantd.ECONFLICT,
				Message: "an export of this tenant is under way; follow its operation, then ask again",
				Extra:   map[string]any{"operationId": running.OperationID.String()}}
		}
		if !ent.IsNotFound(err) {
			return err
		}
		// Links are signed with the tenant's key, issued by provisioning;
		// a tenant made before that (or imported) gets one now.
		if err := auth.EnsureSigningKey(sys, tx.Ent, tenantID); err != nil {
			return err
		}
		op, err = s.ops.StartTx(ctx, tx, tenantID, operation.Spec{
			Kind: tenantd.OpExport, RequestedBy: actor.Name,
			Params: map[string]any{"format": string(f), "by": string(actor.By)},
		})
		if err != nil {
			return err
		}
		exp, err = tx.Ent.Export.Create().
			SetTenantID(tenantID).SetOperationID(op.ID).SetFormat(entexport.Format(f)).
			SetRequestedBy(actor.Name).SetCreatedAt(s.now()).SetUpdatedAt(s.now()).
			Save(sys)
		if err != nil {
			return fmt.Errorf("record the export: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	s.log.Info("export requested", "tenant", tenantID, "operation", op.ID, "export", exp.ID, "format", f, "actor", actor.Name)
	return op.Unwrap(), exp.Unwrap(), nil
}

// ExportOf returns the export made by an EXPORT operation, as the caller
// in ctx may see it.
//
// Returns NOT_FOUND.
func (s *Service) ExportOf(ctx context.Context, operationID uuid.UUID) (*ent.Export, error) {
	exp, err := s.db.Ent.Export.Query().Where(entexport.OperationID(operationID)).Only(ctx)
	if err != nil {
		return nil, notFound(err, "operation %s made no export", operationID)
	}
	return exp, nil
}

// path is where the store keeps an archive of the tenant: a directory per
// tenant, so that a purge removes all of its files (temporary ones
// included) without knowing them.
func (s *Service) path(location string) string {
	return filepath.Join(s.dir, filepath.FromSlash(location))
}

func locationOf(tenantID, exportID uuid.UUID) string {
	return tenantID.String() + "/" + exportID.String() + ".zip"
}

// TenantExports returns the tenant's exports, newest first, as the caller
// in ctx may see them.
func (s *Service) TenantExports(ctx context.Context, tenantID uuid.UUID) ([]*ent.Export, error) {
	return s.db.Ent.Export.Query().Where(entexport.TenantID(tenantID)).
		Order(ent.Desc(entexport.FieldCreatedAt), ent.Desc(entexport.FieldID)).Limit(100).All(ctx)
}

// Downloads counts the downloads of an export.
func (s *Service) Downloads(ctx context.Context, exportID uuid.UUID) (int, error) {
	return s.db.Ent.ExportDownload.Query().Where(exportdownload.ExportID(exportID)).Count(tenantd.SystemContext(ctx))
}
