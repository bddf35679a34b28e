// Package watch streams live state to subscribers: an operation's progress
// and a tenant's events. Each stream first sends the current state, then
// every change, reading the records from the database when the event hub says
// something changed — so a late subscriber never misses the final state and a
// lost or coalesced notice never leaves one with stale data.
package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/events"
)

// Watcher opens streams.
type Watcher struct {
	client *ent.Client
	hub    *events.Hub
	log    *slog.Logger
	sh     *shared
}

// New returns a Watcher reading through client and woken by hub.
func New(client *ent.Client, hub *events.Hub, log *slog.Logger) *Watcher {
	return &Watcher{client: client, hub: hub, log: log, sh: newShared()}
}

// buffer is how many notices a stream may fall behind before it is told to
// re-read everything (which it does anyway on each notice).
const buffer = 64

// Operation streams the operation with the given id, as the caller in ctx
// sees it, and closes the stream after sending its final state. A stream
// ends when ctx does: the server ends a revoked credential's streams by
// closing their connection.
//
// Returns NOT_FOUND if the caller cannot see the operation.
func (w *Watcher) Operation(ctx context.Context, id uuid.UUID) (<-chan *ent.Operation, error) {
	// Subscribe before the first read, so no change falls in between.
	sub := w.hub.Subscribe(func(ev events.Event) bool { return ev.OperationID == id }, buffer)
	op, err := w.client.Operation.Get(ctx, id)
	if err != nil {
		sub.Close()
		if ent.IsNotFound(err) {
			return nil, tenantd.Errorf(tenantd.ENOTFOUND, "no operation with id %s", id)
		}
		return nil, err
	}
	out := make(chan *ent.Operation, 1)
	go func() {
		defer close(out)
		defer sub.Close()
		last := fingerprint(op)
		if !send(ctx, out, op) || op.Status.Done() {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sub.C():
				op, err := w.operation(ctx, id, ev.N)
				if err != nil {
					if ctx.Err() == nil {
						w.log.Warn("watch operation: read failed", "operation", id, "err", err)
					}
					continue
				}
				if f := fingerprint(op); f != last {
					last = f
					if !send(ctx, out, op) {
						return
					}
				}
				if op.Status.Done() {
					return
				}
			}
		}
	}()
	return out, nil
}

// EventKind says what a TenantEvent reports.
type EventKind string

// The kinds of tenant events.
const (
	// EventSnapshot is the first message of a single-tenant stream: the
	// tenant as it is, with its latest transition.
	EventSnapshot EventKind = "SNAPSHOT"
	// EventTransition reports a new history row.
	EventTransition EventKind = "TRANSITION"
	// EventOperation reports an operation that changed.
	EventOperation EventKind = "OPERATION"
)

// MarshalGQL implements graphql.Marshaler.
func (k EventKind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (k *EventKind) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch EventKind(s) {
	case EventSnapshot, EventTransition, EventOperation:
		*k = EventKind(s)
		return nil
	}
	return tenantd.Invalid("kind", "%q is not a TenantEventKind", s)
}

// TenantEvent is one message of a tenant stream.
type TenantEvent struct {
	Kind       EventKind
	Tenant     *ent.Tenant
	Transition *ent.StateTransition
	Operation  *ent.Operation
}

// Tenant streams the events of one tenant (tenantID set) or, for operators,
// of every tenant (tenantID nil). A single-tenant stream starts with a
// SNAPSHOT; the all-tenants stream starts with the next change. Every new
// history row is sent, in seq order, exactly once.
//
// Returns NOT_FOUND if the caller cannot see the tenant.
func (w *Watcher) Tenant(ctx context.Context, tenantID *uuid.UUID) (<-chan *TenantEvent, error) {
	sub := w.hub.Subscribe(func(ev events.Event) bool {
		switch ev.Kind {
		case events.KindTransition, events.KindOperation:
			return tenantID == nil || ev.TenantID == *tenantID
		}
		return false // revocations are the server's business
	}, buffer)
	s := &tenantStream{w: w, ctx: ctx, lastSeq: map[uuid.UUID]int{}, lastOp: map[uuid.UUID]string{}}
	var first *TenantEvent
	if tenantID != nil {
		t, err := w.client.Tenant.Get(ctx, *tenantID)
		if err != nil {
			sub.Close()
			if ent.IsNotFound(err) {
				return nil, tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", *tenantID)
			}
			return nil, err
		}
		latest, err := t.QueryTransitions().Where(statetransition.Seq(t.HistorySeq)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			sub.Close()
			return nil, err
		}
		s.lastSeq[t.ID] = t.HistorySeq
		first = &TenantEvent{Kind: EventSnapshot, Tenant: t, Transition: latest}
	}
	out := make(chan *TenantEvent, 1)
	s.out = out
	go func() {
		defer close(out)
		defer sub.Close()
		if first != nil && !send(ctx, out, first) {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sub.C():
				if !s.handle(ev, tenantID) {
					return
				}
			}
		}
	}()
	return out, nil
}

type tenantStream struct {
	w       *Watcher
	ctx     context.Context
	out     chan *TenantEvent
	lastSeq map[uuid.UUID]int
	lastOp  map[uuid.UUID]string
}

// handle turns a notice into messages; false ends the stream.
func (s *tenantStream) handle(ev events.Event, only *uuid.UUID) bool {
	switch ev.Kind {
	case events.KindTransition:
		return s.transitionsOf(ev.TenantID, ev.Seq, ev.N)
	case events.KindOperation:
		return s.operation(ev.OperationID, ev.N)
	case events.KindResync:
		if only == nil {
			return true // the all-tenants stream cannot re-read everything
		}
		if !s.transitionsOf(*only, 0, ev.N) {
			return false
		}
		ops, err := s.w.client.Operation.Query().
			Where(operation.TenantID(*only), operation.StatusIn(tenantd.OpQueued, tenantd.OpRunning)).All(s.ctx)
		if err != nil {
			return true
		}
		for _, op := range ops {
			if !s.operation(op.ID, ev.N) {
				return false
			}
		}
	}
	return true
}

// transitionsOf sends the tenant's history rows not sent yet. On an
// all-tenants stream, the first notice of a tenant starts it at the row that
// notice is about (seq), or at its newest row if the notice has none.
func (s *tenantStream) transitionsOf(tenantID uuid.UUID, seq int, n uint64) bool {
	last, known := s.lastSeq[tenantID]
	if !known && seq > 0 {
		last, known = seq-1, true
	}
	rows, err := s.w.transitions(s.ctx, tenantID, last, known, n)
	if err != nil || len(rows) == 0 {
		return true
	}
	t, err := s.w.tenant(s.ctx, tenantID, n)
	if err != nil {
		return true
	}
	for _, r := range rows {
		if r.Seq > s.lastSeq[tenantID] {
			s.lastSeq[tenantID] = r.Seq
		}
		if !send(s.ctx, s.out, &TenantEvent{Kind: EventTransition, Tenant: t, Transition: r}) {
			return false
		}
	}
	return true
}

func (s *tenantStream) operation(id uuid.UUID, n uint64) bool {
	op, err := s.w.operation(s.ctx, id, n)
	if err != nil {
		return true
	}
	f := fingerprint(op)
	if s.lastOp[id] == f {
		return true
	}
	s.lastOp[id] = f
	if op.Status.Done() {
		delete(s.lastOp, id) // keep the map to running operations
	}
	t, err := s.w.tenant(s.ctx, op.TenantID, n)
	if err != nil {
		return true
	}
	return send(s.ctx, s.out, &TenantEvent{Kind: EventOperation, Tenant: t, Operation: op})
}

// fingerprint identifies what a subscriber sees of an operation.
func fingerprint(op *ent.Operation) string {
	b, _ := json.Marshal(struct {
		S  tenantd.OperationStatus
		D  int
		St []tenantd.OperationStep
		E  *string
		A  int
	}{op.Status, op.ProgressDone, op.Steps, op.ErrorMessage, op.Attempt})
	return string(b)
}

func send[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// The reads of a stream after its first message. The stream was authorized
// when it opened and the hub only wakes it for what it follows, so the reads
// run as tenantd and are shared by every stream woken by the same event (n).

func (w *Watcher) operation(ctx context.Context, id uuid.UUID, n uint64) (*ent.Operation, error) {
	v, err := w.sh.do(fmt.Sprintf("op:%s:%d", id, n), func() (any, error) {
		return w.client.Operation.Get(tenantd.SystemContext(ctx), id)
	})
	if err != nil {
		return nil, err
	}
	return v.(*ent.Operation), nil
}

func (w *Watcher) tenant(ctx context.Context, id uuid.UUID, n uint64) (*ent.Tenant, error) {
	v, err := w.sh.do(fmt.Sprintf("tenant:%s:%d", id, n), func() (any, error) {
		return w.client.Tenant.Get(tenantd.SystemContext(ctx), id)
	})
	if err != nil {
		return nil, err
	}
	return v.(*ent.Tenant), nil
}

// transitions returns a tenant's history rows after seq last, or only its
// newest row when the stream knows nothing of the tenant yet.
func (w *Watcher) transitions(ctx context.Context, tenantID uuid.UUID, last int, known bool, n uint64) ([]*ent.StateTransition, error) {
	v, err := w.sh.do(fmt.Sprintf("transitions:%s:%d:%t:%d", tenantID, last, known, n), func() (any, error) {
		q := w.client.StateTransition.Query().Where(statetransition.TenantID(tenantID))
		if known {
			q = q.Where(statetransition.SeqGT(last)).Order(statetransition.BySeq())
		} else {
			q = q.Order(ent.Desc(statetransition.FieldSeq)).Limit(1)
		}
		return q.All(tenantd.SystemContext(ctx))
	})
	if err != nil {
		return nil, err
	}
	return v.([]*ent.StateTransition), nil
}
