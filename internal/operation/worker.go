package operation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/store"
)

// Args is the River job that carries an operation. Kind lets the worker
// pick the kind's timeout and retry policy without reading the row.
type Args struct {
	OperationID uuid.UUID             `json:"operation_id"`
	OpKind      tenantd.OperationKind `json:"kind,omitempty"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "operation" }

// Worker is the River worker of every operation kind.
type Worker struct {
	river.WorkerDefaults[Args]
	e *Engine
}

// Register adds the engine's worker to workers.
func (e *Engine) Register(workers *river.Workers) { river.AddWorker(workers, &Worker{e: e}) }

// Timeout implements river.Worker: the kind's own.
func (w *Worker) Timeout(job *river.Job[Args]) time.Duration {
	if k, ok := w.e.kinds[job.Args.OpKind]; ok {
		return k.Timeout
	}
	return w.e.MaxTimeout()
}

// NextRetry implements river.Worker: the kind's backoff.
func (w *Worker) NextRetry(job *river.Job[Args]) time.Time {
	backoff := func(a int) time.Duration { return min(time.Second<<min(a-1, 6), time.Minute) }
	if k, ok := w.e.kinds[job.Args.OpKind]; ok {
		backoff = k.Backoff
	}
	return time.Now().Add(backoff(job.Attempt)) // River schedules in real time
}

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	return w.e.Work(ctx, job.Args.OperationID, job.Attempt, job.MaxAttempts)
}

// Work runs the operation from its first unfinished step. A finished
// operation is left alone, so a duplicate job or a re-run does nothing. On
// the last attempt (attempt >= maxAttempts) a failing step fails the
// operation and the job is cancelled; before it, the error makes River
// retry.
func (e *Engine) Work(ctx context.Context, opID uuid.UUID, attempt, maxAttempts int) error {
	ctx = tenantd.SystemContext(ctx)
	op, err := e.db.Ent.Operation.Get(ctx, opID)
	if ent.IsNotFound(err) {
		return river.JobCancel(fmt.Errorf("operation %s does not exist", opID))
	}
	if err != nil {
		return fmt.Errorf("load operation: %w", err)
	}
	if op.Status.Done() {
		return nil
	}
	k, ok := e.kinds[op.Kind]
	if !ok {
		return river.JobCancel(fmt.Errorf("operation %s: kind %s is not registered", opID, op.Kind))
	}
	if len(op.Steps) != len(k.Steps) {
		return river.JobCancel(fmt.Errorf("operation %s has %d steps, kind %s has %d", opID, len(op.Steps), op.Kind, len(k.Steps)))
	}
	if err := e.startAttempt(ctx, op, attempt); err != nil {
		return err
	}
	for i := range op.Steps {
		if op.Steps[i].Status == tenantd.StepSucceeded {
			continue
		}
		if err := e.runStep(ctx, k, opID, i, attempt); err != nil {
			var again continueError
			if errors.As(err, &again) {
				return river.JobSnooze(again.after)
			}
			if attempt >= maxAttempts || IsPermanent(err) {
				// The job's context may be what ended the step (the kind's
				// timeout): the failure is recorded beyond it.
				bctx, cancel := bookkeeping(ctx)
				defer cancel()
				undoErr := e.undo(bctx, k, opID, i, err)
				if ferr := e.fail(bctx, k, opID, i, err, undoErr); ferr != nil {
					return errors.Join(err, ferr)
				}
				return river.JobCancel(err)
			}
			e.log.Warn("operation step failed; will retry", "kind", op.Kind, "operation", opID, "step", k.Steps[i].Name,
				"attempt", attempt, "of", maxAttempts, "err", err)
			return err
		}
		if e.hooks.AfterStep != nil {
			e.hooks.AfterStep(op.Kind, k.Steps[i].Name)
		}
	}
	return nil
}

// startAttempt marks the operation RUNNING with the job's attempt.
func (e *Engine) startAttempt(ctx context.Context, op *ent.Operation, attempt int) error {
	return e.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		upd := tx.Ent.Operation.UpdateOneID(op.ID).SetStatus(tenantd.OpRunning).SetAttempt(attempt)
		if op.StartedAt == nil {
			upd.SetStartedAt(e.now())
		}
		if err := upd.Exec(tenantd.SystemContext(ctx)); err != nil {
			return fmt.Errorf("start operation: %w", err)
		}
		return e.publish(ctx, tx, op)
	})
}

// runStep runs one step and checkpoints it: a Tx step in the same
// transaction as its own writes (both happen or neither does), a Do step
// right after it returns.
func (e *Engine) runStep(ctx context.Context, k *Kind, opID uuid.UUID, i, attempt int) error {
	sys := tenantd.SystemContext(ctx)
	step := k.Steps[i]
	// Mark the step RUNNING first, so that watchers see it start.
	err := e.updateStep(ctx, opID, i, func(s *tenantd.OperationStep) {
		now := e.now()
		s.Status, s.StartedAt, s.Detail = tenantd.StepRunning, &now, ""
		if attempt > 1 {
			s.Detail = fmt.Sprintf("attempt %d", attempt)
		}
	})
	if err != nil {
		return fmt.Errorf("mark step running: %w", err)
	}
	if e.hooks.BeforeStep != nil {
		if err := e.hooks.BeforeStep(k.Name, step.Name, attempt); err != nil {
			e.recordStepError(ctx, opID, i, err)
			return err
		}
	}
	var detail string
	run := &Run{Attempt: attempt, step: i, engine: e}
	if step.Do != nil {
		op, err := e.db.Ent.Operation.Get(sys, opID)
		if err == nil {
			var t *ent.Tenant
			if t, err = e.db.Ent.Tenant.Get(sys, op.TenantID); err == nil {
				run.Op, run.Tenant = op, t
				detail, err = step.Do(ctx, run)
			}
		}
		var again continueError
		if errors.As(err, &again) {
			return err
		}
		if err != nil {
			e.recordStepError(ctx, opID, i, err)
			return fmt.Errorf("step %s: %w", step.Name, err)
		}
	}
	err = e.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, opID)
		if err != nil {
			return err
		}
		if step.Tx != nil {
			t, err := tx.Ent.Tenant.Get(sys, op.TenantID)
			if err != nil {
				return err
			}
			run.Op, run.Tenant, run.set = op, t, nil
			if detail, err = step.Tx(ctx, tx, run); err != nil {
				return err
			}
		}
		steps := op.Steps
		now := e.now()
		steps[i].Status, steps[i].FinishedAt, steps[i].Detail = tenantd.StepSucceeded, &now, detail
		done := 0
		for _, st := range steps {
			if st.Status == tenantd.StepSucceeded {
				done++
			}
		}
		upd := tx.Ent.Operation.UpdateOne(op).SetSteps(steps).SetProgressDone(done)
		res := map[string]any{}
		for k, v := range op.Result {
			res[k] = v
		}
		for k, v := range run.set {
			res[k] = v
		}
		if done == len(steps) {
			res["durationMs"] = now.Sub(op.CreatedAt).Milliseconds()
			upd.SetStatus(tenantd.OpSucceeded).SetFinishedAt(now).ClearErrorCode().ClearErrorMessage()
		}
		if len(res) > 0 {
			upd.SetResult(res)
		}
		if err := upd.Exec(sys); err != nil {
			return err
		}
		return e.publish(ctx, tx, op)
	})
	if err != nil {
		e.recordStepError(ctx, opID, i, err)
		return fmt.Errorf("step %s: %w", step.Name, err)
	}
	return nil
}

// updateStep changes step i of the operation in its own transaction and
// publishes the change.
func (e *Engine) updateStep(ctx context.Context, opID uuid.UUID, i int, f func(*tenantd.OperationStep)) error {
	sys := tenantd.SystemContext(ctx)
	return e.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, opID)
		if err != nil {
			return err
		}
		steps := op.Steps
		f(&steps[i])
		if err := tx.Ent.Operation.UpdateOne(op).SetSteps(steps).Exec(sys); err != nil {
			return err
		}
		return e.publish(ctx, tx, op)
	})
}

// bookkeeping is the context of recording a failure: the job's context
// without its deadline or cancellation (the step may have failed because its
// timeout ran out), bounded on its own.
func bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// recordStepError notes a failed attempt on the step, so watchers see why.
func (e *Engine) recordStepError(ctx context.Context, opID uuid.UUID, i int, stepErr error) {
	ctx, cancel := bookkeeping(ctx)
	defer cancel()
	sys := tenantd.SystemContext(ctx)
	err := e.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, opID)
		if err != nil {
			return err
		}
		steps := op.Steps
		steps[i].Detail = "failed: " + tenantd.ErrorMessage(stepErr)
		if err := tx.Ent.Operation.UpdateOne(op).SetSteps(steps).SetErrorMessage(steps[i].Detail).Exec(sys); err != nil {
			return err
		}
		return e.publish(ctx, tx, op)
	})
	if err != nil {
		e.log.Error("record step error", "operation", opID, "err", err)
	}
}

// fail gives up after the last attempt: the step and the operation are
// FAILED with the error's code and message, and the kind's OnFail runs, in
// one transaction. This is the one place that maps an operation's error to
// its code and message.
func (e *Engine) fail(ctx context.Context, k *Kind, opID uuid.UUID, i int, stepErr, undoErr error) error {
	sys := tenantd.SystemContext(ctx)
	return e.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, opID)
		if err != nil {
			return err
		}
		steps := op.Steps
		now := e.now()
		steps[i].Status, steps[i].FinishedAt = tenantd.StepFailed, &now
		f := failureOf(k, steps[i].Name, stepErr)
		if undoErr != nil {
			f.Message += fmt.Sprintf("; undoing the finished steps failed too: %v", undoErr)
		}
		err = tx.Ent.Operation.UpdateOne(op).SetSteps(steps).SetStatus(tenantd.OpFailed).SetFinishedAt(now).
			SetErrorCode(f.Code).SetErrorMessage(f.Message).Exec(sys)
		if err != nil {
			return err
		}
		if k.OnFail != nil {
			t, err := tx.Ent.Tenant.Get(sys, op.TenantID)
			if err != nil {
				return err
			}
			if err := k.OnFail(ctx, tx, &Run{Op: op, Tenant: t, step: i, engine: e}, f); err != nil {
				return err
			}
		}
		e.log.Error("operation failed", "kind", op.Kind, "tenant", op.TenantID, "operation", op.ID, "reason", f.Message)
		return e.publish(ctx, tx, op)
	})
}

// failureOf maps the error of a step to the operation's code and message.
func failureOf(k *Kind, step string, stepErr error) Failure {
	f := Failure{Step: step, Err: stepErr, Code: k.ErrorCode}
	if f.Code == "" {
		f.Code = tenantd.ErrorCode(stepErr)
	}
	f.Message = fmt.Sprintf("step %s failed: %s", step, tenantd.ErrorMessage(stepErr))
	if tenantd.ErrorCode(stepErr) == tenantd.EINTERNAL {
		f.Message = fmt.Sprintf("step %s failed: %v", step, stepErr)
	}
	return f
}

// undo runs the kind's Undo, if any, for an operation giving up at step i.
func (e *Engine) undo(ctx context.Context, k *Kind, opID uuid.UUID, i int, stepErr error) error {
	if k.Undo == nil {
		return nil
	}
	sys := tenantd.SystemContext(ctx)
	op, err := e.db.Ent.Operation.Get(sys, opID)
	if err != nil {
		return err
	}
	t, err := e.db.Ent.Tenant.Get(sys, op.TenantID)
	if err != nil {
		return err
	}
	err = k.Undo(ctx, &Run{Op: op, Tenant: t, step: i, engine: e}, failureOf(k, op.Steps[i].Name, stepErr))
	if err != nil {
		e.log.Error("undoing a failed operation's steps failed", "kind", op.Kind, "operation", op.ID, "err", err)
	}
	return err
}
