package subscription

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/ent/winbackmessage"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
)

// Result is what a request wrote: the tenant, the transition if it fired
// one (a scheduled cancellation fires none until its time; a reactivation
// fires it once billing is back), the operation it started, and the new
// API key of a reactivation (shown once).
type Result struct {
	Tenant     *ent.Tenant
	Transition *ent.StateTransition
	Operation  *ent.Operation
	APIKey     string
}

// answer is what an idempotency key keeps of a Result (sealed).
type answer struct {
	TransitionID uuid.UUID `json:"transition,omitempty"`
	OperationID  uuid.UUID `json:"operation,omitempty"`
	APIKey       string    `json:"apiKey,omitempty"`
}

// once runs fn under an idempotency key (none: just fn): a replay answers
// the first result, with the tenant as it is now.
func (s *Service) once(ctx context.Context, scope, key string, tenantID uuid.UUID, input any, fn func(ctx context.Context) (*Result, error)) (*Result, error) {
	if key == "" {
		return fn(ctx)
	}
	v, _ := tenantd.ViewerFrom(ctx)
	var res *Result
	a, err := idempotency.Do(ctx, s.idem, idempotency.Request{Scope: scope + ":" + v.TokenID.String(), Key: key, Input: input},
		func(ctx context.Context, _ *idempotency.Claim) (answer, error) {
			r, err := fn(ctx)
			if err != nil {
				return answer{}, err
			}
			res = r
			a := answer{APIKey: r.APIKey}
			if r.Transition != nil {
				a.TransitionID = r.Transition.ID
			}
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
	res = &Result{APIKey: a.APIKey}
	if res.Tenant, err = s.db.Ent.Tenant.Get(ctx, tenantID); err != nil {
		return nil, err
	}
	if a.TransitionID != uuid.Nil {
		if res.Transition, err = s.db.Ent.StateTransition.Get(ctx, a.TransitionID); err != nil {
			return nil, err
		}
	}
	if a.OperationID != uuid.Nil {
		if res.Operation, err = s.db.Ent.Operation.Get(ctx, a.OperationID); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (r *Result) unwrap() *Result {
	r.Tenant = r.Tenant.Unwrap()
	if r.Transition != nil {
		r.Transition = r.Transition.Unwrap()
	}
	if r.Operation != nil {
		r.Operation = r.Operation.Unwrap()
	}
	return r
}

// CancelRequest asks to cancel a tenant's subscription.
type CancelRequest struct {
	TenantID uuid.UUID
	// AtPeriodEnd schedules the cancellation for the end of the billing
	// period; nil takes the default: at the period end for the tenant's
	// own key, now for an admin.
	AtPeriodEnd *bool
	// Feedback is one of Stripe's cancellation feedback values, optional.
	Feedback billing.CancellationFeedback
	// Comment is the customer's free text, optional: personal data, kept
	// erasable.
	Comment string
	// Reason is free text for the audit trail.
	Reason         string
	Actor          lifecycle.Actor
	IdempotencyKey string
}

// Scheduled is a cancellation waiting for the end of the billing period.
type Scheduled struct {
	EffectiveAt time.Time
	Feedback    string
	RequestedAt time.Time
	RequestedBy string
}

// ScheduledOf returns the tenant's scheduled cancellation, or nil.
func ScheduledOf(t *ent.Tenant) *Scheduled {
	if t.ScheduledCancelAt == nil {
		return nil
	}
	sc := &Scheduled{EffectiveAt: *t.ScheduledCancelAt}
	if t.ScheduledCancelFeedback != nil {
		sc.Feedback = string(*t.ScheduledCancelFeedback)
	}
	if t.ScheduledCancelRequestedAt != nil {
		sc.RequestedAt = *t.ScheduledCancelRequestedAt
	}
	if t.ScheduledCancelRequestedBy != nil {
		sc.RequestedBy = *t.ScheduledCancelRequestedBy
	}
	return sc
}

// Cancel cancels an ACTIVE or SUSPENDED tenant's subscription. Now: the
// tenant is CANCELED and a CANCEL operation cancels the subscription, in
// one transaction. At the period end: the tenant stays as it is with a
// scheduled cancellation (Tenant.scheduledCancellation), a CANCEL operation
// tells the provider (cancel at the period end), and the sweep cancels the
// tenant when the period ends; UndoCancellation takes it back until then.
// Either way the provider is told once.
//
// Returns INVALID_INPUT (feedback, comment), NOT_FOUND, INVALID_TRANSITION,
// FORBIDDEN, CONFLICT (a cancellation already scheduled),
// IDEMPOTENCY_MISMATCH.
func (s *Service) Cancel(ctx context.Context, req CancelRequest) (*Result, error) {
	if !req.Feedback.Valid() {
		return nil, tenantd.Invalid("feedback", "feedback must be one of customer_service, low_quality, missing_features, "+
			"other, switched_service, too_complex, too_expensive, unused; not %q", req.Feedback)
	}
	if err := tenantd.CheckLine("comment", req.Comment, maxComment); err != nil {
		return nil, err
	}
	atPeriodEnd := req.Actor.By == tenantd.TriggerUser
	if req.AtPeriodEnd != nil {
		atPeriodEnd = *req.AtPeriodEnd
	}
	input := struct {
		TenantID    uuid.UUID `json:"tenantId"`
		AtPeriodEnd bool      `json:"atPeriodEnd"`
		Feedback    string    `json:"feedback"`
		Comment     string    `json:"comment"`
		Reason      string    `json:"reason"`
	}{req.TenantID, atPeriodEnd, string(req.Feedback), req.Comment, req.Reason}
	return s.once(ctx, "cancelSubscription", req.IdempotencyKey, req.TenantID, input, func(ctx context.Context) (*Result, error) {
		if atPeriodEnd {
			return s.scheduleCancel(ctx, req)
		}
		return s.cancelNow(ctx, req)
	})
}

func (s *Service) cancelNow(ctx context.Context, req CancelRequest) (*Result, error) {
	t, err := s.machine.Visible(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	params := s.Params(t)
	params["mode"] = modeNow
	params["feedback"] = string(req.Feedback)
	params["comment"] = req.Comment
	private := map[string]any{}
	if req.Comment != "" {
		private["comment"] = req.Comment
	}
	meta := map[string]any{}
	if req.Feedback != "" {
		meta["feedback"] = string(req.Feedback)
	}
	res, err := s.machine.Fire(ctx, lifecycle.Request{
		TenantID: req.TenantID, Event: tenantd.EventCancel, Actor: req.Actor, Reason: req.Reason,
		Metadata: meta, Private: private,
		Update:    canceledFor(string(req.Feedback)),
		Operation: &operation.Spec{Kind: tenantd.OpCancel, Params: params},
	})
	if err != nil {
		return nil, err
	}
	return &Result{Tenant: res.Tenant, Transition: res.Transition, Operation: res.Operation}, nil
}

// canceledFor is the tenant update of a cancellation: the scheduled one, if
// any, is done, and the reason is kept for win-back segments.
func canceledFor(feedback string) func(*ent.TenantUpdateOne) {
	return func(u *ent.TenantUpdateOne) {
		clearScheduledCancel(u)
		if feedback == "" {
			u.ClearCancelFeedback()
		} else {
			u.SetCancelFeedback(tenant.CancelFeedback(feedback))
		}
	}
}

func clearScheduledCancel(u *ent.TenantUpdateOne) {
	u.ClearScheduledCancelAt().ClearScheduledCancelFeedback().ClearScheduledCancelRequestedAt().ClearScheduledCancelRequestedBy()
}

func (s *Service) scheduleCancel(ctx context.Context, req CancelRequest) (*Result, error) {
	t, err := s.machine.Visible(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	if err := lifecycle.Check(t.State, tenantd.EventCancel, req.Actor); err != nil {
		return nil, err
	}
	if sc := ScheduledOf(t); sc != nil {
		return nil, conflictScheduled(sc)
	}
	if t.BillingSubscriptionID == nil {
		return nil, tenantd.Invalid("atPeriodEnd", "the tenant has no billing period to wait for; cancel now (atPeriodEnd: false)")
	}
	st, err := s.provider(t).SubscriptionState(ctx, *t.BillingSubscriptionID)
	if err != nil {
		return nil, fmt.Errorf("read the billing period: %w", err)
	}
	at := st.CurrentPeriodEnd
	if !at.After(s.machine.Now()) {
		return nil, tenantd.Invalid("atPeriodEnd", "the billing period has already ended; cancel now (atPeriodEnd: false)")
	}
	var out *Result
	err = s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		t, err := s.machine.LockTx(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if sc := ScheduledOf(t); sc != nil {
			return conflictScheduled(sc)
		}
		sys := tenantd.SystemContext(ctx)
		upd := tx.Ent.Tenant.UpdateOne(t).SetScheduledCancelAt(at).
			SetScheduledCancelRequestedAt(s.machine.Now()).SetScheduledCancelRequestedBy(req.Actor.Name)
		if req.Feedback != "" {
			upd.SetScheduledCancelFeedback(tenant.ScheduledCancelFeedback(req.Feedback))
		}
		t2, err := upd.Save(sys)
		if err != nil {
			return fmt.Errorf("schedule the cancellation: %w", err)
		}
		params := s.Params(t)
		params["mode"] = modePeriodEnd
		params["feedback"] = string(req.Feedback)
		params["comment"] = req.Comment
		params["effectiveAt"] = at.UTC().Format(time.RFC3339)
		op, err := s.startTx(ctx, tx, t.ID, tenantd.OpCancel, params, req.Actor)
		if err != nil {
			return err
		}
		out = &Result{Tenant: t2, Operation: op}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("cancellation scheduled", "tenant", t.ID, "at", at, "by", req.Actor.Name)
	return out.unwrap(), nil
}

func (s *Service) startTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, kind tenantd.OperationKind, params map[string]any, actor lifecycle.Actor) (*ent.Operation, error) {
	params["by"], params["actor"] = string(actor.By), actor.Name
	return s.ops().StartTx(tenantd.SystemContext(ctx), tx, tenantID, operation.Spec{Kind: kind, Params: params, RequestedBy: actor.Name})
}

func conflictScheduled(sc *Scheduled) error {
	return &tenantd.Error{Code: tenantd.ECONFLICT,
		Message: fmt.Sprintf("a cancellation is already scheduled for %s; undo it first (undoCancellation)", sc.EffectiveAt.UTC().Format(time.RFC3339)),
		Extra:   map[string]any{"effectiveAt": sc.EffectiveAt.UTC().Format(time.RFC3339)}}
}

// UndoRequest takes back a scheduled cancellation.
type UndoRequest struct {
	TenantID       uuid.UUID
	Actor          lifecycle.Actor
	IdempotencyKey string
}

// UndoCancellation takes back the tenant's scheduled cancellation: the
// schedule is cleared and a CANCEL operation tells the provider.
//
// Returns INVALID_INPUT (none is scheduled), NOT_FOUND, FORBIDDEN.
func (s *Service) UndoCancellation(ctx context.Context, req UndoRequest) (*Result, *Scheduled, error) {
	if err := lifecycle.Check(tenantd.StateActive, tenantd.EventCancel, req.Actor); err != nil {
		return nil, nil, err // who may cancel may take a cancellation back
	}
	var undone *Scheduled
	input := struct {
		TenantID uuid.UUID `json:"tenantId"`
	}{req.TenantID}
	res, err := s.once(ctx, "undoCancellation", req.IdempotencyKey, req.TenantID, input, func(ctx context.Context) (*Result, error) {
		if _, err := s.machine.Visible(ctx, req.TenantID); err != nil {
			return nil, err
		}
		var out *Result
		err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			t, err := s.machine.LockTx(ctx, tx, req.TenantID)
			if err != nil {
				return err
			}
			if undone = ScheduledOf(t); undone == nil {
				return tenantd.Invalid("tenantId", "no cancellation is scheduled for this tenant: there is nothing to undo")
			}
			u := tx.Ent.Tenant.UpdateOne(t)
			clearScheduledCancel(u)
			t2, err := u.Save(tenantd.SystemContext(ctx))
			if err != nil {
				return err
			}
			params := s.Params(t)
			params["mode"] = modeUndo
			op, err := s.startTx(ctx, tx, t.ID, tenantd.OpCancel, params, req.Actor)
			out = &Result{Tenant: t2, Operation: op}
			return err
		})
		if err != nil {
			return nil, err
		}
		return out.unwrap(), nil
	})
	if err != nil {
		return nil, nil, err
	}
	if undone == nil { // a replay: the operation says what was undone
		undone = &Scheduled{}
		if res.Operation != nil {
			undone.RequestedBy = res.Operation.RequestedBy
		}
	}
	return res, undone, nil
}

// ApplyDueCancellations cancels every tenant whose scheduled cancellation
// has come (on the lifecycle's clock) and returns how many. The provider was
// told when the cancellation was scheduled and ends the subscription itself
// at the period end, so no billing call is made now. Sweeps call it.
func (s *Service) ApplyDueCancellations(ctx context.Context) (int, error) {
	sys := tenantd.SystemContext(ctx)
	now := s.machine.Now()
	due, err := s.db.Ent.Tenant.Query().Where(tenant.ScheduledCancelAtLTE(now)).
		Order(ent.Asc(tenant.FieldScheduledCancelAt)).Limit(500).IDs(sys)
	if err != nil {
		return 0, fmt.Errorf("scheduled cancellations: %w", err)
	}
	n := 0
	for _, id := range due {
		err := s.db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
			t, err := s.machine.LockTx(ctx, tx, id)
			if err != nil {
				return err
			}
			sc := ScheduledOf(t)
			if sc == nil || sc.EffectiveAt.After(now) {
				return nil // undone or applied meanwhile
			}
			actor := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "sweep:cancellation"}
			if !lifecycle.Legal(t.State, tenantd.EventCancel) {
				s.log.Warn("scheduled cancellation dropped", "tenant", t.ID, "state", t.State)
				u := tx.Ent.Tenant.UpdateOne(t)
				clearScheduledCancel(u)
				return u.Exec(tenantd.SystemContext(ctx))
			}
			meta := map[string]any{"scheduled": true, "requestedBy": sc.RequestedBy, "effectiveAt": sc.EffectiveAt.UTC().Format(time.RFC3339)}
			if sc.Feedback != "" {
				meta["feedback"] = sc.Feedback
			}
			if _, err := s.machine.FireTx(ctx, tx, lifecycle.Request{TenantID: t.ID, Event: tenantd.EventCancel, Actor: actor,
				Reason: "the billing period ended", Metadata: meta, Update: canceledFor(sc.Feedback)}); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// PauseRequest asks to pause a tenant.
type PauseRequest struct {
	TenantID  uuid.UUID
	ResumesAt time.Time
	Reason    string
	Actor     lifecycle.Actor
}

// Pause suspends an ACTIVE tenant on its request — its data kept and
// read-only — and pauses its billing (a PAUSE operation) until resumesAt,
// at most 90 days ahead, when the sweep resumes both; resumeTenant resumes
// it earlier.
//
// Returns INVALID_INPUT (resumesAt), NOT_FOUND, INVALID_TRANSITION,
// FORBIDDEN.
func (s *Service) Pause(ctx context.Context, req PauseRequest) (*Result, error) {
	now := s.machine.Now()
	if !req.ResumesAt.After(now) {
		return nil, tenantd.Invalid("resumesAt", "resumesAt must be in the future")
	}
	if req.ResumesAt.After(now.Add(MaxPause)) {
		return nil, tenantd.Invalid("resumesAt", "a pause lasts at most 90 days: resumesAt must be before %s", now.Add(MaxPause).UTC().Format(time.RFC3339))
	}
	t, err := s.machine.Visible(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	params := s.Params(t)
	params["resumesAt"] = req.ResumesAt.UTC().Format(time.RFC3339Nano)
	at := req.ResumesAt.UTC()
	// The state machine lets admins and tenantd suspend: a tenant's own
	// pause is carried out by tenantd on its behalf, and the history names
	// who asked.
	actor := req.Actor
	if actor.By == tenantd.TriggerUser {
		actor = lifecycle.Actor{By: tenantd.TriggerSystem, Name: "system:pause"}
	}
	res, err := s.machine.Fire(ctx, lifecycle.Request{
		TenantID: req.TenantID, Event: tenantd.EventSuspend, Actor: actor, Reason: req.Reason,
		Metadata:  map[string]any{"pause": true, "resumesAt": at.Format(time.RFC3339), "requestedBy": req.Actor.Name},
		Update:    func(u *ent.TenantUpdateOne) { u.SetPausedUntil(at) },
		Operation: &operation.Spec{Kind: tenantd.OpPause, Params: params},
	})
	if err != nil {
		return nil, err
	}
	return &Result{Tenant: res.Tenant, Transition: res.Transition, Operation: res.Operation}, nil
}

// ResumeRequest asks to resume a SUSPENDED tenant.
type ResumeRequest struct {
	TenantID       uuid.UUID
	Reason         string
	Actor          lifecycle.Actor
	IdempotencyKey string
}

// Resume resumes a SUSPENDED tenant; a paused one also gets its billing
// back (a RESUME operation).
//
// Returns NOT_FOUND, INVALID_TRANSITION, FORBIDDEN.
func (s *Service) Resume(ctx context.Context, req ResumeRequest) (*lifecycle.Result, error) {
	t, err := s.machine.Visible(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	lr := lifecycle.Request{TenantID: req.TenantID, Event: tenantd.EventResume, Actor: req.Actor, Reason: req.Reason,
		IdempotencyKey: req.IdempotencyKey}
	if t.PausedUntil != nil {
		lr.Update = func(u *ent.TenantUpdateOne) { u.ClearPausedUntil() }
		lr.Operation = &operation.Spec{Kind: tenantd.OpResume, Params: s.Params(t)}
	}
	return s.machine.Fire(ctx, lr)
}

// ResumeDue resumes every paused tenant whose pause has ended and returns
// how many. Sweeps call it.
func (s *Service) ResumeDue(ctx context.Context) (int, error) {
	sys := tenantd.SystemContext(ctx)
	now := s.machine.Now()
	due, err := s.db.Ent.Tenant.Query().Where(tenant.PausedUntilLTE(now)).
		Order(ent.Asc(tenant.FieldPausedUntil)).Limit(500).All(sys)
	if err != nil {
		return 0, fmt.Errorf("paused tenants: %w", err)
	}
	n := 0
	actor := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "sweep:pause"}
	for _, t := range due {
		req := lifecycle.Request{TenantID: t.ID, Event: tenantd.EventResume, Actor: actor, Reason: "the pause ended",
			Update: func(u *ent.TenantUpdateOne) { u.ClearPausedUntil() }}
		if t.State == tenantd.StateSuspended {
			req.Operation = &operation.Spec{Kind: tenantd.OpResume, Params: s.Params(t)}
		} else {
			req.Event = "" // no longer suspended (canceled, deleted): only the pause is cleared
		}
		if req.Event == "" {
			if err := s.db.Ent.Tenant.UpdateOneID(t.ID).Where(tenant.PausedUntilNotNil()).ClearPausedUntil().Exec(sys); err != nil && !ent.IsNotFound(err) {
				return n, err
			}
			continue
		}
		if _, err := s.machine.Fire(sys, req); err != nil {
			if tenantd.ErrorCode(err) == tenantd.EINVALIDTRANSITION {
				continue // resumed meanwhile
			}
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Service) pauseBilling(ctx context.Context, r *operation.Run) (string, error) {
	sub := subscriptionOf(r)
	if sub == "" {
		return "no subscription to pause", nil
	}
	at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(r.Op.Params["resumesAt"]))
	provider := s.provider(r.Tenant)
	if _, err := provider.Pause(ctx, billing.PauseRequest{IdempotencyKey: billing.OperationKey(r.Op.ID, r.Step()),
		SubscriptionID: sub, ResumesAt: at}); err != nil {
		return "", fmt.Errorf("pause at %s: %w", provider.Name(), err)
	}
	return fmt.Sprintf("billing paused until %s at %s", at.Format(time.RFC3339), provider.Name()), nil
}

func (s *Service) resumeBilling(ctx context.Context, r *operation.Run) (string, error) {
	sub := subscriptionOf(r)
	if sub == "" {
		return "no subscription to resume", nil
	}
	provider := s.provider(r.Tenant)
	if _, err := provider.Resume(ctx, billing.ResumeRequest{IdempotencyKey: billing.OperationKey(r.Op.ID, r.Step()), SubscriptionID: sub}); err != nil {
		return "", fmt.Errorf("resume at %s: %w", provider.Name(), err)
	}
	return "billing resumed at " + provider.Name(), nil
}

// ReactivateRequest asks for a CANCELED tenant back.
type ReactivateRequest struct {
	TenantID uuid.UUID
	// PaymentMethod, optional, pays from now on; without it the customer's
	// default is charged.
	PaymentMethod string
	// Plan, optional, is the plan to come back on: one of the same
	// isolation as the tenant's (a move of its data is a plan change).
	Plan string
	// Coupon, optional, is a retention offer the provider applies to the
	// subscription (a win-back campaign's).
	Coupon *billing.RetentionCoupon
	// WinBackMessage, optional, is the win-back mail whose link asked: the
	// reactivation counts as its conversion when it completes.
	WinBackMessage uuid.UUID
	Reason         string
	Actor          lifecycle.Actor
	IdempotencyKey string
}

// Reactivate brings a CANCELED tenant back: a new API key is issued (shown
// once) and a REACTIVATE operation charges (or resumes) the subscription,
// then fires reactivate, so the tenant is ACTIVE once billing is back, its
// data intact. A declined card fails the operation and leaves the tenant
// CANCELED.
//
// Returns INVALID_INPUT (plan, paymentMethod), NOT_FOUND,
// INVALID_TRANSITION (a PURGED tenant: sign up again; PENDING_DELETION:
// restoreTenant), FORBIDDEN, CONFLICT (a reactivation under way),
// IDEMPOTENCY_MISMATCH.
func (s *Service) Reactivate(ctx context.Context, req ReactivateRequest) (*Result, error) {
	if err := tenantd.CheckLine("paymentMethod", req.PaymentMethod, 255); err != nil {
		return nil, err
	}
	input := struct {
		TenantID      uuid.UUID `json:"tenantId"`
		PaymentMethod string    `json:"paymentMethod"`
		Plan          string    `json:"plan"`
		Reason        string    `json:"reason"`
	}{req.TenantID, req.PaymentMethod, req.Plan, req.Reason}
	return s.once(ctx, "reactivateTenant", req.IdempotencyKey, req.TenantID, input, func(ctx context.Context) (*Result, error) {
		return s.reactivateStart(ctx, req)
	})
}

func (s *Service) reactivateStart(ctx context.Context, req ReactivateRequest) (*Result, error) {
	t, err := s.machine.Visible(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	switch t.State {
	case tenantd.StatePurged:
		return nil, &tenantd.Error{Code: tenantd.EINVALIDTRANSITION, Extra: map[string]any{"state": string(t.State)},
			Message: "the tenant was purged: its data is gone and it cannot be reactivated; sign up again"}
	case tenantd.StatePendingDeletion:
		return nil, &tenantd.Error{Code: tenantd.EINVALIDTRANSITION, Extra: map[string]any{"state": string(t.State)},
			Message: "the tenant is PENDING_DELETION: bring it back with restoreTenant, not reactivateTenant"}
	}
	if err := lifecycle.Check(t.State, tenantd.EventReactivate, req.Actor); err != nil {
		return nil, err
	}
	sys := tenantd.SystemContext(ctx)
	cur, err := t.QueryPlan().Only(sys)
	if err != nil {
		return nil, err
	}
	plan := cur
	if req.Plan != "" && req.Plan != cur.Key {
		if plan, err = plans.ByKey(sys, s.db.Ent, req.Plan); err != nil {
			return nil, err
		}
		if plan.Isolation != cur.Isolation {
			return nil, tenantd.Invalid("plan", "reactivate on a plan that keeps the data where it is (%s is %s, %s is %s); "+
				"change the plan afterwards with changePlan", cur.Key, cur.Isolation, plan.Key, plan.Isolation)
		}
	}
	var out *Result
	err = s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		t, err := s.machine.LockTx(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if err := lifecycle.Check(t.State, tenantd.EventReactivate, req.Actor); err != nil {
			return err
		}
		running, err := operation.UnderWay(ctx, tx.Ent, t.ID, tenantd.OpReactivate)
		if err != nil {
			return err
		}
		if running != nil {
			return tenantd.Errorf(tenantd.ECONFLICT, "a reactivation of this tenant is under way; follow its operation")
		}
		secret, key, err := auth.IssueAPIKey(ctx, tx.Ent, t.ID, "reactivated", req.Actor.Name)
		if err != nil {
			return err
		}
		params := s.Params(t)
		params["plan"], params["paymentMethod"], params["reason"] = plan.Key, req.PaymentMethod, req.Reason
		params["apiKey"] = key.ID.String() // revoked if the reactivation fails
		if c := req.Coupon; c != nil {
			params["coupon"] = map[string]any{"percentOff": c.PercentOff, "durationMonths": c.DurationMonths, "name": c.Name}
		}
		if req.WinBackMessage != uuid.Nil {
			params["winBackMessage"] = req.WinBackMessage.String()
		}
		op, err := s.startTx(ctx, tx, t.ID, tenantd.OpReactivate, params, req.Actor)
		if err != nil {
			return err
		}
		out = &Result{Tenant: t, Operation: op, APIKey: secret}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.unwrap(), nil
}

// reactivate is the last step of REACTIVATE: billing is back, the tenant
// is ACTIVE (on the plan asked for).
func (s *Service) reactivate(ctx context.Context, tx *store.Tx, r *operation.Run) (string, error) {
	if r.Tenant.State == tenantd.StateActive {
		return "already active", nil
	}
	by, _ := r.Op.Params["by"].(string)
	name, _ := r.Op.Params["actor"].(string)
	reason, _ := r.Op.Params["reason"].(string)
	actor := lifecycle.Actor{By: tenantd.Trigger(by), Name: name}
	if actor.By == "" {
		actor = lifecycle.Actor{By: tenantd.TriggerSystem, Name: "worker:reactivate"}
	}
	key, _ := r.Op.Params["plan"].(string)
	req := lifecycle.Request{TenantID: r.Tenant.ID, Event: tenantd.EventReactivate, Actor: actor, Reason: reason,
		Metadata: map[string]any{"operation": r.Op.ID.String()}}
	if key != "" {
		p, err := plans.ByKey(tenantd.SystemContext(ctx), tx.Ent, key)
		if err != nil {
			return "", operation.Permanent(err)
		}
		if p.ID != r.Tenant.PlanID {
			req.Metadata["plan"] = p.Key
			req.Update = func(u *ent.TenantUpdateOne) { u.SetPlanID(p.ID) }
		}
	}
	if _, err := s.machine.FireTx(ctx, tx, req); err != nil {
		if tenantd.ErrorCode(err) == tenantd.EINVALIDTRANSITION {
			return "", operation.Permanent(err)
		}
		return "", err
	}
	if err := s.converted(ctx, tx, r); err != nil {
		return "", err
	}
	return "tenant reactivated", nil
}

// converted records a reactivation through a win-back link as the
// conversion of its mail, with the monthly revenue won back, in the
// transaction that makes the tenant ACTIVE.
func (s *Service) converted(ctx context.Context, tx *store.Tx, r *operation.Run) error {
	id, err := uuid.Parse(fmt.Sprint(r.Op.Params["winBackMessage"]))
	if err != nil {
		return nil // not through a link
	}
	sys := tenantd.SystemContext(ctx)
	t, err := tx.Ent.Tenant.Get(sys, r.Tenant.ID)
	if err != nil {
		return err
	}
	p, err := tx.Ent.Plan.Get(sys, t.PlanID)
	if err != nil {
		return err
	}
	return tx.Ent.WinBackMessage.Update().Where(winbackmessage.ID(id), winbackmessage.ConvertedAtIsNil()).
		SetConvertedAt(s.machine.Now()).SetRecoveredCents(int64(p.PriceCents)).Exec(sys)
}

// couponOf is the retention coupon of a REACTIVATE operation, or nil.
func couponOf(r *operation.Run) *billing.RetentionCoupon {
	c, ok := r.Op.Params["coupon"].(map[string]any)
	if !ok {
		return nil
	}
	num := func(k string) int {
		switch v := c[k].(type) {
		case float64:
			return int(v)
		case int:
			return v
		}
		return 0
	}
	name, _ := c["name"].(string)
	return &billing.RetentionCoupon{PercentOff: num("percentOff"), DurationMonths: num("durationMonths"), Name: name}
}

// ops returns the engine the kinds were registered on.
func (s *Service) ops() *operation.Engine { return s.engine }

// reactivationFailed revokes the key a failed reactivation issued (a
// declined card): the tenant stays CANCELED, and the next attempt issues
// its own.
func (s *Service) reactivationFailed(ctx context.Context, tx *store.Tx, r *operation.Run, _ operation.Failure) error {
	id, err := uuid.Parse(fmt.Sprint(r.Op.Params["apiKey"]))
	if err != nil {
		return nil // an operation from before keys were recorded
	}
	sys := tenantd.SystemContext(ctx)
	n, err := tx.Ent.APIKey.Update().Where(apikey.ID(id), apikey.RevokedAtIsNil()).SetRevokedAt(s.machine.Now()).Save(sys)
	if err != nil {
		return fmt.Errorf("revoke the failed reactivation's key: %w", err)
	}
	if n == 0 || s.events == nil {
		return nil
	}
	return s.events.PublishTx(ctx, tx, events.Event{Kind: events.KindKeyRevoked, TenantID: r.Op.TenantID, KeyID: id})
}
