// Package events fans out change notices — a tenant changed state, an
// operation made progress — to the subscribers of this process. A notice
// carries ids only; subscribers read the current record from the database,
// so a notice lost or coalesced never leaves a subscriber with stale data.
//
// On SQLite the notices are published in process after commit. On PostgreSQL
// they go through NOTIFY inside the writing transaction and come back through
// LISTEN on every replica, so a subscriber on one replica sees work done on
// another.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd/internal/store"
)

// Channel is the PostgreSQL NOTIFY channel.
const Channel = "tenantd_events"

// Kind says what changed.
type Kind string

// The kinds of notices.
const (
	// KindTransition: a tenant moved (Seq is the new history seq).
	KindTransition Kind = "transition"
	// KindOperation: an operation's row changed.
	KindOperation Kind = "operation"
	// KindResync: the feed may have lost notices (a reconnect); every
	// subscriber should re-read what it follows.
	KindResync Kind = "resync"
	// KindKeyRevoked: an API key was revoked (KeyID); its WebSockets close.
	KindKeyRevoked Kind = "key_revoked"
	// KindTokenRevoked: an admin or partner token was revoked (KeyID holds
	// the token's id); its WebSockets close.
	KindTokenRevoked Kind = "token_revoked"
)

// Event is a change notice. It is small on purpose: PostgreSQL caps NOTIFY
// payloads at 8000 bytes.
type Event struct {
	Kind        Kind      `json:"k"`
	TenantID    uuid.UUID `json:"t"`
	OperationID uuid.UUID `json:"o,omitzero"`
	// KeyID is the revoked API key or admin token.
	KeyID uuid.UUID `json:"key,omitzero"`
	Seq   int       `json:"s,omitempty"`
	// N numbers the events this process delivered; every subscriber of one
	// delivery sees the same N, so readers can share what they read for it.
	N uint64 `json:"-"`
}

// Hub delivers events to the subscriptions of this process.
type Hub struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
	n    atomic.Uint64
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: make(map[*Subscription]struct{})} }

// Subscription receives the events its filter accepts.
type Subscription struct {
	hub    *Hub
	filter func(Event) bool
	c      chan Event
	once   sync.Once
}

// Subscribe returns a subscription to the events for which filter returns
// true (all events if filter is nil). buffer bounds the events held for a
// slow reader; when it is full the reader gets a KindResync instead of the
// lost events.
func (h *Hub) Subscribe(filter func(Event) bool, buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	s := &Subscription{hub: h, filter: filter, c: make(chan Event, buffer)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// C returns the channel of events.
func (s *Subscription) C() <-chan Event { return s.c }

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.hub.mu.Lock()
		delete(s.hub.subs, s)
		s.hub.mu.Unlock()
	})
}

// Publish hands ev to every subscription that wants it. It never blocks: a
// subscription whose buffer is full has its oldest event replaced by a
// resync notice.
func (h *Hub) Publish(ev Event) {
	ev.N = h.n.Add(1)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		if ev.Kind != KindResync && s.filter != nil && !s.filter(ev) {
			continue
		}
		select {
		case s.c <- ev:
		default:
			// Full: make room and tell the reader to re-read everything.
			select {
			case <-s.c:
			default:
			}
			select {
			case s.c <- Event{Kind: KindResync}:
			default:
			}
		}
	}
}

// Subscribers returns the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// Publisher publishes events as part of a transaction: they reach
// subscribers only if, and once, the transaction commits.
type Publisher struct {
	hub *Hub
}

// NewPublisher returns a publisher feeding hub.
func NewPublisher(hub *Hub) *Publisher { return &Publisher{hub: hub} }

// PublishTx publishes ev when tx commits. On PostgreSQL it sends NOTIFY in
// tx (delivered at commit to every replica's listener, this one included);
// on SQLite it publishes to the local hub after commit.
func (p *Publisher) PublishTx(ctx context.Context, tx *store.Tx, ev Event) error {
	if p == nil {
		return nil
	}
	if tx.IsPostgres() {
		payload, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		if _, err := tx.SQL.ExecContext(ctx, "SELECT pg_notify($1, $2)", Channel, string(payload)); err != nil {
			return fmt.Errorf("notify %s: %w", ev.Kind, err)
		}
		return nil
	}
	tx.OnCommit(func() { p.hub.Publish(ev) })
	return nil
}

// Hub returns the hub the publisher feeds.
func (p *Publisher) Hub() *Hub { return p.hub }
