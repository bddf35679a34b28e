// Package operation is the one engine that runs every long-running action
// on a tenant — PROVISION, CHANGE_PLAN, EXPORT, DELETE, RESTORE, PURGE,
// REACTIVATE, CANCEL — as a checkpointed sequence of steps carried by a
// River job.
//
// A capability declares a Kind: its steps, its job timeout, its retry
// policy, and what a failure after the last attempt means for the tenant.
// The engine does the rest, the same way for every kind:
//
//   - the Operation row and its River job are inserted in the transaction
//     that asks for them (usually a lifecycle transition's: StartTx);
//   - a run resumes at the first step that has not succeeded, so a crash or
//     a retry never repeats a finished step;
//   - a step either runs inside the transaction that checkpoints it (Tx: its
//     writes and its checkpoint commit together), or outside any transaction
//     (Do: a call to another system, or long work that commits as it goes)
//     and must then be idempotent on Run.Key — the key to hand on to a
//     billing provider, for example;
//   - every step's start, end and failure is published (internal/events),
//     so operationProgress subscribers see it;
//   - one place (fail) maps the error of the last attempt to the
//     operation's error code and message, and runs the kind's OnFail in the
//     same transaction.
//
// River's job timeout follows each kind's own Timeout; the server sizes
// River's rescue of stuck jobs by the longest one (MaxTimeout).
package operation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/store"
)

// Kind declares one kind of operation.
type Kind struct {
	// Name is the operation kind.
	Name tenantd.OperationKind
	// Steps run in order.
	Steps []Step
	// Queue is the River queue of its jobs (default river.QueueDefault).
	Queue string
	// Timeout bounds one run of its job (default 30 s). A kind whose work
	// takes longer splits it into steps that commit as they go.
	Timeout time.Duration
	// Leased says its long steps guard themselves with a lease against a
	// second run while the first is alive (an export, which cannot split
	// its one snapshot over runs): River's rescue of stuck jobs, sized by
	// MaxTimeout, need not wait for this kind's Timeout.
	Leased bool
	// MaxAttempts is how often its job runs before the operation fails
	// (default 8).
	MaxAttempts int
	// Backoff is the wait before attempt n+1 (default: 1 s doubling, at
	// most a minute).
	Backoff func(attempt int) time.Duration
	// ErrorCode is the operation's error code when it fails (default: the
	// tenantd code of the error, INTERNAL for others).
	ErrorCode string
	// OnFail runs in the transaction that marks the operation FAILED after
	// its last attempt: what the failure means for the tenant (provisioning
	// fires fail, so the tenant is PROVISIONING_FAILED). Nil leaves the
	// tenant as it is: the operation alone failed.
	OnFail func(ctx context.Context, tx *store.Tx, r *Run, failure Failure) error
	// Undo, if set, runs outside any transaction when the operation gives
	// up, before OnFail: it takes back what finished steps did outside
	// tenantd's database (a plan change's billing call), idempotently on
	// Run.Key()+":undo". Its error does not stop the failure from being
	// recorded; the operation's message then says the undo failed too.
	Undo func(ctx context.Context, r *Run, failure Failure) error
}

// Permanent marks a step's error as one that no retry can mend (a declined
// card, a transition the tenant's state no longer allows): the operation
// gives up at once instead of after its last attempt.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Failure is how an operation failed.
type Failure struct {
	Step    string
	Err     error
	Code    string
	Message string
}

// Step is one checkpointed step. Exactly one of Tx and Do is set.
type Step struct {
	Name string
	// Tx runs inside the transaction that checkpoints the step. It returns
	// a detail for watchers ("pool workspace at …").
	Tx func(ctx context.Context, tx *store.Tx, r *Run) (detail string, err error)
	// Do runs outside any transaction; it must be idempotent (Run.Key).
	Do func(ctx context.Context, r *Run) (detail string, err error)
}

// Run is what a step sees.
type Run struct {
	// Op is the operation as it was when the step started.
	Op *ent.Operation
	// Tenant is the operation's tenant: read in the step's transaction for
	// a Tx step, just before the step for a Do step.
	Tenant  *ent.Tenant
	Attempt int
	step    int
	engine  *Engine
	set     map[string]any
}

// Set records v under key in the operation's result, with the step's
// checkpoint: later steps read it in Op.Result (as JSON decodes it), and it
// stays on the operation when it is done.
func (r *Run) Set(key string, v any) {
	if r.set == nil {
		r.set = map[string]any{}
	}
	r.set[key] = v
}

// Save records values in the operation's result at once, in a transaction
// of its own, and publishes the change: what a long Do step keeps as it
// goes (its cursor, its progress), so that a crash resumes from it and
// watchers see it. A later Set of the same key wins at the checkpoint.
func (r *Run) Save(ctx context.Context, values map[string]any) error {
	sys := tenantd.SystemContext(ctx)
	return r.engine.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		op, err := tx.Ent.Operation.Get(sys, r.Op.ID)
		if err != nil {
			return err
		}
		res := map[string]any{}
		for k, v := range op.Result {
			res[k] = v
		}
		for k, v := range values {
			res[k] = v
		}
		if err := tx.Ent.Operation.UpdateOne(op).SetResult(res).Exec(sys); err != nil {
			return fmt.Errorf("save operation result: %w", err)
		}
		return r.engine.publish(ctx, tx, op)
	})
}

// Continue is what a Do step returns when it has done part of its work and
// wants to go on in a new run of its job after a pause (its job's timeout
// is near, or it waits for time to pass): the job is snoozed, no attempt
// is spent, and the step starts again — from what it saved (Run.Save).
func Continue(after time.Duration) error { return continueError{after} }

type continueError struct{ after time.Duration }

func (c continueError) Error() string { return fmt.Sprintf("continue in %s", c.after) }

// UnderWay returns the tenant's operation of kind that is QUEUED or
// RUNNING, or nil if none is: what a capability asks before it starts a
// second one, or before a step that must come after it.
func UnderWay(ctx context.Context, client *ent.Client, tenantID uuid.UUID, kind tenantd.OperationKind) (*ent.Operation, error) {
	op, err := client.Operation.Query().
		Where(operation.TenantID(tenantID), operation.KindEQ(kind), operation.StatusIn(tenantd.OpQueued, tenantd.OpRunning)).
		First(tenantd.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return op, err
}

// WaitFor is what a Do step returns first when it must come after the
// tenant's operation of kind: Continue(after) while one is under way, nil
// once none is.
func (r *Run) WaitFor(ctx context.Context, kind tenantd.OperationKind, after time.Duration) error {
	op, err := UnderWay(ctx, r.engine.db.Ent, r.Op.TenantID, kind)
	if err != nil {
		return err
	}
	if op != nil {
		return Continue(after)
	}
	return nil
}

// Key is the idempotency key of this step of this operation, the same on
// every attempt: hand it on to other systems so that a step run twice has
// one effect.
func (r *Run) Key() string {
	return fmt.Sprintf("op:%s:%s", r.Op.ID, r.Op.Steps[r.step].Name)
}

// Step returns the name of the running step.
func (r *Run) Step() string { return r.Op.Steps[r.step].Name }

// Report sets the running step's detail ("12,000 of 50,000 rows") and
// publishes it, for long Do steps.
func (r *Run) Report(ctx context.Context, detail string) error {
	return r.engine.updateStep(ctx, r.Op.ID, r.step, func(s *tenantd.OperationStep) { s.Detail = detail })
}

// JobInserter inserts River jobs in a transaction; *river.Client[*sql.Tx]
// is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Hooks let tests inject failures. Production code leaves them nil.
type Hooks struct {
	// BeforeStep runs before each step and may fail it.
	BeforeStep func(kind tenantd.OperationKind, step string, attempt int) error
	// AfterStep runs after a step has committed its checkpoint (tests: a
	// crash between two steps).
	AfterStep func(kind tenantd.OperationKind, step string)
}

// Config wires an Engine.
type Config struct {
	DB     *store.DB
	Jobs   JobInserter
	Events *events.Publisher
	Clock  tenantd.Clock
	Logger *slog.Logger
	Hooks  Hooks
}

// Engine runs operations of the kinds registered with it.
type Engine struct {
	db     *store.DB
	jobs   JobInserter
	events *events.Publisher
	clock  tenantd.Clock
	log    *slog.Logger
	hooks  Hooks
	kinds  map[tenantd.OperationKind]*Kind
}

// New returns an Engine with no kinds.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{db: cfg.DB, jobs: cfg.Jobs, events: cfg.Events, clock: tenantd.ClockOr(cfg.Clock),
		log: cfg.Logger, hooks: cfg.Hooks, kinds: map[tenantd.OperationKind]*Kind{}}
}

// Add registers a kind. It panics on a kind without steps, a step that is
// not exactly one of Tx and Do, or a kind registered twice: wiring bugs.
func (e *Engine) Add(k Kind) {
	if len(k.Steps) == 0 {
		panic(fmt.Sprintf("operation: kind %s has no steps", k.Name))
	}
	for _, s := range k.Steps {
		if (s.Tx == nil) == (s.Do == nil) {
			panic(fmt.Sprintf("operation: step %s of %s needs exactly one of Tx and Do", s.Name, k.Name))
		}
	}
	if _, ok := e.kinds[k.Name]; ok {
		panic(fmt.Sprintf("operation: kind %s registered twice", k.Name))
	}
	if k.Queue == "" {
		k.Queue = river.QueueDefault
	}
	if k.Timeout == 0 {
		k.Timeout = 30 * time.Second
	}
	if k.MaxAttempts == 0 {
		k.MaxAttempts = 8
	}
	if k.Backoff == nil {
		k.Backoff = func(attempt int) time.Duration {
			return min(time.Second<<min(attempt-1, 6), time.Minute)
		}
	}
	e.kinds[k.Name] = &k
}

// SetJobs gives the engine its job inserter (the River client is made
// after the workers are registered).
func (e *Engine) SetJobs(j JobInserter) { e.jobs = j }

// MaxTimeout is the longest job timeout of the registered kinds that are
// not Leased: River must not rescue a job as stuck before it.
func (e *Engine) MaxTimeout() time.Duration {
	var d time.Duration
	for _, k := range e.kinds {
		if !k.Leased {
			d = max(d, k.Timeout)
		}
	}
	return d
}

// Queues returns the queues the registered kinds use.
func (e *Engine) Queues() []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range e.kinds {
		if !seen[k.Queue] {
			seen[k.Queue] = true
			out = append(out, k.Queue)
		}
	}
	return out
}

// Spec asks for an operation of a kind.
type Spec struct {
	Kind           tenantd.OperationKind
	Params         map[string]any
	IdempotencyKey string
	// RequestedBy names who asked, for the audit trail (an actor name).
	RequestedBy string
}

// StartTx creates the operation, QUEUED with its steps PENDING, and inserts
// its River job, inside tx: both exist if and only if tx commits.
func (e *Engine) StartTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, spec Spec) (*ent.Operation, error) {
	k, ok := e.kinds[spec.Kind]
	if !ok {
		return nil, fmt.Errorf("operation: kind %s is not registered", spec.Kind)
	}
	if e.jobs == nil {
		return nil, errors.New("operation: the engine has no job inserter")
	}
	sys := tenantd.SystemContext(ctx)
	opID := schema.NewID()
	job, err := e.jobs.InsertTx(ctx, tx.SQL, Args{OperationID: opID, OpKind: k.Name}, e.insertOpts(k))
	if err != nil {
		return nil, fmt.Errorf("enqueue %s job: %w", spec.Kind, err)
	}
	steps := make([]tenantd.OperationStep, len(k.Steps))
	for i, s := range k.Steps {
		steps[i] = tenantd.OperationStep{Name: s.Name, Status: tenantd.StepPending}
	}
	create := tx.Ent.Operation.Create().
		SetID(opID).SetTenantID(tenantID).SetKind(spec.Kind).
		SetStatus(tenantd.OpQueued).SetSteps(steps).SetProgressTotal(len(steps)).
		SetParams(spec.Params).SetRequestedBy(spec.RequestedBy).SetJobID(job.Job.ID).
		SetCreatedAt(e.now())
	if spec.IdempotencyKey != "" {
		create.SetIdempotencyKey(spec.IdempotencyKey)
	}
	op, err := create.Save(sys)
	if err != nil {
		return nil, fmt.Errorf("create %s operation: %w", spec.Kind, err)
	}
	if err := e.publish(ctx, tx, op); err != nil {
		return nil, err
	}
	return op, nil
}

// RequeueTx puts a FAILED operation back in the queue with a new job,
// inside tx: the steps that succeeded stay done, the others run again.
func (e *Engine) RequeueTx(ctx context.Context, tx *store.Tx, op *ent.Operation) (*ent.Operation, error) {
	k, ok := e.kinds[op.Kind]
	if !ok {
		return nil, fmt.Errorf("operation: kind %s is not registered", op.Kind)
	}
	steps := op.Steps
	for i := range steps {
		if steps[i].Status != tenantd.StepSucceeded {
			steps[i].Status, steps[i].FinishedAt = tenantd.StepPending, nil
		}
	}
	job, err := e.jobs.InsertTx(ctx, tx.SQL, Args{OperationID: op.ID, OpKind: k.Name}, e.insertOpts(k))
	if err != nil {
		return nil, fmt.Errorf("enqueue %s job: %w", op.Kind, err)
	}
	op, err = tx.Ent.Operation.UpdateOne(op).SetSteps(steps).SetStatus(tenantd.OpQueued).
		ClearErrorCode().ClearErrorMessage().ClearFinishedAt().SetJobID(job.Job.ID).Save(tenantd.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	return op, e.publish(ctx, tx, op)
}

func (e *Engine) insertOpts(k *Kind) *river.InsertOpts {
	return &river.InsertOpts{Queue: k.Queue, MaxAttempts: k.MaxAttempts}
}

// Rerun runs every step of a finished operation again, each in its own
// transaction (Do steps outside one), without touching the operation: the
// proof that a kind's steps are idempotent (readiness check 4 for
// provisioning). Run on a finished operation it must change nothing.
//
// Returns INVALID_INPUT if the operation has not SUCCEEDED.
func (e *Engine) Rerun(ctx context.Context, opID uuid.UUID) error {
	sys := tenantd.SystemContext(ctx)
	op, err := e.db.Ent.Operation.Get(sys, opID)
	if err != nil {
		return fmt.Errorf("load operation: %w", err)
	}
	k, ok := e.kinds[op.Kind]
	if !ok || op.Status != tenantd.OpSucceeded {
		return tenantd.Errorf(tenantd.EINVALID, "operation %s is not a finished operation of a known kind", opID)
	}
	for i, st := range k.Steps {
		r := &Run{Op: op, step: i, engine: e, Attempt: op.Attempt}
		if st.Do != nil {
			if r.Tenant, err = e.db.Ent.Tenant.Get(sys, op.TenantID); err != nil {
				return err
			}
			if _, err := st.Do(sys, r); err != nil {
				return fmt.Errorf("rerun step %s: %w", st.Name, err)
			}
			continue
		}
		err := e.db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
			t, err := tx.Ent.Tenant.Get(ctx, op.TenantID)
			if err != nil {
				return err
			}
			r.Tenant = t
			_, err = st.Tx(ctx, tx, r)
			return err
		})
		if err != nil {
			return fmt.Errorf("rerun step %s: %w", st.Name, err)
		}
	}
	return nil
}

func (e *Engine) now() time.Time { return tenantd.Now(e.clock) }

func (e *Engine) publish(ctx context.Context, tx *store.Tx, op *ent.Operation) error {
	return e.events.PublishTx(ctx, tx, events.Event{Kind: events.KindOperation, TenantID: op.TenantID, OperationID: op.ID})
}

// Done reports whether the operation's step of that name has succeeded (as
// the operation was when this step, or the undo, started).
func (r *Run) Done(step string) bool {
	for _, s := range r.Op.Steps {
		if s.Name == step {
			return s.Status == tenantd.StepSucceeded
		}
	}
	return false
}
