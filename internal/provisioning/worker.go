package provisioning

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/mail"
	ops "github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
)

// Queue is the River queue of provisioning jobs.
const Queue = "provisioning"

// kind is the PROVISION operation: four steps, each in the transaction
// that checkpoints it. A failure after the last attempt moves the tenant to
// PROVISIONING_FAILED naming the step and the reason.
func (s *Service) kind() ops.Kind {
	step := func(name string) ops.Step {
		return ops.Step{Name: name, Tx: func(ctx context.Context, tx *store.Tx, r *ops.Run) (string, error) {
			return s.doStep(ctx, tx, r.Op, r.Tenant, name)
		}}
	}
	k := ops.Kind{
		Name: tenantd.OpProvision, Queue: Queue, Timeout: 30 * time.Second, MaxAttempts: s.maxAttempts,
		ErrorCode: "PROVISIONING_FAILED",
		OnFail: func(ctx context.Context, tx *store.Tx, r *ops.Run, f ops.Failure) error {
			_, err := s.machine.FireTx(ctx, tx, lifecycle.Request{
				TenantID: r.Op.TenantID, Event: tenantd.EventFail,
				Actor:  lifecycle.Actor{By: tenantd.TriggerSystem, Name: "worker:provisioning"},
				Reason: f.Message, Metadata: map[string]any{"operation": r.Op.ID.String(), "step": f.Step},
			})
			return err
		},
	}
	for _, name := range Steps {
		k.Steps = append(k.Steps, step(name))
	}
	return k
}

// Args is the River job of PROVISION operations queued before the
// operation engine carried every kind (job kind "provision"); its worker
// hands them to the engine.
type Args struct {
	OperationID uuid.UUID `json:"operation_id"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "provision" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (Args) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }

// Worker runs the legacy provision jobs through the operation engine.
type Worker struct {
	river.WorkerDefaults[Args]
	s *Service
}

// Register adds the worker of legacy provision jobs to workers (the
// engine registers its own).
func Register(workers *river.Workers, s *Service) { river.AddWorker(workers, &Worker{s: s}) }

// Timeout bounds one run of the job.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return 30 * time.Second }

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	return w.s.ops.Work(ctx, job.Args.OperationID, job.Attempt, job.MaxAttempts)
}

// doStep performs one step inside tx. Each is idempotent.
func (s *Service) doStep(ctx context.Context, tx *store.Tx, op *ent.Operation, t *ent.Tenant, name string) (string, error) {
	sys := tenantd.SystemContext(ctx)
	switch name {
	case StepCreateWorkspace:
		p, err := t.QueryPlan().Only(sys)
		if err != nil {
			return "", err
		}
		ws, err := s.workspaces.CreateTx(ctx, tx, t.ID, p.Isolation)
		if err != nil {
			return "", err
		}
		// The location (a file path, a schema name) stays out: the detail
		// is shown to the tenant.
		return fmt.Sprintf("%s workspace ready", ws.Isolation), nil
	case StepIssueKeys:
		if err := auth.EnsureSigningKey(sys, tx.Ent, t.ID); err != nil {
			return "", err
		}
		return "signing key issued", nil
	case StepSendConfirmation:
		if t.Email == nil {
			return "no email address", nil
		}
		subject, text := confirmation(t, s.publicURL())
		msg, _, err := mail.EnqueueTx(ctx, tx, s.jobs, mail.NewMessage{
			TenantID: &t.ID, Kind: "signup_confirmation", DedupeKey: "signup_confirmation:" + t.ID.String(),
			To: *t.Email, Subject: subject, Text: text,
		})
		if err != nil {
			return "", err
		}
		return "confirmation queued as " + msg.MessageID, nil
	case StepActivate:
		if t.State == tenantd.StateActive {
			return "already active", nil
		}
		if _, err := s.machine.FireTx(ctx, tx, lifecycle.Request{
			TenantID: t.ID, Event: tenantd.EventActivate,
			Actor:  lifecycle.Actor{By: tenantd.TriggerSystem, Name: "worker:provisioning"},
			Reason: "provisioning finished", Metadata: map[string]any{"operation": op.ID.String()},
		}); err != nil {
			return "", err
		}
		if _, err := analytics.RecordTx(ctx, tx, t.ID, analytics.Provisioned, s.machine.Now(), s.window); err != nil {
			return "", err
		}
		return "tenant is ACTIVE", nil
	}
	return "", fmt.Errorf("unknown provisioning step %q", name)
}

// Retry resumes the provisioning of a PROVISIONING_FAILED tenant: it fires
// provision and puts the tenant's last PROVISION operation back in the queue
// with a new job, in one transaction. The operation resumes at its failed
// step; the steps that succeeded are not run again.
//
// Returns NOT_FOUND or INVALID_TRANSITION (the tenant is not
// PROVISIONING_FAILED).
func (s *Service) Retry(ctx context.Context, tenantID uuid.UUID, actor lifecycle.Actor, reason string) (*lifecycle.Result, error) {
	var res *lifecycle.Result
	err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		res, err = s.machine.FireTx(ctx, tx, lifecycle.Request{TenantID: tenantID, Event: tenantd.EventProvision, Actor: actor, Reason: reason})
		if err != nil {
			return err
		}
		sys := tenantd.SystemContext(ctx)
		op, err := tx.Ent.Operation.Query().
			Where(operation.TenantID(tenantID), operation.KindEQ(tenantd.OpProvision)).
			Order(ent.Desc(operation.FieldCreatedAt)).First(sys)
		if err != nil {
			return fmt.Errorf("find provisioning operation: %w", err)
		}
		res.Operation, err = s.ops.RequeueTx(ctx, tx, op)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res.Unwrap(), nil
}

// RerunSteps runs every step of a finished PROVISION operation again, each
// in its own transaction, without touching the operation: the check that
// provisioning is idempotent (readiness check 4). Run on a provisioned
// tenant it must create nothing.
func (s *Service) RerunSteps(ctx context.Context, opID uuid.UUID) error {
	sys := tenantd.SystemContext(ctx)
	op, err := s.db.Ent.Operation.Get(sys, opID)
	if err != nil {
		return fmt.Errorf("load operation: %w", err)
	}
	if op.Kind != tenantd.OpProvision || op.Status != tenantd.OpSucceeded {
		return tenantd.Errorf(tenantd.EINVALID, "operation %s is not a finished provisioning", opID)
	}
	return s.ops.Rerun(ctx, opID)
}
