// Package lifecycle is the tenant state machine and the only writer of a
// tenant's state and history. One call moves a tenant, appends the hash-chained
// StateTransition row, keeps the per-state counts and, when asked, inserts the
// Operation with its River job — all in one transaction.
package lifecycle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/statewrite"
	"github.com/tenantd/tenantd/internal/store"
)

// JobInserter inserts River jobs in a transaction; *river.Client[*sql.Tx]
// is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Starter creates an operation and its job in a transaction;
// *operation.Engine is one.
type Starter interface {
	StartTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, spec operation.Spec) (*ent.Operation, error)
}

// Machine fires lifecycle events.
type Machine struct {
	db     *store.DB
	ops    Starter
	events *events.Publisher
	// transitions counts committed transitions by event; nil disables it.
	transitions *prometheus.CounterVec
	clock       tenantd.Clock
	idem        *idempotency.Store
}

// Config wires a Machine.
type Config struct {
	DB *store.DB
	// Operations starts the operations transitions ask for (the operation
	// engine); required only for requests that carry an Operation.
	Operations Starter
	// Events publishes change notices; nil publishes nothing.
	Events *events.Publisher
	// Transitions, if set, counts committed transitions by event.
	Transitions *prometheus.CounterVec
	// Clock stamps transitions (nil: the real clock).
	Clock tenantd.Clock
	// Idempotency keeps the keys of Fire requests that carry one; required
	// only for those.
	Idempotency *idempotency.Store
}

// New returns a Machine.
func New(cfg Config) *Machine {
	return &Machine{db: cfg.DB, ops: cfg.Operations, events: cfg.Events, transitions: cfg.Transitions, clock: tenantd.ClockOr(cfg.Clock), idem: cfg.Idempotency}
}

// writerKey marks the contexts of lifecycle's own writes; no other package
// can make one (statewrite).
type writerKey struct{}

func asWriter(ctx context.Context) context.Context { return context.WithValue(ctx, writerKey{}, true) }

func init() {
	statewrite.Register(func(ctx context.Context) bool { v, _ := ctx.Value(writerKey{}).(bool); return v })
}

// stateField is a tenant column only the transition itself sets.
var stateFields = []string{tenant.FieldState, tenant.FieldStateBeforeDeletion, tenant.FieldHistorySeq, tenant.FieldHistoryHead, tenant.FieldStateChangedAt}

// noStateFields refuses a caller's callback that set a state field.
func noStateFields(m ent.Mutation, who string) error {
	for _, f := range stateFields {
		if _, set := m.Field(f); set || m.FieldCleared(f) {
			return fmt.Errorf("lifecycle: %s may not set tenant.%s: the transition sets it", who, f)
		}
	}
	return nil
}

// text is a row's erasable text with its commitment.
type text struct {
	private    map[string]any
	salt, hash string
}

func newText(reason string, private map[string]any) (text, error) {
	p, err := normalizeMetadata(private)
	if err != nil {
		return text{}, err
	}
	t := text{private: p, salt: newSalt()}
	t.hash, err = TextHash(t.salt, reason, p)
	return t, err
}

// Now is the machine's time, as transitions record it.
func (m *Machine) Now() time.Time { return tenantd.Now(m.clock) }

// Clock returns the machine's clock.
func (m *Machine) Clock() tenantd.Clock {
	return m.clock
}

// Actor says who causes a transition, for the audit trail.
type Actor struct {
	By   tenantd.Trigger
	Name string // e.g. "admin:tda_1a2b3c4d", "worker:provisioning"; never personal data
}

// ActorOf returns the actor of the viewer in ctx. SYSTEM viewers and
// contexts without a viewer are tenantd itself.
func ActorOf(ctx context.Context) Actor {
	v, ok := tenantd.ViewerFrom(ctx)
	if !ok {
		return Actor{By: tenantd.TriggerSystem, Name: "system"}
	}
	switch v.Role {
	case tenantd.RoleAdmin, tenantd.RolePartner:
		return Actor{By: tenantd.TriggerAdmin, Name: v.Actor}
	case tenantd.RoleTenant:
		return Actor{By: tenantd.TriggerUser, Name: v.Actor}
	default:
		name := v.Actor
		if name == "" {
			name = "system"
		}
		return Actor{By: tenantd.TriggerSystem, Name: name}
	}
}

// Request asks for one transition.
type Request struct {
	TenantID uuid.UUID
	Event    tenantd.Event
	Actor    Actor
	// Reason is free text for the audit trail; it may hold personal data
	// and is erased at purge (the chain commits to it, see Link).
	Reason string
	// Metadata is structured facts (ids, plans, certificates), never
	// personal data: it stays in the chain for good.
	Metadata map[string]any
	// Private holds details that may be personal (a comment, a display
	// name): kept beside Reason and erased with it.
	Private map[string]any
	// IdempotencyKey makes Fire safe to retry: the same key and request
	// (from the same credential) give the first answer — its transition —
	// and fire nothing; other input with the key is IDEMPOTENCY_MISMATCH.
	// FireTx ignores it (its caller owns the transaction).
	IdempotencyKey string
	// Operation, if set, is created with its River job in the same
	// transaction (RequestedBy defaults to the actor's name).
	Operation *operation.Spec
	// Update adds field changes to the tenant's row in the same statement as
	// the state change (for example the new plan of change_plan).
	Update func(*ent.TenantUpdateOne)
}

// Result is what a transition wrote.
type Result struct {
	Tenant     *ent.Tenant
	Transition *ent.StateTransition
	Operation  *ent.Operation // nil unless the request asked for one
}

// Fire runs req in its own transaction.
//
// Returns NOT_FOUND if the tenant does not exist or the caller in ctx cannot
// see it, INVALID_TRANSITION if the event is illegal in the tenant's state,
// and FORBIDDEN if the actor may not cause the event.
func (m *Machine) Fire(ctx context.Context, req Request) (*Result, error) {
	if req.IdempotencyKey != "" {
		return m.fireOnce(ctx, req)
	}
	var res *Result
	err := m.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		res, err = m.FireTx(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res.Unwrap(), nil
}

// fingerprint is what an idempotent Fire compares on reuse of its key: the
// fields of the lifecycle mutations' input (TenantTransitionInput's JSON).
type fingerprint struct {
	TenantID       uuid.UUID `json:"tenantId"`
	Reason         *string   `json:"reason"`
	IdempotencyKey *string   `json:"idempotencyKey"`
}

// fireOnce is Fire with an idempotency key: the first call fires and stores
// its transition's id; a retry returns that transition and the tenant as it
// is now.
func (m *Machine) fireOnce(ctx context.Context, req Request) (*Result, error) {
	if m.idem == nil {
		return nil, errors.New("lifecycle: an idempotent request needs the idempotency store")
	}
	v, _ := tenantd.ViewerFrom(ctx)
	fp := fingerprint{TenantID: req.TenantID, IdempotencyKey: &req.IdempotencyKey}
	if req.Reason != "" {
		fp.Reason = &req.Reason
	}
	var res *Result
	id, err := idempotency.Do(ctx, m.idem, idempotency.Request{
		Scope: string(req.Event) + ":" + v.TokenID.String(), Key: req.IdempotencyKey, Input: fp,
	}, func(ctx context.Context, _ *idempotency.Claim) (uuid.UUID, error) {
		req.IdempotencyKey = ""
		r, err := m.Fire(ctx, req)
		if err != nil {
			return uuid.Nil, err
		}
		res = r
		return r.Transition.ID, nil
	})
	if err != nil {
		return nil, err
	}
	if res != nil {
		return res, nil
	}
	tr, err := m.db.Ent.StateTransition.Get(ctx, id) // a replay: the stored answer
	if err != nil {
		return nil, err
	}
	t, err := tr.QueryTenant().Only(ctx)
	if err != nil {
		return nil, err
	}
	return &Result{Tenant: t, Transition: tr}, nil
}

// Unwrap points the entities of a result written in a transaction back at
// the database, for use after commit.
func (r *Result) Unwrap() *Result {
	r.Tenant = r.Tenant.Unwrap()
	r.Transition = r.Transition.Unwrap()
	if r.Operation != nil {
		r.Operation = r.Operation.Unwrap()
	}
	return r
}

// FireTx runs req inside tx; see Fire. The caller commits, then calls
// Result.Unwrap if it uses the entities afterwards.
func (m *Machine) FireTx(ctx context.Context, tx *store.Tx, req Request) (*Result, error) {
	r, ok := rule(req.Event)
	if !ok || req.Event == tenantd.EventSignup {
		return nil, tenantd.Invalid("event", "%q is not an event that can be fired on an existing tenant", req.Event)
	}
	if err := checkActor(r, req.Actor); err != nil {
		return nil, err
	}
	meta, err := normalizeMetadata(req.Metadata)
	if err != nil {
		return nil, err
	}
	text, err := newText(req.Reason, req.Private)
	if err != nil {
		return nil, err
	}
	// Visibility is the caller's: a tenant viewer asking about another tenant
	// gets NOT_FOUND. Everything after that is tenantd's own write.
	t, err := m.lockTenant(ctx, tx, req.TenantID)
	if err != nil {
		return nil, err
	}
	ctx = asWriter(ctx)
	sys := tenantd.SystemContext(ctx)
	to, ok := Target(t.State, req.Event, t.StateBeforeDeletion)
	if !ok {
		return nil, invalidTransition(t.State, req.Event, req.Actor.By)
	}
	now := m.Now()
	from := t.State
	seq := t.HistorySeq + 1
	hash, err := Hash(t.HistoryHead, Link{
		TenantID: t.ID, Seq: seq, Event: req.Event, From: &from, To: to,
		TriggeredBy: req.Actor.By, Actor: req.Actor.Name,
		Metadata: meta, OccurredAt: now, Version: ChainVersion, TextHash: text.hash,
	})
	if err != nil {
		return nil, err
	}

	t2, err := m.updateTenant(sys, tx, t, req, from, to, seq, hash, now)
	if err != nil {
		return nil, err
	}
	tr, err := tx.Ent.StateTransition.Create().
		SetTenantID(t.ID).SetSeq(seq).SetEvent(req.Event).
		SetFromState(from).SetToState(to).
		SetTriggeredBy(req.Actor.By).SetActor(req.Actor.Name).SetReason(req.Reason).
		SetMetadata(meta).SetPrivate(text.private).SetChainVersion(ChainVersion).
		SetTextSalt(text.salt).SetTextHash(text.hash).SetOccurredAt(now).
		SetPrevHash(t.HistoryHead).SetHash(hash).
		Save(sys)
	if err != nil {
		return nil, fmt.Errorf("%s tenant %s: append history: %w", req.Event, t.ID, err)
	}
	if to != from {
		if err := moveCount(sys, tx, t.ID, &from, to); err != nil {
			return nil, err
		}
	}
	res := &Result{Tenant: t2, Transition: tr}
	if req.Operation != nil {
		if m.ops == nil {
			return nil, errors.New("lifecycle: an operation needs the operation engine")
		}
		spec := *req.Operation
		if spec.RequestedBy == "" {
			spec.RequestedBy = req.Actor.Name
		}
		if res.Operation, err = m.ops.StartTx(sys, tx, t.ID, spec); err != nil {
			return nil, err
		}
	}
	if err := m.events.PublishTx(ctx, tx, events.Event{Kind: events.KindTransition, TenantID: t.ID, Seq: seq}); err != nil {
		return nil, err
	}
	m.countOnCommit(tx, req.Event)
	return res, nil
}

// updateTenant writes the transition into the tenant row, guarded by the
// history seq read under the lock. Without extra changes (req.Update) it
// updates in one statement and builds the new row from the locked one,
// saving ent's re-read; with them, ent's UpdateOne returns what was written.
func (m *Machine) updateTenant(ctx context.Context, tx *store.Tx, t *ent.Tenant, req Request,
	from, to tenantd.State, seq int, hash string, now time.Time) (*ent.Tenant, error) {
	conflict := func() error {
		return tenantd.Errorf(tenantd.ECONFLICT, "tenant %s changed while this %s was being applied; retry", t.ID, req.Event)
	}
	if req.Update == nil {
		upd := tx.Ent.Tenant.Update().
			Where(tenant.ID(t.ID), tenant.HistorySeq(t.HistorySeq)). // the chain cannot fork: seq moves by one
			SetHistorySeq(seq).SetHistoryHead(hash).SetUpdatedAt(now)
		next := *t
		next.HistorySeq, next.HistoryHead, next.UpdatedAt = seq, hash, now
		if to != from {
			upd.SetState(to).SetStateChangedAt(now)
			next.State, next.StateChangedAt = to, now
		}
		switch req.Event {
		case tenantd.EventRequestDeletion:
			upd.SetStateBeforeDeletion(from)
			next.StateBeforeDeletion = &from
		case tenantd.EventRestore:
			upd.ClearStateBeforeDeletion().ClearPurgeAfter()
			next.StateBeforeDeletion, next.PurgeAfter = nil, nil
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s tenant %s: update: %w", req.Event, t.ID, err)
		}
		if n != 1 {
			return nil, conflict()
		}
		return &next, nil
	}
	upd := tx.Ent.Tenant.UpdateOne(t).Where(tenant.HistorySeq(t.HistorySeq))
	req.Update(upd) // first: what it sets of the state fields is refused
	if err := noStateFields(upd.Mutation(), "Request.Update"); err != nil {
		return nil, err
	}
	upd.SetHistorySeq(seq).SetHistoryHead(hash)
	if to != from {
		upd.SetState(to).SetStateChangedAt(now)
	}
	switch req.Event {
	case tenantd.EventRequestDeletion:
		upd.SetStateBeforeDeletion(from)
	case tenantd.EventRestore:
		upd.ClearStateBeforeDeletion().ClearPurgeAfter()
	}
	t2, err := upd.Save(ctx)
	if ent.IsNotFound(err) {
		return nil, conflict()
	}
	if err != nil {
		return nil, fmt.Errorf("%s tenant %s: update: %w", req.Event, t.ID, err)
	}
	return t2, nil
}

// NewTenant is the signup of a tenant.
type NewTenant struct {
	Name     string
	Slug     string
	SlugHash string
	Email    string
	PlanID   uuid.UUID
	Actor    Actor
	Reason   string
	Metadata map[string]any
	// Customize sets further fields on the new row (for example billing ids).
	Customize func(*ent.TenantCreate)
}

// CreateTx fires signup: it inserts the tenant in PENDING with the first
// history row. The caller validates the input and commits.
func (m *Machine) CreateTx(ctx context.Context, tx *store.Tx, nt NewTenant) (*Result, error) {
	r, _ := rule(tenantd.EventSignup)
	if err := checkActor(r, nt.Actor); err != nil {
		return nil, err
	}
	meta, err := normalizeMetadata(nt.Metadata)
	if err != nil {
		return nil, err
	}
	text, err := newText(nt.Reason, nil)
	if err != nil {
		return nil, err
	}
	ctx = asWriter(ctx)
	sys := tenantd.SystemContext(ctx)
	id := schema.NewID()
	now := m.Now()
	hash, err := Hash("", Link{
		TenantID: id, Seq: 1, Event: tenantd.EventSignup, To: tenantd.StatePending,
		TriggeredBy: nt.Actor.By, Actor: nt.Actor.Name,
		Metadata: meta, OccurredAt: now, Version: ChainVersion, TextHash: text.hash,
	})
	if err != nil {
		return nil, err
	}
	create := tx.Ent.Tenant.Create()
	if nt.Customize != nil {
		nt.Customize(create) // first: what it sets of the state fields is refused
		if err := noStateFields(create.Mutation(), "NewTenant.Customize"); err != nil {
			return nil, err
		}
	}
	create.SetID(id).SetName(nt.Name).SetSlug(nt.Slug).SetSlugHash(nt.SlugHash).
		SetPlanID(nt.PlanID).
		SetState(tenantd.StatePending).SetStateChangedAt(now).
		SetHistorySeq(1).SetHistoryHead(hash).
		SetCreatedAt(now).SetUpdatedAt(now)
	if nt.Email != "" {
		create.SetEmail(nt.Email)
	}
	t, err := create.Save(sys)
	if err != nil {
		if ent.IsConstraintError(err) && strings.Contains(err.Error(), "slug") {
			return nil, tenantd.Invalid("slug", "the slug %q is taken; choose another", nt.Slug)
		}
		return nil, fmt.Errorf("signup: insert tenant: %w", err)
	}
	tr, err := tx.Ent.StateTransition.Create().
		SetTenantID(id).SetSeq(1).SetEvent(tenantd.EventSignup).SetToState(tenantd.StatePending).
		SetTriggeredBy(nt.Actor.By).SetActor(nt.Actor.Name).SetReason(nt.Reason).
		SetMetadata(meta).SetChainVersion(ChainVersion).SetTextSalt(text.salt).SetTextHash(text.hash).
		SetOccurredAt(now).SetPrevHash("").SetHash(hash).
		Save(sys)
	if err != nil {
		return nil, fmt.Errorf("signup: append history: %w", err)
	}
	if err := moveCount(sys, tx, id, nil, tenantd.StatePending); err != nil {
		return nil, err
	}
	if err := m.events.PublishTx(ctx, tx, events.Event{Kind: events.KindTransition, TenantID: id, Seq: 1}); err != nil {
		return nil, err
	}
	m.countOnCommit(tx, tenantd.EventSignup)
	return &Result{Tenant: t, Transition: tr}, nil
}

// lockTenant reads the tenant for update. On PostgreSQL the row lock makes
// concurrent transitions of one tenant wait for each other; on SQLite every
// transaction already holds the database's write lock (BEGIN IMMEDIATE).
func (m *Machine) lockTenant(ctx context.Context, tx *store.Tx, id uuid.UUID) (*ent.Tenant, error) {
	q := tx.Ent.Tenant.Query().Where(tenant.ID(id))
	if tx.IsPostgres() {
		q = q.ForUpdate()
	}
	t, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "tenant %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load tenant %s: %w", id, err)
	}
	return t, nil
}

func (m *Machine) countOnCommit(tx *store.Tx, ev tenantd.Event) {
	if m.transitions == nil {
		return
	}
	tx.OnCommit(func() { m.transitions.WithLabelValues(string(ev)).Inc() })
}

func checkActor(r Rule, a Actor) error {
	for _, by := range r.By {
		if by == a.By {
			return nil
		}
	}
	return tenantd.Errorf(tenantd.EFORBIDDEN, "%s may not be caused by %s (allowed: %s)", r.Event, a.By, joinTriggers(r.By))
}

func invalidTransition(s tenantd.State, ev tenantd.Event, by tenantd.Trigger) error {
	allowed := AllowedEventsFor(s, by)
	names := make([]string, len(allowed))
	for i, e := range allowed {
		names[i] = string(e)
	}
	list := strings.Join(names, ", ")
	switch {
	case list != "":
	case len(AllowedEvents(s)) == 0:
		list = "none: " + string(s) + " is final"
	default:
		list = "none that you may fire"
	}
	return &tenantd.Error{
		Code:    tenantd.EINVALIDTRANSITION,
		Message: fmt.Sprintf("cannot %s a tenant in state %s; allowed events from %s: %s", ev, s, s, list),
		Extra:   map[string]any{"state": string(s), "event": string(ev), "allowedEvents": names},
	}
}

func joinTriggers(ts []tenantd.Trigger) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Check says whether actor may fire ev on a tenant in state s now, with the
// error Fire would return: INVALID_TRANSITION (with the allowed events) or
// FORBIDDEN. Capabilities that validate before a later transition (a plan
// change whose change_plan fires when its operation ends) ask it first.
func Check(s tenantd.State, ev tenantd.Event, actor Actor) error {
	r, ok := rule(ev)
	if !ok {
		return tenantd.Invalid("event", "%q is not an event", ev)
	}
	if err := checkActor(r, actor); err != nil {
		return err
	}
	if !Legal(s, ev) {
		return invalidTransition(s, ev, actor.By)
	}
	return nil
}

// Visible reads the tenant as the caller in ctx may see it: NOT_FOUND for
// one it may not see (another tenant's, for a tenant key) or that does not
// exist. Capabilities validate against it before they write.
func (m *Machine) Visible(ctx context.Context, id uuid.UUID) (*ent.Tenant, error) {
	t, err := m.db.Ent.Tenant.Query().Where(tenant.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", id)
	}
	return t, err
}

// LockTx reads the tenant in tx and holds its row lock to the end of tx
// (PostgreSQL SELECT … FOR UPDATE; SQLite write transactions are exclusive),
// as a transition does: a capability that writes tenant fields beside the
// lifecycle (a scheduled plan change) serializes with transitions this way.
// Visibility is the caller's: NOT_FOUND for a tenant ctx may not see.
func (m *Machine) LockTx(ctx context.Context, tx *store.Tx, id uuid.UUID) (*ent.Tenant, error) {
	return m.lockTenant(ctx, tx, id)
}
