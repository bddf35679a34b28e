// Package planchange changes a tenant's plan: a preview (dry run) of what a
// change costs and means, an IMMEDIATE change run as a CHANGE_PLAN
// operation (billing first, then the data move when the isolation changes,
// then the change_plan transition that records the new plan), and a
// PERIOD_END change kept on the tenant until a sweep applies it at the end
// of the billing period.
//
// Defaults follow what SaaS billing does: an upgrade (a higher price) is
// IMMEDIATE and prorated; a downgrade takes effect at PERIOD_END unless the
// caller asks for IMMEDIATE. At most one change is pending per tenant: a
// scheduled one or a running CHANGE_PLAN operation.
package planchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/lifecycle"
	engine "github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace"
)

// Effective says when a change takes effect.
type Effective string

// The moments a change may take effect.
const (
	Immediate Effective = "IMMEDIATE"
	PeriodEnd Effective = "PERIOD_END"
)

// Direction says whether a change raises or lowers the price.
type Direction string

// The directions. A change between plans of one price counts as an upgrade
// (it takes effect at once).
const (
	Upgrade   Direction = "UPGRADE"
	Downgrade Direction = "DOWNGRADE"
)

// The quotas an overage names.
const (
	QuotaDocuments    = "documents"
	QuotaStorageBytes = "storageBytes"
)

// The steps of CHANGE_PLAN that every change runs (the data move's are in
// move.go).
const (
	StepBilling = "billing"
	StepApply   = "apply"
)

// Usage reads a tenant's usage (the workspace service is one).
type Usage interface {
	Usage(ctx context.Context, tenantID uuid.UUID) (*workspace.Usage, error)
}

// Service previews, schedules and runs plan changes.
type Service struct {
	db      *store.DB
	machine *lifecycle.Machine
	ops     *engine.Engine
	billing billing.Provider
	usage   Usage
	idem    *idempotency.Store
	ws      *workspace.Service
	clock   tenantd.Clock
	grace   time.Duration
	log     *slog.Logger
}

// Config wires a Service.
type Config struct {
	DB        *store.DB
	Lifecycle *lifecycle.Machine
	// Operations runs CHANGE_PLAN: New registers the kind.
	Operations  *engine.Engine
	Billing     billing.Provider
	Usage       Usage
	Idempotency *idempotency.Store
	// Workspaces moves a tenant's data when the isolation changes.
	Workspaces *workspace.Service
	// SourceGrace is how long a move keeps its source after the switch,
	// for reads that started on it (default DefaultSourceGrace; 0 in tests
	// is taken as the default, a negative value as none).
	SourceGrace time.Duration
	Clock       tenantd.Clock
	Logger      *slog.Logger
}

// New returns a Service and registers CHANGE_PLAN.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.SourceGrace == 0:
		cfg.SourceGrace = DefaultSourceGrace
	case cfg.SourceGrace < 0:
		cfg.SourceGrace = 0
	}
	s := &Service{db: cfg.DB, machine: cfg.Lifecycle, ops: cfg.Operations, billing: cfg.Billing,
		usage: cfg.Usage, idem: cfg.Idempotency, ws: cfg.Workspaces, clock: tenantd.ClockOr(cfg.Clock),
		grace: cfg.SourceGrace, log: cfg.Logger}
	// A failure leaves the tenant on its plan and its placement: the move,
	// if begun, is abandoned (OnFail) and the billing change, if made, is
	// taken back (Undo); the tenant's state is untouched. Every step keeps
	// to the kind's 30 s: the long ones save a cursor and continue in a new
	// run of the job (engine.Continue).
	cfg.Operations.Add(engine.Kind{
		Name: tenantd.OpChangePlan, Timeout: 30 * time.Second, MaxAttempts: 10,
		Steps: []engine.Step{
			{Name: StepPrepare, Do: s.prepare},
			{Name: StepCopy, Do: s.copyData},
			{Name: StepVerify, Do: s.verify},
			{Name: StepBilling, Do: s.changeBilling},
			{Name: StepApply, Do: s.applyPlan},
			{Name: StepCleanup, Do: s.cleanup},
		},
		Undo:   s.undoBilling,
		OnFail: s.abandonMove,
	})
	return s
}

// Request asks for a plan change.
type Request struct {
	TenantID uuid.UUID
	Plan     string
	// Effective is when the change applies; "" takes the default
	// (IMMEDIATE for an upgrade, PERIOD_END for a downgrade).
	Effective      Effective
	DryRun         bool
	IdempotencyKey string
	Actor          lifecycle.Actor
}

// Overage is one quota that the tenant's usage exceeds on the target plan.
type Overage struct {
	Quota string `json:"quota"`
	Limit int64  `json:"limit"`
	Usage int64  `json:"usage"`
}

// Preview is what a change costs and means.
type Preview struct {
	FromPlan    string    `json:"fromPlan"`
	ToPlan      string    `json:"toPlan"`
	Direction   Direction `json:"direction"`
	Effective   Effective `json:"effective"`
	EffectiveAt time.Time `json:"effectiveAt"`
	// From the billing provider.
	AmountDueNowCents      int        `json:"amountDueNowCents"`
	ProrationCents         int        `json:"prorationCents"`
	MonthlyDifferenceCents int        `json:"monthlyDifferenceCents"`
	Currency               string     `json:"currency"`
	PeriodEnd              *time.Time `json:"periodEnd,omitempty"`
	// The data move, when the isolation changes.
	FromIsolation   tenantd.Isolation `json:"fromIsolation"`
	ToIsolation     tenantd.Isolation `json:"toIsolation"`
	DataMoves       bool              `json:"dataMoves"`
	DocumentsToMove int64             `json:"documentsToMove"`
	BytesToMove     int64             `json:"bytesToMove"`
	// Overages lists each quota the usage exceeds on the target plan.
	Overages []Overage `json:"overages"`
}

// Result is what Change did.
type Result struct {
	Tenant *ent.Tenant
	// Operation is the CHANGE_PLAN operation of an IMMEDIATE change; nil
	// for a dry run and a scheduled change.
	Operation *ent.Operation
	Preview   *Preview
}

// answer is what an idempotency key keeps of a change.
type answer struct {
	OperationID uuid.UUID `json:"operationId"`
	Preview     *Preview  `json:"preview"`
}

// Change previews, schedules or starts a plan change.
//
// Returns INVALID_INPUT (plan, effective), NOT_FOUND (the tenant, for a
// caller who may not see it), INVALID_TRANSITION (not ACTIVE), FORBIDDEN,
// CONFLICT (a change already pending; the error names it),
// PLAN_LIMIT_EXCEEDED (usage over the target's limits, with each overage),
// IDEMPOTENCY_MISMATCH. A dry run returns the preview, overages included,
// and changes nothing.
func (s *Service) Change(ctx context.Context, req Request) (*Result, error) {
	if req.Effective != "" && req.Effective != Immediate && req.Effective != PeriodEnd {
		return nil, tenantd.Invalid("effective", "effective must be IMMEDIATE or PERIOD_END")
	}
	if req.DryRun || req.IdempotencyKey == "" {
		return s.change(ctx, req)
	}
	v, _ := tenantd.ViewerFrom(ctx)
	var res *Result
	a, err := idempotency.Do(ctx, s.idem, idempotency.Request{
		Scope: "changePlan:" + v.TokenID.String(), Key: req.IdempotencyKey,
		Input: struct {
			TenantID  uuid.UUID `json:"tenantId"`
			Plan      string    `json:"plan"`
			Effective Effective `json:"effective"`
		}{req.TenantID, req.Plan, req.Effective},
	}, func(ctx context.Context, _ *idempotency.Claim) (answer, error) {
		r, err := s.change(ctx, req)
		if err != nil {
			return answer{}, err
		}
		res = r
		a := answer{Preview: r.Preview}
		if r.Operation != nil {
			a.OperationID = r.Operation.ID
		}
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	if res != nil {
		return res, nil
	}
	// A replay: the first answer, the tenant as it is now.
	res = &Result{Preview: a.Preview}
	if res.Tenant, err = s.db.Ent.Tenant.Get(ctx, req.TenantID); err != nil {
		return nil, err
	}
	if a.OperationID != uuid.Nil {
		if res.Operation, err = s.db.Ent.Operation.Get(ctx, a.OperationID); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (s *Service) change(ctx context.Context, req Request) (*Result, error) {
	sys := tenantd.SystemContext(ctx)
	to, err := plans.ByKey(sys, s.db.Ent, req.Plan)
	if err != nil {
		return nil, err
	}
	t, err := s.db.Ent.Tenant.Get(ctx, req.TenantID) // the caller's visibility
	if ent.IsNotFound(err) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "tenant %s not found", req.TenantID)
	}
	if err != nil {
		return nil, err
	}
	if err := lifecycle.Check(t.State, tenantd.EventChangePlan, req.Actor); err != nil {
		return nil, err
	}
	from, err := t.QueryPlan().Only(sys)
	if err != nil {
		return nil, err
	}
	if from.ID == to.ID {
		return nil, tenantd.Invalid("plan", "the tenant is on the %s plan already; choose another plan", to.Key)
	}
	if err := s.pending(sys, s.db.Ent, t); err != nil {
		return nil, err
	}
	p, err := s.preview(ctx, t, from, to, req.Effective)
	if err != nil {
		return nil, err
	}
	if req.DryRun {
		return &Result{Tenant: t, Preview: p}, nil
	}
	if len(p.Overages) > 0 {
		return nil, overLimits(to, p.Overages)
	}
	res := &Result{Preview: p}
	err = s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		t, err := s.machine.LockTx(ctx, tx, req.TenantID)
		if err != nil {
			return err
		}
		if err := lifecycle.Check(t.State, tenantd.EventChangePlan, req.Actor); err != nil {
			return err
		}
		if t.PlanID != from.ID {
			return tenantd.Errorf(tenantd.ECONFLICT, "the tenant's plan changed meanwhile; ask again")
		}
		if err := s.pending(sys, tx.Ent, t); err != nil {
			return err
		}
		if p.Effective == PeriodEnd {
			res.Tenant, err = tx.Ent.Tenant.UpdateOne(t).
				SetScheduledPlanKey(to.Key).SetScheduledPlanAt(p.EffectiveAt).
				SetScheduledPlanRequestedAt(s.machine.Now()).SetScheduledPlanRequestedBy(req.Actor.Name).
				SetScheduledPlanTrigger(req.Actor.By).Save(sys)
			return err
		}
		res.Operation, err = s.startTx(ctx, tx, t, from, to, Immediate, req.Actor)
		res.Tenant = t
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Tenant = res.Tenant.Unwrap()
	if res.Operation != nil {
		res.Operation = res.Operation.Unwrap()
		s.log.Info("plan change started", "tenant", t.ID, "from", from.Key, "to", to.Key, "operation", res.Operation.ID)
	} else {
		s.log.Info("plan change scheduled", "tenant", t.ID, "from", from.Key, "to", to.Key, "at", p.EffectiveAt)
	}
	return res, nil
}

// startTx starts the CHANGE_PLAN operation in tx. Its parameters fix what
// it does, so that every attempt sends the same requests.
func (s *Service) startTx(ctx context.Context, tx *store.Tx, t *ent.Tenant, from, to *ent.Plan, eff Effective, actor lifecycle.Actor) (*ent.Operation, error) {
	params := map[string]any{
		"from": from.Key, "to": to.Key, "effective": string(eff),
		"provider": s.billing.Name(), "by": string(actor.By), "actor": actor.Name,
		"fromIsolation": string(from.Isolation), "toIsolation": string(to.Isolation),
	}
	if t.BillingSubscriptionID != nil {
		params["subscription"] = *t.BillingSubscriptionID
	}
	return s.ops.StartTx(tenantd.SystemContext(ctx), tx, t.ID, engine.Spec{
		Kind: tenantd.OpChangePlan, Params: params, RequestedBy: actor.Name,
	})
}

// pending returns CONFLICT if the tenant has a plan change scheduled or
// running.
func (s *Service) pending(ctx context.Context, client *ent.Client, t *ent.Tenant) error {
	if t.ScheduledPlanKey != nil && t.ScheduledPlanAt != nil {
		return &tenantd.Error{Code: tenantd.ECONFLICT,
			Message: fmt.Sprintf("a change to the %s plan is scheduled for %s; cancel it first (cancelScheduledPlanChange)",
				*t.ScheduledPlanKey, t.ScheduledPlanAt.Format(time.RFC3339)),
			Extra: map[string]any{"scheduledPlan": *t.ScheduledPlanKey, "effectiveAt": t.ScheduledPlanAt.Format(time.RFC3339)}}
	}
	op, err := engine.UnderWay(ctx, client, t.ID, tenantd.OpChangePlan)
	if err != nil || op == nil {
		return err
	}
	to, _ := op.Params["to"].(string)
	return &tenantd.Error{Code: tenantd.ECONFLICT,
		Message: fmt.Sprintf("a change to the %s plan is under way (operation %s); wait for it to finish", to, op.ID),
		Extra:   map[string]any{"operationId": op.ID.String(), "plan": to}}
}

// overLimits is the PLAN_LIMIT_EXCEEDED error of a downgrade.
func overLimits(to *ent.Plan, over []Overage) error {
	msg := fmt.Sprintf("the tenant's usage exceeds the %s plan:", to.Key)
	list := make([]any, len(over))
	for i, o := range over {
		msg += fmt.Sprintf(" %s %d of at most %d;", o.Quota, o.Usage, o.Limit)
		list[i] = map[string]any{"quota": o.Quota, "limit": o.Limit, "usage": o.Usage}
	}
	return &tenantd.Error{Code: tenantd.EPLANLIMIT, Message: msg[:len(msg)-1] + "; reduce it first",
		Extra: map[string]any{"overages": list}}
}

// preview computes what changing t from one plan to another means.
func (s *Service) preview(ctx context.Context, t *ent.Tenant, from, to *ent.Plan, eff Effective) (*Preview, error) {
	p := &Preview{FromPlan: from.Key, ToPlan: to.Key, Direction: Upgrade,
		FromIsolation: from.Isolation, ToIsolation: to.Isolation, DataMoves: from.Isolation != to.Isolation,
		MonthlyDifferenceCents: to.PriceCents - from.PriceCents, Currency: "usd", Overages: []Overage{}}
	if to.PriceCents < from.PriceCents {
		p.Direction = Downgrade
	}
	p.Effective = eff
	if p.Effective == "" {
		p.Effective = Immediate
		if p.Direction == Downgrade {
			p.Effective = PeriodEnd
		}
	}
	u, err := s.usage.Usage(tenantd.SystemContext(ctx), t.ID)
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	if p.DataMoves {
		p.DocumentsToMove, p.BytesToMove = u.Documents, u.Bytes
	}
	if to.MaxDocuments != nil && u.Documents > int64(*to.MaxDocuments) {
		p.Overages = append(p.Overages, Overage{Quota: QuotaDocuments, Limit: int64(*to.MaxDocuments), Usage: u.Documents})
	}
	if to.MaxStorageBytes != nil && u.Bytes > *to.MaxStorageBytes {
		p.Overages = append(p.Overages, Overage{Quota: QuotaStorageBytes, Limit: *to.MaxStorageBytes, Usage: u.Bytes})
	}
	p.EffectiveAt = s.machine.Now()
	if t.BillingSubscriptionID == nil {
		if p.Effective == PeriodEnd {
			return nil, tenantd.Invalid("effective", "the tenant has no billing period to end; use IMMEDIATE")
		}
		return p, nil
	}
	provider := billing.For(s.billing, t.Synthetic, s.db.Ent)
	bp, err := provider.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{
		SubscriptionID: *t.BillingSubscriptionID, PlanKey: to.Key, PriceCents: to.PriceCents,
		AtPeriodEnd: p.Effective == PeriodEnd,
	})
	if err != nil {
		return nil, fmt.Errorf("preview at %s: %w", provider.Name(), err)
	}
	p.AmountDueNowCents, p.ProrationCents, p.MonthlyDifferenceCents = bp.AmountDueNowCents, bp.ProrationCents, bp.MonthlyDifferenceCents
	if bp.Currency != "" {
		p.Currency = bp.Currency
	}
	if !bp.PeriodEnd.IsZero() {
		end := bp.PeriodEnd.UTC()
		p.PeriodEnd = &end
		if p.Effective == PeriodEnd {
			p.EffectiveAt = end
		}
	}
	return p, nil
}

// Scheduled is a PERIOD_END change waiting for its time.
type Scheduled struct {
	Plan        string
	EffectiveAt time.Time
	RequestedAt time.Time
	RequestedBy string
}

// ScheduledOf returns t's scheduled change, or nil.
func ScheduledOf(t *ent.Tenant) *Scheduled {
	if t.ScheduledPlanKey == nil || t.ScheduledPlanAt == nil {
		return nil
	}
	sc := &Scheduled{Plan: *t.ScheduledPlanKey, EffectiveAt: *t.ScheduledPlanAt}
	if t.ScheduledPlanRequestedAt != nil {
		sc.RequestedAt = *t.ScheduledPlanRequestedAt
	}
	if t.ScheduledPlanRequestedBy != nil {
		sc.RequestedBy = *t.ScheduledPlanRequestedBy
	}
	return sc
}

// CancelRequest asks to take back a scheduled change.
type CancelRequest struct {
	TenantID       uuid.UUID
	IdempotencyKey string
	Actor          lifecycle.Actor
}

// CancelScheduled takes back the tenant's scheduled change and returns the
// tenant and the change it canceled.
//
// Returns NOT_FOUND (the tenant), FORBIDDEN, INVALID_INPUT (tenantId: no
// change is scheduled), IDEMPOTENCY_MISMATCH.
func (s *Service) CancelScheduled(ctx context.Context, req CancelRequest) (*ent.Tenant, *Scheduled, error) {
	if err := lifecycle.Check(tenantd.StateActive, tenantd.EventChangePlan, req.Actor); err != nil {
		return nil, nil, err // who may change a plan may take a change back
	}
	if req.IdempotencyKey == "" {
		return s.cancelScheduled(ctx, req)
	}
	v, _ := tenantd.ViewerFrom(ctx)
	var (
		t  *ent.Tenant
		sc *Scheduled
	)
	got, err := idempotency.Do(ctx, s.idem, idempotency.Request{
		Scope: "cancelScheduledPlanChange:" + v.TokenID.String(), Key: req.IdempotencyKey,
		Input: struct {
			TenantID uuid.UUID `json:"tenantId"`
		}{req.TenantID},
	}, func(ctx context.Context, _ *idempotency.Claim) (*Scheduled, error) {
		var err error
		t, sc, err = s.cancelScheduled(ctx, req)
		return sc, err
	})
	if err != nil {
		return nil, nil, err
	}
	if t == nil { // a replay
		if t, err = s.db.Ent.Tenant.Get(ctx, req.TenantID); err != nil {
			return nil, nil, err
		}
	}
	return t, got, nil
}

func (s *Service) cancelScheduled(ctx context.Context, req CancelRequest) (*ent.Tenant, *Scheduled, error) {
	var (
		t  *ent.Tenant
		sc *Scheduled
	)
	err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		locked, err := s.machine.LockTx(ctx, tx, req.TenantID)
		if err != nil {
			return err
		}
		if sc = ScheduledOf(locked); sc == nil {
			return tenantd.Invalid("tenantId", "the tenant has no scheduled plan change to cancel")
		}
		t, err = tx.Ent.Tenant.UpdateOne(locked).ClearScheduledPlanKey().ClearScheduledPlanAt().
			ClearScheduledPlanRequestedAt().ClearScheduledPlanRequestedBy().ClearScheduledPlanTrigger().
			Save(tenantd.SystemContext(ctx))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	s.log.Info("scheduled plan change canceled", "tenant", t.ID, "plan", sc.Plan, "by", req.Actor.Name)
	return t.Unwrap(), sc, nil
}

// ApplyDue starts the CHANGE_PLAN operation of every scheduled change whose
// time has come (on the lifecycle's clock) and returns how many it started.
// A change that can no longer apply (the tenant is not ACTIVE, or its usage
// now exceeds the plan) is dropped with a log line saying why. Sweeps call it.
func (s *Service) ApplyDue(ctx context.Context) (int, error) {
	sys := tenantd.SystemContext(ctx)
	now := s.machine.Now()
	due, err := s.db.Ent.Tenant.Query().
		Where(tenant.ScheduledPlanAtLTE(now), tenant.ScheduledPlanKeyNotNil()).
		Order(ent.Asc(tenant.FieldScheduledPlanAt)).Limit(500).IDs(sys)
	if err != nil {
		return 0, fmt.Errorf("scheduled plan changes: %w", err)
	}
	n := 0
	for _, id := range due {
		started, err := s.applyOne(sys, id, now)
		if err != nil {
			return n, err
		}
		if started {
			n++
		}
	}
	return n, nil
}

func (s *Service) applyOne(ctx context.Context, id uuid.UUID, now time.Time) (bool, error) {
	started := false
	err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		t, err := s.machine.LockTx(ctx, tx, id)
		if err != nil {
			return err
		}
		sc := ScheduledOf(t)
		if sc == nil || sc.EffectiveAt.After(now) {
			return nil // canceled or applied meanwhile
		}
		clear := tx.Ent.Tenant.UpdateOne(t).ClearScheduledPlanKey().ClearScheduledPlanAt().
			ClearScheduledPlanRequestedAt().ClearScheduledPlanRequestedBy().ClearScheduledPlanTrigger()
		actor := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "system:scheduled-plan-change"}
		if t.ScheduledPlanTrigger != nil && sc.RequestedBy != "" {
			actor = lifecycle.Actor{By: *t.ScheduledPlanTrigger, Name: sc.RequestedBy}
		}
		from, err := t.QueryPlan().Only(ctx)
		if err != nil {
			return err
		}
		to, err := plans.ByKey(ctx, tx.Ent, sc.Plan)
		if err == nil {
			err = lifecycle.Check(t.State, tenantd.EventChangePlan, actor)
		}
		if err == nil {
			var over []Overage
			if over, err = s.overages(ctx, t.ID, to); err == nil && len(over) > 0 {
				err = overLimits(to, over)
			}
		}
		if err != nil {
			var te *tenantd.Error
			if !errors.As(err, &te) {
				return err
			}
			s.log.Warn("scheduled plan change dropped", "tenant", t.ID, "plan", sc.Plan, "reason", te.Message)
			return clear.Exec(ctx)
		}
		if err := clear.Exec(ctx); err != nil {
			return err
		}
		op, err := s.startTx(ctx, tx, t, from, to, PeriodEnd, actor)
		if err != nil {
			return err
		}
		started = true
		s.log.Info("scheduled plan change started", "tenant", t.ID, "from", from.Key, "to", to.Key, "operation", op.ID)
		return nil
	})
	return started, err
}

func (s *Service) overages(ctx context.Context, id uuid.UUID, to *ent.Plan) ([]Overage, error) {
	u, err := s.usage.Usage(ctx, id)
	if err != nil {
		return nil, err
	}
	var over []Overage
	if to.MaxDocuments != nil && u.Documents > int64(*to.MaxDocuments) {
		over = append(over, Overage{Quota: QuotaDocuments, Limit: int64(*to.MaxDocuments), Usage: u.Documents})
	}
	if to.MaxStorageBytes != nil && u.Bytes > *to.MaxStorageBytes {
		over = append(over, Overage{Quota: QuotaStorageBytes, Limit: *to.MaxStorageBytes, Usage: u.Bytes})
	}
	return over, nil
}

// param reads a string parameter of the operation.
func param(r *engine.Run, key string) string {
	v, _ := r.Op.Params[key].(string)
	return v
}

// changeBilling moves the subscription to the new plan at the provider:
// prorated now for an IMMEDIATE change, from the next renewal on for one
// applied at the period end. A declined proration fails the operation at
// once; the tenant stays on its plan.
func (s *Service) changeBilling(ctx context.Context, r *engine.Run) (string, error) {
	sub := param(r, "subscription")
	if sub == "" {
		return "no subscription to change", nil
	}
	to, err := plans.ByKey(ctx, s.db.Ent, param(r, "to"))
	if err != nil {
		return "", engine.Permanent(err)
	}
	provider := billing.For(s.billing, r.Tenant.Synthetic, s.db.Ent)
	st, err := provider.ChangePlan(ctx, billing.ChangePlanRequest{
		IdempotencyKey: billing.OperationKey(r.Op.ID, r.Step()), SubscriptionID: sub,
		PlanKey: to.Key, PriceCents: to.PriceCents, AtPeriodEnd: Effective(param(r, "effective")) == PeriodEnd,
	})
	if err != nil {
		if tenantd.ErrorCode(err) != tenantd.EINTERNAL {
			err = engine.Permanent(err)
		}
		return "", fmt.Errorf("change plan at %s: %w", provider.Name(), err)
	}
	return fmt.Sprintf("subscription moved to %s at %s", st.PlanKey, provider.Name()), nil
}

// undoBilling moves the subscription back when the change failed after
// its billing step.
func (s *Service) undoBilling(ctx context.Context, r *engine.Run, _ engine.Failure) error {
	sub := param(r, "subscription")
	if sub == "" || !r.Done(StepBilling) || r.Done(StepApply) {
		return nil
	}
	from, err := plans.ByKey(ctx, s.db.Ent, param(r, "from"))
	if err != nil {
		return err
	}
	provider := billing.For(s.billing, r.Tenant.Synthetic, s.db.Ent)
	_, err = provider.ChangePlan(ctx, billing.ChangePlanRequest{
		IdempotencyKey: billing.OperationKey(r.Op.ID, StepBilling+":undo"), SubscriptionID: sub,
		PlanKey: from.Key, PriceCents: from.PriceCents, AtPeriodEnd: Effective(param(r, "effective")) == PeriodEnd,
	})
	if err != nil {
		return fmt.Errorf("move the subscription back to %s at %s: %w", from.Key, provider.Name(), err)
	}
	return nil
}

// planOf returns the plan of that key.
func (s *Service) planOf(ctx context.Context, key string) (*ent.Plan, error) {
	return plans.ByKey(ctx, s.db.Ent, key)
}

// fireChangePlan records the new plan: the change_plan transition,
// carrying the old and new plan, sets the tenant's plan in the same
// statement.
func (s *Service) fireChangePlan(ctx context.Context, tx *store.Tx, r *engine.Run, actor lifecycle.Actor, planID uuid.UUID) error {
	_, err := s.machine.FireTx(ctx, tx, lifecycle.Request{
		TenantID: r.Tenant.ID, Event: tenantd.EventChangePlan, Actor: actor,
		Metadata: map[string]any{"fromPlan": param(r, "from"), "toPlan": param(r, "to"), "operation": r.Op.ID.String(),
			"effective": param(r, "effective"), "fromIsolation": param(r, "fromIsolation"), "toIsolation": param(r, "toIsolation")},
		Update: func(u *ent.TenantUpdateOne) { u.SetPlanID(planID) },
	})
	if err != nil {
		var te *tenantd.Error
		if errors.As(err, &te) {
			err = engine.Permanent(err) // e.g. suspended meanwhile
		}
		return err
	}
	return nil
}
