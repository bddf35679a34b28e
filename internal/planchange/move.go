package planchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/lifecycle"
	engine "github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// The data move of a CHANGE_PLAN whose plans differ in isolation, as the
// operation's steps (the phases are workspace's, move.go there):
//
//	prepare  the empty target is made and recorded; writes track changes
//	copy     the bulk copy, in batches, cursor and progress saved as it goes
//	verify   every row compared with the target; then a catch-up
//	billing  (the plan's price; nothing is charged before the data is ready)
//	apply    writes held: the last rows, counts, the switch and the plan, in one transaction
//	cleanup  the source is destroyed, after a grace for reads still on it
//
// A change within one isolation runs the same steps; the move's are no-ops
// ("no data moves"). A failure before apply abandons the move (the target
// is destroyed, the tenant never left its source) and takes the billing
// change back.

// The steps of CHANGE_PLAN, in order.
const (
	StepPrepare = "prepare"
	StepCopy    = "copy"
	StepVerify  = "verify"
	StepCleanup = "cleanup"
)

// The phases a move shows on operationProgress (Operation.result.move).
const (
	PhaseCopy     = "COPY"
	PhaseVerify   = "VERIFY"
	PhaseCutover  = "CUTOVER"
	PhaseSwitched = "SWITCHED"
	PhaseCleanup  = "CLEANUP"
	PhaseDone     = "DONE"
)

// DefaultSourceGrace is how long the source of a move is kept after the
// switch for reads that started before it.
const DefaultSourceGrace = 5 * time.Second

// MoveState is what a move keeps on its operation (result "move") as it
// goes: the phase and its progress for watchers, the cursor to resume at.
type MoveState struct {
	Phase      string               `json:"phase"`
	Rows       int64                `json:"rows"`
	RowsTotal  int64                `json:"rowsTotal"`
	Bytes      int64                `json:"bytes"`
	BytesTotal int64                `json:"bytesTotal"`
	Cursor     workspace.MoveCursor `json:"cursor"`
	Generation int                  `json:"generation"`
	From       string               `json:"from"`
	To         string               `json:"to"`
	// WritePauseMs is how long writes were held at the switch.
	WritePauseMs float64 `json:"writePauseMs,omitempty"`
}

// MoveStateOf reads an operation's move state; nil when it has none.
func MoveStateOf(result map[string]any) *MoveState {
	v, ok := result["move"]
	if !ok {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var st MoveState
	if json.Unmarshal(b, &st) != nil {
		return nil
	}
	return &st
}

func (s *Service) saveMove(ctx context.Context, r *engine.Run, st *MoveState) error {
	return r.Save(ctx, map[string]any{"move": st})
}

func moves(r *engine.Run) bool {
	from, to := param(r, "fromIsolation"), param(r, "toIsolation")
	return from != "" && to != "" && from != to
}

const noMove = "no data moves"

// prepare begins the move: the target workspace is made, empty, and
// recorded on the placement; from then on every write also goes in the
// source's change log.
func (s *Service) prepare(ctx context.Context, r *engine.Run) (string, error) {
	if !moves(r) {
		return noMove, nil
	}
	to := tenantd.Isolation(param(r, "toIsolation"))
	m, err := s.ws.BeginMove(ctx, r.Tenant.ID, to)
	if err != nil {
		if tenantd.ErrorCode(err) != tenantd.EINTERNAL {
			err = engine.Permanent(err)
		}
		return "", err
	}
	totals, err := s.ws.MoveTotals(ctx, m)
	if err != nil {
		return "", err
	}
	st := &MoveState{Phase: PhaseCopy, RowsTotal: totals.Documents + totals.Queries, BytesTotal: totals.Bytes,
		Generation: m.Generation, From: string(m.Isolation), To: string(to)}
	if err := s.saveMove(ctx, r, st); err != nil {
		return "", err
	}
	s.log.Info("workspace move begun", "tenant", r.Tenant.ID, "from", m.Location, "to", m.Target.Location,
		"rows", st.RowsTotal, "bytes", st.BytesTotal)
	// Details are shown to the tenant: no server paths or schema names.
	return fmt.Sprintf("empty %s workspace made; %d rows, %d bytes to copy", strings.ToLower(string(to)), st.RowsTotal, st.BytesTotal), nil
}

// moving returns the move under way and its saved state.
func (s *Service) moving(ctx context.Context, r *engine.Run) (*workspace.Placement, *MoveState, error) {
	st := MoveStateOf(r.Op.Result)
	if st == nil {
		return nil, nil, engine.Permanent(tenantd.Errorf(tenantd.ECONFLICT, "operation %s has no move state", r.Op.ID))
	}
	m, err := s.ws.Placement(ctx, r.Tenant.ID)
	if err != nil {
		return nil, nil, err
	}
	if m.Target == nil || m.Generation != st.Generation {
		return nil, nil, engine.Permanent(tenantd.Errorf(tenantd.ECONFLICT,
			"the workspace of tenant %s has no move under way from generation %d", r.Tenant.ID, st.Generation))
	}
	return m, st, nil
}

// sliceBudget is how long one run of a long step works before it continues
// in a new run of its job: half the kind's 30 s timeout, leaving room for
// the batch under way.
const sliceBudget = 15 * time.Second

// batches runs a phase batch by batch from the saved cursor, saving the
// cursor and the progress after each, until it is done or the job's time
// runs short (then the step continues in a new run).
func (s *Service) batches(ctx context.Context, r *engine.Run, phase string,
	next func(context.Context, *workspace.Placement, workspace.MoveCursor) (workspace.MoveCursor, workspace.MoveStats, error)) (*workspace.Placement, *MoveState, error) {
	m, st, err := s.moving(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	if st.Phase != phase {
		// The first run of this phase: count from the start.
		st.Phase, st.Rows, st.Bytes, st.Cursor = phase, 0, 0, workspace.MoveCursor{}
	}
	started := tenantd.Now(s.clock)
	for !st.Cursor.Done {
		cur, n, err := next(ctx, m, st.Cursor)
		if err != nil {
			if errors.Is(err, workspace.ErrVerification) {
				err = engine.Permanent(err)
			}
			return nil, nil, err
		}
		st.Cursor, st.Rows, st.Bytes = cur, st.Rows+n.Rows, st.Bytes+n.Bytes
		st.RowsTotal, st.BytesTotal = max(st.RowsTotal, st.Rows), max(st.BytesTotal, st.Bytes)
		if err := s.saveMove(ctx, r, st); err != nil {
			return nil, nil, err
		}
		if !st.Cursor.Done && tenantd.Now(s.clock).Sub(started) > sliceBudget {
			return nil, nil, engine.Continue(0)
		}
	}
	// What was written meanwhile.
	if err := s.ws.CatchUpAll(ctx, m); err != nil {
		if errors.Is(err, workspace.ErrVerification) {
			err = engine.Permanent(err)
		}
		return nil, nil, err
	}
	return m, st, nil
}

// copyData is the bulk copy.
func (s *Service) copyData(ctx context.Context, r *engine.Run) (string, error) {
	if !moves(r) {
		return noMove, nil
	}
	_, st, err := s.batches(ctx, r, PhaseCopy, s.ws.CopyBatch)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("copied %d rows, %d bytes", st.Rows, st.Bytes), nil
}

// verify compares every row of the source with the target.
func (s *Service) verify(ctx context.Context, r *engine.Run) (string, error) {
	if !moves(r) {
		return noMove, nil
	}
	_, st, err := s.batches(ctx, r, PhaseVerify, s.ws.VerifyBatch)
	if err != nil {
		return "", err
	}
	st.Phase = PhaseCutover
	if err := s.saveMove(ctx, r, st); err != nil {
		return "", err
	}
	return fmt.Sprintf("verified %d rows, %d bytes", st.Rows, st.Bytes), nil
}

// applyPlan records the new plan; across isolation, inside the switch.
func (s *Service) applyPlan(ctx context.Context, r *engine.Run) (string, error) {
	to, err := s.planOf(ctx, param(r, "to"))
	if err != nil {
		return "", engine.Permanent(err)
	}
	if r.Tenant.PlanID == to.ID {
		// This step committed before a crash kept it from checkpointing.
		return fmt.Sprintf("plan %s → %s", param(r, "from"), to.Key), nil
	}
	if !moves(r) {
		err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error { return s.applyTx(ctx, tx, r, to.ID) })
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("plan %s → %s", param(r, "from"), to.Key), nil
	}
	_, st, err := s.moving(ctx, r)
	if err != nil {
		return "", err
	}
	res, err := s.ws.Switch(ctx, r.Tenant.ID, st.Generation, func(ctx context.Context, tx *store.Tx, _ wsdriver.Placement) error {
		return s.applyTx(ctx, tx, r, to.ID)
	})
	if err != nil {
		if errors.Is(err, workspace.ErrVerification) {
			err = engine.Permanent(err)
		}
		return "", err
	}
	st.Phase, st.WritePauseMs = PhaseSwitched, float64(res.Pause.Microseconds())/1000
	st.Rows, st.RowsTotal = res.Counts.Documents+res.Counts.Queries, res.Counts.Documents+res.Counts.Queries
	st.Bytes, st.BytesTotal = res.Counts.Bytes, res.Counts.Bytes
	if err := s.saveMove(ctx, r, st); err != nil {
		s.log.Warn("save move state after the switch", "operation", r.Op.ID, "err", err)
	}
	s.log.Info("workspace switched", "tenant", r.Tenant.ID, "from", res.From.Location, "writes held", res.Pause,
		"rows caught up while held", res.CaughtUp.Rows, "documents", res.Counts.Documents)
	return fmt.Sprintf("plan %s → %s; switched to %s (writes held %.1f ms, %d rows caught up)",
		param(r, "from"), to.Key, st.To, st.WritePauseMs, res.CaughtUp.Rows), nil
}

// cleanup destroys the source once the grace for reads on it has passed.
func (s *Service) cleanup(ctx context.Context, r *engine.Run) (string, error) {
	if !moves(r) {
		return noMove, nil
	}
	from := tenantd.Isolation(param(r, "fromIsolation"))
	current, err := s.ws.Placement(ctx, r.Tenant.ID)
	if err != nil {
		return "", err
	}
	if current.Isolation == from {
		// Never destroy what requests use.
		return "", engine.Permanent(tenantd.Errorf(tenantd.ECONFLICT, "the tenant's workspace is still %s: the source is not destroyed", from))
	}
	for _, step := range r.Op.Steps {
		if step.Name == StepApply && step.FinishedAt != nil {
			if wait := step.FinishedAt.Add(s.grace).Sub(tenantd.Now(s.clock)); wait > 0 {
				return "", engine.Continue(wait)
			}
		}
	}
	source := s.ws.PlacementAt(r.Tenant.ID, from)
	var (
		report map[string]any
		clean  func() error
	)
	err = s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) (err error) {
		report, clean, err = s.ws.DestroyAtTx(ctx, tx, source)
		return err
	})
	if err != nil {
		return "", err
	}
	if err := clean(); err != nil {
		return "", fmt.Errorf("remove the source of the move: %w", err)
	}
	if st := MoveStateOf(r.Op.Result); st != nil {
		st.Phase = PhaseDone
		r.Set("move", st)
	}
	s.log.Info("workspace move finished: source destroyed", "tenant", r.Tenant.ID, "source", source.Location, "report", report)
	return fmt.Sprintf("the %s copy is destroyed", strings.ToLower(string(from))), nil
}

// abandonMove runs when the operation fails before the switch: the target
// is destroyed with the placement's record of it, in the transaction that
// records the failure; the tenant never left its source.
func (s *Service) abandonMove(ctx context.Context, tx *store.Tx, r *engine.Run, _ engine.Failure) error {
	if !moves(r) || r.Done(StepApply) {
		return nil
	}
	report, clean, err := s.ws.AbandonMoveTx(ctx, tx, r.Tenant.ID)
	if err != nil {
		return err
	}
	tx.OnCommit(func() {
		if err := clean(); err != nil {
			s.log.Error("remove the target of an abandoned move", "tenant", r.Tenant.ID, "err", err)
		}
	})
	s.log.Warn("workspace move abandoned; the tenant stays on its source", "tenant", r.Tenant.ID, "target", report)
	return nil
}

// applyTx fires change_plan, setting the tenant's plan, in tx.
func (s *Service) applyTx(ctx context.Context, tx *store.Tx, r *engine.Run, planID uuid.UUID) error {
	return s.fireChangePlan(ctx, tx, r, lifecycle.Actor{By: tenantd.Trigger(param(r, "by")), Name: param(r, "actor")}, planID)
}
