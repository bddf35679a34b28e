package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/events"
)

// Close codes of graphql-transport-ws (its CloseCode enumeration) and of
// RFC 6455 that tenantd sends.
const (
	closeGoingAway            = 1001
	closeProtocolError        = 1002
	closeBadRequest           = 4400
	closeUnauthorized         = 4401
	closeForbidden            = 4403
	closeInitTimeout          = 4408
	closeSubscriberExists     = 4409
	closeTooManyInitRequests  = 4429
	defaultRevocationInterval = time.Second
)

// reasonRevoked is the close reason of a socket whose credential was revoked.
const reasonRevoked = "Forbidden: the credential of this connection was revoked"

// wsRegistry knows this process's open WebSocket connections by credential
// and by tenant. It closes every socket of a credential once the credential
// is revoked, and counts each connection's and each credential's
// subscriptions against their caps.
//
// Revocations reach it two ways. The event hub brings the revocations
// published in their transactions: at once, and on PostgreSQL on every
// replica (NOTIFY). A backstop catches what NOTIFY cannot carry — an SQLite
// file changed by another process such as `tenantd token revoke`, notices
// lost while LISTEN reconnects: once a second it asks the database, one
// primary-key query per chunk of ids, which of the open sockets'
// credentials no longer authenticate. Both run only while a socket is open;
// with none open the registry costs nothing (no goroutine, timer or query).
type wsRegistry struct {
	auth     *auth.Service
	hub      *events.Hub
	log      *slog.Logger
	perConn  int
	perToken int
	interval time.Duration
	// noRevocationClose leaves revoked sockets open (tests: what the
	// per-subscribe check does on its own).
	noRevocationClose bool

	mu       sync.Mutex
	byToken  map[uuid.UUID]map[*wsConn]struct{}
	byTenant map[uuid.UUID]map[*wsConn]struct{}
	subs     map[uuid.UUID]int // subscriptions held, per credential
	open     int
	stop     context.CancelFunc // stops the watcher; nil while none should run
	watchers sync.WaitGroup
	running  int // watcher goroutines alive
	shutDown bool
	changed  chan struct{} // closed and replaced on every change (tests wait on it)
}

type wsRegistryConfig struct {
	Auth              *auth.Service
	Hub               *events.Hub
	Log               *slog.Logger
	PerConnection     int
	PerToken          int
	Interval          time.Duration
	NoRevocationClose bool
}

func newWSRegistry(c wsRegistryConfig) *wsRegistry {
	if c.Interval <= 0 {
		c.Interval = defaultRevocationInterval
	}
	return &wsRegistry{
		auth: c.Auth, hub: c.Hub, log: c.Log, perConn: c.PerConnection, perToken: c.PerToken,
		interval: c.Interval, noRevocationClose: c.NoRevocationClose,
		byToken:  map[uuid.UUID]map[*wsConn]struct{}{},
		byTenant: map[uuid.UUID]map[*wsConn]struct{}{},
		subs:     map[uuid.UUID]int{},
		changed:  make(chan struct{}),
	}
}

// errShuttingDown refuses connections while the server stops.
var errShuttingDown = errors.New("the server is shutting down")

// register adds an authenticated connection, and starts the watcher with
// the first one.
func (r *wsRegistry) register(c *wsConn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutDown {
		return errShuttingDown
	}
	v := c.viewer
	add(r.byToken, v.TokenID, c)
	if v.Role == tenantd.RoleTenant {
		add(r.byTenant, v.TenantID, c)
	}
	r.open++
	if r.stop == nil && !r.noRevocationClose {
		// Subscribe here, not in the goroutine: a revocation published
		// from now on reaches the watcher.
		sub := r.hub.Subscribe(func(ev events.Event) bool {
			return ev.Kind == events.KindKeyRevoked || ev.Kind == events.KindTokenRevoked
		}, 64)
		ctx, cancel := context.WithCancel(context.Background())
		r.stop = cancel
		r.watchers.Add(1)
		r.running++
		go r.watch(ctx, sub)
	}
	r.notifyLocked()
	return nil
}

// unregister removes a connection that closed, gives back its
// subscriptions, and stops the watcher with the last one. It is safe to call
// more than once.
func (r *wsRegistry) unregister(c *wsConn) {
	held := c.leave()
	r.mu.Lock()
	defer r.mu.Unlock()
	v := c.viewer
	set := r.byToken[v.TokenID]
	if _, ok := set[c]; !ok {
		return
	}
	remove(r.byToken, v.TokenID, c)
	if v.Role == tenantd.RoleTenant {
		remove(r.byTenant, v.TenantID, c)
	}
	r.addSubsLocked(v.TokenID, -held)
	r.open--
	if r.open == 0 && r.stop != nil {
		r.stop()
		r.stop = nil
	}
	r.notifyLocked()
}

// closed is the transport's CloseFunc.
func (r *wsRegistry) closed(ctx context.Context, _ int) {
	if c := connFrom(ctx); c != nil {
		r.unregister(c)
	}
}

// reserveLocked takes one subscription of the credential's cap. The
// caller holds the connection's lock (lock order: connection, registry).
func (r *wsRegistry) reserveLocked(token uuid.UUID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.subs[token] >= r.perToken {
		return &tenantd.Error{Code: tenantd.EINVALID, Message: tooManyPerToken(r.perToken),
			Extra: map[string]any{"limit": r.perToken, "variable": "TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN"}}
	}
	r.addSubsLocked(token, 1)
	r.notifyLocked()
	return nil
}

// giveBack returns one subscription of the credential's cap.
func (r *wsRegistry) giveBack(token uuid.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addSubsLocked(token, -1)
	r.notifyLocked()
}

func (r *wsRegistry) addSubsLocked(token uuid.UUID, n int) {
	if n == 0 {
		return
	}
	if r.subs[token] += n; r.subs[token] <= 0 {
		delete(r.subs, token)
	}
}

// closeToken closes every socket authenticated by the credential with the
// given id and returns how many it closed.
func (r *wsRegistry) closeToken(id uuid.UUID, code int, reason string, subErr *tenantd.Error) int {
	return r.closeAll(r.snapshot(r.byToken, id), code, reason, subErr)
}

// closeTenant closes every socket authenticated by an API key of the
// tenant and returns how many it closed.
func (r *wsRegistry) closeTenant(id uuid.UUID, code int, reason string, subErr *tenantd.Error) int {
	return r.closeAll(r.snapshot(r.byTenant, id), code, reason, subErr)
}

func (r *wsRegistry) snapshot(m map[uuid.UUID]map[*wsConn]struct{}, id uuid.UUID) []*wsConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*wsConn, 0, len(m[id]))
	for c := range m[id] {
		out = append(out, c)
	}
	return out
}

func (r *wsRegistry) closeAll(cs []*wsConn, code int, reason string, subErr *tenantd.Error) int {
	for _, c := range cs {
		c.closeWith(code, reason, subErr)
	}
	return len(cs)
}

// shutdown closes every socket with 1001 (going away), refuses new ones and
// waits for the watcher to stop, so that nothing queries a closed database.
func (r *wsRegistry) shutdown() {
	r.mu.Lock()
	r.shutDown = true
	var all []*wsConn
	for _, set := range r.byToken {
		for c := range set {
			all = append(all, c)
		}
	}
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
	r.notifyLocked()
	r.mu.Unlock()
	r.closeAll(all, closeGoingAway, "the server is shutting down", nil)
	r.watchers.Wait()
}

// watch closes the sockets of revoked credentials while any socket is open:
// on a revocation notice at once, and by the backstop once a second.
func (r *wsRegistry) watch(ctx context.Context, sub *events.Subscription) {
	defer r.watchers.Done()
	defer sub.Close()
	t := time.NewTicker(r.interval)
	defer t.Stop()
	defer func() {
		r.mu.Lock()
		r.running--
		r.notifyLocked()
		r.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C():
			if ev.Kind == events.KindResync {
				r.sweep(ctx) // notices may have been lost
				continue
			}
			r.closeToken(ev.KeyID, closeForbidden, reasonRevoked, auth.ErrRevoked)
		case <-t.C:
			r.sweep(ctx)
		}
	}
}

// sweep is the backstop: it closes the sockets whose credential no longer
// authenticates.
func (r *wsRegistry) sweep(ctx context.Context) {
	var admins, keys []uuid.UUID
	r.mu.Lock()
	for id, set := range r.byToken {
		for c := range set {
			if c.viewer.Role == tenantd.RoleTenant {
				keys = append(keys, id)
			} else {
				admins = append(admins, id)
			}
			break
		}
	}
	r.mu.Unlock()
	if len(admins)+len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	revoked, err := r.auth.Revoked(ctx, admins, keys)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("could not check the credentials of open WebSockets", "err", err)
		}
		return
	}
	for _, id := range revoked {
		if n := r.closeToken(id, closeForbidden, reasonRevoked, auth.ErrRevoked); n > 0 {
			r.log.Info("closed the WebSockets of a revoked credential", "token", id, "sockets", n)
		}
	}
}

// notifyLocked wakes the waiters of wait.
func (r *wsRegistry) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// wait blocks until cond, evaluated under the registry's lock, holds.
func (r *wsRegistry) wait(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ok, ch := cond(), r.changed
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func add(m map[uuid.UUID]map[*wsConn]struct{}, id uuid.UUID, c *wsConn) {
	set := m[id]
	if set == nil {
		set = map[*wsConn]struct{}{}
		m[id] = set
	}
	set[c] = struct{}{}
}

func remove(m map[uuid.UUID]map[*wsConn]struct{}, id uuid.UUID, c *wsConn) {
	delete(m[id], c)
	if len(m[id]) == 0 {
		delete(m, id)
	}
}

// CloseTenantWebSockets closes every WebSocket of this process opened with
// an API key of the tenant — its running subscriptions end with
// UNAUTHENTICATED and the reason, the socket closes with 4403 — and returns
// how many it closed. A tenant's deletion calls it on every replica.
func (s *Server) CloseTenantWebSockets(tenantID uuid.UUID, reason string) int {
	return s.sockets.closeTenant(tenantID, closeForbidden, "Forbidden: "+reason,
		tenantd.Errorf(tenantd.EUNAUTHENTICATED, "%s", reason))
}
