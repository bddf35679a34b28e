package provisioning

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/keyset"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/store"
)

// Queue is the River queue of provisioning jobs.
const Queue = "provisioning"

// Args is the River job that carries a PROVISION operation.
type Args struct {
	OperationID uuid.UUID `json:"operation_id"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "provision" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue}
}

// Worker runs PROVISION operations.
type Worker struct {
	river.WorkerDefaults[Args]
	s *Service
}

// Worker returns the River worker of s.
func (s *Service) Worker() *Worker { return &Worker{s: s} }

// Register adds the provisioning worker to workers.
func Register(workers *river.Workers, s *Service) { river.AddWorker(workers, s.Worker()) }

// Timeout bounds one run of the job; River rescues a job stuck longer.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return 30 * time.Second }

// NextRetry backs off exponentially from one second, capped at a minute.
func (w *Worker) NextRetry(job *river.Job[Args]) time.Time {
	d := time.Second << min(job.Attempt-1, 6)
	return time.Now().Add(min(d, time.Minute))
}

// Work resumes the operation at its first unfinished step. A finished
// operation is left alone, so a duplicate job or a re-run does nothing.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	s := w.s
	ctx = tenantd.SystemContext(ctx)
	sys := ctx
	op, err := s.db.Ent.Operation.Get(sys, job.Args.OperationID)
	if ent.IsNotFound(err) {
		return river.JobCancel(fmt.Errorf("operation %s does not exist", job.Args.OperationID))
	}
	if err != nil {
		return fmt.Errorf("load operation: %w", err)
	}
	if op.Status.Done() {
		return nil
	}
	if err := s.startAttempt(ctx, op, job.Attempt); err != nil {
		return err
	}
	for i := range op.Steps {
		if op.Steps[i].Status == tenantd.StepSucceeded {
			continue
		}
		if err := s.runStep(ctx, op.ID, i, job.Attempt); err != nil {
			if job.Attempt >= job.MaxAttempts {
				if ferr := s.failOperation(ctx, op.ID, i, err); ferr != nil {
					return errors.Join(err, ferr)
				}
				return river.JobCancel(err)
			}
			s.log.Warn("provisioning step failed; will retry", "operation", op.ID, "step", op.Steps[i].Name,
				"attempt", job.Attempt, "of", job.MaxAttempts, "err", err)
			return err
		}
	}
	return nil
}

// startAttempt marks the operation RUNNING with the job's attempt.
func (s *Service) startAttempt(ctx context.Context, op *ent.Operation, attempt int) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		upd := tx.Ent.Operation.UpdateOneID(op.ID).SetStatus(tenantd.OpRunning).SetAttempt(attempt)
		if op.StartedAt == nil {
			upd.SetStartedAt(s.machine.Now())
		}
		if err := upd.Exec(tenantd.SystemContext(ctx)); err != nil {
			return fmt.Errorf("start operation: %w", err)
		}
		return s.publishOp(ctx, tx, op)
	})
}

// runStep runs one step and checkpoints it in the same transaction as the
// step's own writes: either both happen or neither does.
func (s *Service) runStep(ctx context.Context, opID uuid.UUID, i, attempt int) error {
	sys := tenantd.SystemContext(ctx)
	// Mark the step RUNNING first, so that watchers see it start.
	var name string
	err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, opID)
		if err != nil {
			return err
		}
		steps := op.Steps
		name = steps[i].Name
		now := s.machine.Now()
		steps[i].Status, steps[i].StartedAt, steps[i].Detail = tenantd.StepRunning, &now, ""
		if attempt > 1 {
			steps[i].Detail = fmt.Sprintf("attempt %d", attempt)
		}
		if err := tx.Ent.Operation.UpdateOne(op).SetSteps(steps).Exec(sys); err != nil {
			return err
		}
		return s.publishOp(ctx, tx, op)
	})
	if err != nil {
		return fmt.Errorf("mark step running: %w", err)
	}
	if s.hooks.BeforeStep != nil {
		if err := s.hooks.BeforeStep(name, attempt); err != nil {
			s.recordStepError(ctx, opID, i, err)
			return err
		}
	}
	err = s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, opID)
		if err != nil {
			return err
		}
		t, err := tx.Ent.Tenant.Get(sys, op.TenantID)
		if err != nil {
			return err
		}
		detail, err := s.doStep(ctx, tx, op, t, name)
		if err != nil {
			return err
		}
		steps := op.Steps
		now := s.machine.Now()
		steps[i].Status, steps[i].FinishedAt, steps[i].Detail = tenantd.StepSucceeded, &now, detail
		done := 0
		for _, st := range steps {
			if st.Status == tenantd.StepSucceeded {
				done++
			}
		}
		upd := tx.Ent.Operation.UpdateOne(op).SetSteps(steps).SetProgressDone(done)
		if done == len(steps) {
			upd.SetStatus(tenantd.OpSucceeded).SetFinishedAt(now).ClearErrorCode().ClearErrorMessage().
				SetResult(map[string]any{"durationMs": now.Sub(op.CreatedAt).Milliseconds()})
		}
		if err := upd.Exec(sys); err != nil {
			return err
		}
		return s.publishOp(ctx, tx, op)
	})
	if err != nil {
		s.recordStepError(ctx, opID, i, err)
		return fmt.Errorf("step %s: %w", name, err)
	}
	return nil
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
		return fmt.Sprintf("%s workspace at %s", ws.Isolation, ws.Location), nil
	case StepIssueKeys:
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return "", err
		}
		err := tx.Ent.KeySet.Create().SetTenantID(t.ID).SetSigningKey(key).
			OnConflictColumns(keyset.FieldTenantID).DoNothing().Exec(sys)
		if err != nil && !isNoRows(err) {
			return "", fmt.Errorf("issue key set: %w", err)
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

// recordStepError notes a failed attempt on the step, so watchers see why.
func (s *Service) recordStepError(ctx context.Context, opID uuid.UUID, i int, stepErr error) {
	sys := tenantd.SystemContext(ctx)
	err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, opID)
		if err != nil {
			return err
		}
		steps := op.Steps
		steps[i].Detail = "failed: " + tenantd.ErrorMessage(stepErr)
		if err := tx.Ent.Operation.UpdateOne(op).SetSteps(steps).SetErrorMessage(steps[i].Detail).Exec(sys); err != nil {
			return err
		}
		return s.publishOp(ctx, tx, op)
	})
	if err != nil {
		s.log.Error("record step error", "operation", opID, "err", err)
	}
}

// failOperation gives up after the last attempt: the step and the operation
// are FAILED and the tenant moves to PROVISIONING_FAILED naming the step and
// the reason, in one transaction.
func (s *Service) failOperation(ctx context.Context, opID uuid.UUID, i int, stepErr error) error {
	sys := tenantd.SystemContext(ctx)
	return s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, opID)
		if err != nil {
			return err
		}
		steps := op.Steps
		now := s.machine.Now()
		steps[i].Status, steps[i].FinishedAt = tenantd.StepFailed, &now
		reason := fmt.Sprintf("step %s failed: %s", steps[i].Name, tenantd.ErrorMessage(stepErr))
		if tenantd.ErrorCode(stepErr) == tenantd.EINTERNAL {
			reason = fmt.Sprintf("step %s failed: %v", steps[i].Name, stepErr)
		}
		err = tx.Ent.Operation.UpdateOne(op).SetSteps(steps).SetStatus(tenantd.OpFailed).SetFinishedAt(now).
			SetErrorCode("PROVISIONING_FAILED").SetErrorMessage(reason).Exec(sys)
		if err != nil {
			return err
		}
		if _, err := s.machine.FireTx(ctx, tx, lifecycle.Request{
			TenantID: op.TenantID, Event: tenantd.EventFail,
			Actor:  lifecycle.Actor{By: tenantd.TriggerSystem, Name: "worker:provisioning"},
			Reason: reason, Metadata: map[string]any{"operation": op.ID.String(), "step": steps[i].Name},
		}); err != nil {
			return err
		}
		s.log.Error("provisioning failed", "tenant", op.TenantID, "operation", op.ID, "reason", reason)
		return s.publishOp(ctx, tx, op)
	})
}

func (s *Service) publishOp(ctx context.Context, tx *store.Tx, op *ent.Operation) error {
	return s.events.PublishTx(ctx, tx, events.Event{Kind: events.KindOperation, TenantID: op.TenantID, OperationID: op.ID})
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
		steps := op.Steps
		for i := range steps {
			if steps[i].Status != tenantd.StepSucceeded {
				steps[i].Status, steps[i].FinishedAt = tenantd.StepPending, nil
			}
		}
		job, err := s.jobs.InsertTx(ctx, tx.SQL, Args{OperationID: op.ID}, &river.InsertOpts{MaxAttempts: s.maxAttempts})
		if err != nil {
			return fmt.Errorf("enqueue provisioning: %w", err)
		}
		op, err = tx.Ent.Operation.UpdateOne(op).SetSteps(steps).SetStatus(tenantd.OpQueued).
			ClearErrorCode().ClearErrorMessage().ClearFinishedAt().SetJobID(job.Job.ID).Save(sys)
		if err != nil {
			return err
		}
		res.Operation = op
		return s.publishOp(ctx, tx, op)
	})
	if err != nil {
		return nil, err
	}
	return res.Unwrap(), nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

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
	for _, st := range op.Steps {
		err := s.db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
			t, err := tx.Ent.Tenant.Get(ctx, op.TenantID)
			if err != nil {
				return err
			}
			_, err = s.doStep(ctx, tx, op, t, st.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("rerun step %s: %w", st.Name, err)
		}
	}
	return nil
}
