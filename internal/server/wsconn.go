package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/auth"
)

// Bounds of the WebSocket path.
const (
	// maxWebSocketMessage bounds one message from a client. A subscribe
	// carries a subscription document and its variables; gqlgen's default
	// of 1 MB is far more than that needs, and the connection_init payload
	// is kept for the connection's life.
	maxWebSocketMessage = 64 << 10
	// maxSubscriptionID bounds the id of a subscribe message (graphql-ws
	// sends UUIDs).
	maxSubscriptionID = 128
	// reuseWait bounds how long a subscribe that reuses the id of a
	// subscription the client just completed waits for that one to wind
	// down.
	reuseWait = 5 * time.Second
	// maxCloseReason is the longest close reason a close frame carries.
	maxCloseReason = 123
)

// The WebSocket subprotocols gqlgen speaks.
const (
	protoTransportWS = "graphql-transport-ws"
	protoLegacyWS    = "graphql-ws"
)

// webSocketTransport is gqlgen's WebSocket transport, chosen only for a GET
// that asks to upgrade to a WebSocket (gqlgen takes any request with an
// Upgrade header, a POST included, and answers it 400).
type webSocketTransport struct{ transport.Websocket }

// Supports implements graphql.Transport.
func (webSocketTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// wsAcceptor wraps the accepted socket of a request that carries a
// *wsConn (see withWSConn) in that wsConn.
type wsAcceptor struct {
	inner transport.WebsocketImplementation
}

// Accept implements transport.WebsocketImplementation.
func (a wsAcceptor) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	ws, err := a.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	c := connFrom(r.Context())
	if c == nil {
		return ws, nil
	}
	c.ws, c.proto = ws, ws.Subprotocol()
	return c, nil
}

type wsConnKey struct{}

// withWSConn returns ctx carrying c: the request context of an upgrade
// becomes the context of gqlgen's connection and of every operation on it.
func withWSConn(ctx context.Context, c *wsConn) context.Context {
	return context.WithValue(ctx, wsConnKey{}, c)
}

// connFrom returns the WebSocket connection of ctx, or nil over HTTP.
func connFrom(ctx context.Context) *wsConn {
	c, _ := ctx.Value(wsConnKey{}).(*wsConn)
	return c
}

// wsClose says why the server closes a connection.
type wsClose struct {
	code   int
	reason string
	// subErr, if set, ends the subscriptions running when the close was
	// decided (ended) with an error message before the close frame.
	subErr *tenantd.Error
	ended  []string
	// reasonCtx answers gqlgen's close-reason lookup (see wsConnContext).
	reasonCtx context.Context
}

// wsConn is one WebSocket connection. It sits between gqlgen's transport
// and the socket: it reads every client message first, refusing with the
// graphql-transport-ws close codes what gqlgen would mishandle (4400 for an
// invalid message, 4401 for a subscribe before connection_init, 4409 for an
// id in use, 4429 for a second connection_init), maps gqlgen's close codes
// to the protocol's (4408 for the initialisation timeout), and keeps the
// connection's subscriptions for the caps and for closing.
type wsConn struct {
	reg   *wsRegistry
	ws    transport.WebsocketConn // set by Accept
	proto string

	// Set once connection_init authenticated, before register; never again.
	viewer tenantd.Viewer
	cancel context.CancelCauseFunc // cancels gqlgen's connection context

	closing atomic.Pointer[wsClose] // the first reason to close wins

	mu         sync.Mutex
	initSeen   bool // connection_init arrived
	wroteClose bool
	gone       bool   // unregistered: its subscriptions no longer count
	current    string // id of the subscribe being admitted
	live       map[string]*wsSub
	pending    map[*graphql.OperationContext]*wsSub // admitted, not yet started
	held       int                                  // subscriptions counted against the caps
	closeNext  *wsClose                             // close before the next read (after a refusal's answer)
}

// wsSub is a subscription of a connection, from its admission until gqlgen
// is done with it.
type wsSub struct {
	id              string
	done            chan struct{}
	clientCompleted bool
	counted         bool
}

func (r *wsRegistry) newConn() *wsConn {
	return &wsConn{reg: r, live: map[string]*wsSub{}, pending: map[*graphql.OperationContext]*wsSub{}}
}

// NextReader implements transport.WebsocketConn: it inspects each client
// message before gqlgen reads it.
func (c *wsConn) NextReader() (int, io.Reader, error) {
	for {
		c.mu.Lock()
		next := c.closeNext
		c.closeNext = nil
		c.mu.Unlock()
		if next != nil {
			c.closeWith(next.code, next.reason, next.subErr)
			return 0, nil, transport.ErrWebsocketClosed
		}
		typ, r, err := c.ws.NextReader()
		if err != nil || r == nil {
			return typ, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return typ, nil, err
		}
		skip, err := c.inspect(data)
		if err != nil {
			return typ, nil, err
		}
		if !skip {
			return typ, bytes.NewReader(data), nil
		}
	}
}

// clientMessage is the envelope of a client message.
type clientMessage struct {
	Type    *string         `json:"type"`
	ID      *string         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// inspect checks one client message. skip means it was answered here.
func (c *wsConn) inspect(data []byte) (skip bool, err error) {
	var m clientMessage
	decodeErr := json.Unmarshal(data, &m)
	c.mu.Lock()
	initSeen := c.initSeen
	c.mu.Unlock()
	var id string
	if m.ID != nil {
		id = *m.ID
	}
	if c.proto != protoTransportWS {
		return false, c.inspectLegacy(m, decodeErr, id)
	}
	if decodeErr != nil || m.Type == nil {
		return false, c.refuse(closeBadRequest, "Invalid message: want a JSON object with a type")
	}
	switch t := *m.Type; t {
	case "connection_init":
		if initSeen {
			return false, c.refuse(closeTooManyInitRequests, "Too many initialisation requests")
		}
		if !objectOrAbsent(m.Payload) {
			return false, c.refuse(closeBadRequest, "Invalid message: the connection_init payload must be an object")
		}
		c.mu.Lock()
		c.initSeen = true
		c.mu.Unlock()
	case "ping", "pong":
		if !initSeen {
			// Allowed at any time; gqlgen would close the socket for it
			// before connection_init.
			if t == "ping" {
				_ = c.ws.WriteJSON(map[string]string{"type": "pong"})
			}
			return true, nil
		}
	case "subscribe":
		if !initSeen {
			return false, c.refuse(closeUnauthorized, "Unauthorized")
		}
		if id == "" || len(id) > maxSubscriptionID {
			return false, c.refuse(closeBadRequest, fmt.Sprintf("Invalid message: a subscribe needs an id of 1 to %d bytes", maxSubscriptionID))
		}
		if !isObject(m.Payload) {
			return false, c.refuse(closeBadRequest, "Invalid message: a subscribe needs a payload object")
		}
		return false, c.claim(id)
	case "complete":
		if !initSeen {
			return false, c.refuse(closeUnauthorized, "Unauthorized")
		}
		if id == "" {
			return false, c.refuse(closeBadRequest, "Invalid message: a complete needs an id")
		}
		c.clientComplete(id)
	default:
		if len(t) > 32 {
			t = t[:32] + "…"
		}
		return false, c.refuse(closeBadRequest, fmt.Sprintf("Invalid message type %q", t))
	}
	return false, nil
}

// inspectLegacy follows the subscriptions of the legacy graphql-ws
// protocol; its clients keep gqlgen's close codes.
func (c *wsConn) inspectLegacy(m clientMessage, decodeErr error, id string) error {
	if decodeErr != nil || m.Type == nil {
		return nil
	}
	switch *m.Type {
	case "connection_init":
		if !objectOrAbsent(m.Payload) {
			// gqlgen would leave the socket open without reading it.
			return c.refuse(closeProtocolError, "the connection_init payload must be an object")
		}
		c.mu.Lock()
		c.initSeen = true
		c.mu.Unlock()
	case "start":
		c.mu.Lock()
		c.current = id
		c.mu.Unlock()
	case "stop":
		c.clientComplete(id)
	}
	return nil
}

// claim makes id the id of the subscribe being admitted. An id in use
// closes the connection with 4409; the id of a subscription the client
// completed waits until gqlgen is done with it, because gqlgen keeps one
// entry per id and a new subscription under it would be lost.
func (c *wsConn) claim(id string) error {
	c.mu.Lock()
	s := c.live[id]
	completed := s != nil && s.clientCompleted
	c.mu.Unlock()
	if s != nil && !completed {
		return c.refuse(closeSubscriberExists, "Subscriber for "+id+" already exists")
	}
	if s != nil {
		t := time.NewTimer(reuseWait)
		defer t.Stop()
		select {
		case <-s.done:
		case <-t.C:
			return c.refuse(closeSubscriberExists, "Subscriber for "+id+" already exists")
		}
	}
	c.mu.Lock()
	c.current = id
	c.mu.Unlock()
	return nil
}

// refuse closes the connection for a client's protocol error.
func (c *wsConn) refuse(code int, reason string) error {
	c.closeWith(code, reason, nil)
	return transport.ErrWebsocketClosed
}

// closeWith closes the connection with code and reason; subErr, if set,
// first ends every running subscription with it. Once gqlgen runs the
// connection, canceling its context makes gqlgen close (sending legacy
// clients a connection_error with the reason) and WriteClose sets the code.
func (c *wsConn) closeWith(code int, reason string, subErr *tenantd.Error) {
	reason = trimReason(reason)
	cl := &wsClose{code: code, reason: reason, subErr: subErr, reasonCtx: transport.AppendCloseReason(context.Background(), reason)}
	c.mu.Lock()
	if subErr != nil {
		// Now: canceling the connection ends them before gqlgen closes.
		for id, s := range c.live {
			if !s.clientCompleted {
				cl.ended = append(cl.ended, id)
			}
		}
	}
	cancel := c.cancel
	c.mu.Unlock()
	c.closing.CompareAndSwap(nil, cl)
	if cancel != nil {
		cancel(errors.New(reason))
		return
	}
	_ = c.WriteClose(code, reason)
}

// WriteClose implements transport.WebsocketConn. For graphql-transport-ws
// it sends the protocol's code instead of gqlgen's: the reason the server
// chose (closeWith), 4408 for a connection that sent no connection_init
// before the initialisation timeout, 4400 for another protocol error.
func (c *wsConn) WriteClose(code int, reason string) error {
	c.mu.Lock()
	if c.wroteClose {
		c.mu.Unlock()
		return nil
	}
	c.wroteClose = true
	cl := c.closing.Load()
	var ended []string
	if c.proto == protoTransportWS {
		switch {
		case cl != nil:
			code, reason, ended = cl.code, cl.reason, cl.ended
		case code == closeProtocolError && !c.initSeen:
			// Before connection_init gqlgen closes for the timeout; the
			// other protocol errors were closed here first.
			code, reason = closeInitTimeout, "Connection initialisation timeout"
		case code == closeProtocolError:
			code = closeBadRequest
		}
	}
	c.mu.Unlock()
	if len(ended) > 0 {
		payload, _ := json.Marshal([]*gqlerror.Error{wsError(cl.subErr)})
		for _, id := range ended {
			_ = c.ws.WriteJSON(struct {
				ID      string          `json:"id"`
				Type    string          `json:"type"`
				Payload json.RawMessage `json:"payload"`
			}{id, "error", payload})
		}
	}
	return c.ws.WriteClose(code, trimReason(reason))
}

// WriteJSON implements transport.WebsocketConn.
func (c *wsConn) WriteJSON(v any) error { return c.ws.WriteJSON(v) }

// Close implements transport.WebsocketConn.
func (c *wsConn) Close() error { return c.ws.Close() }

// Subprotocol implements transport.WebsocketConn.
func (c *wsConn) Subprotocol() string { return c.proto }

// SetReadLimit implements transport.WebsocketReadLimiter.
func (c *wsConn) SetReadLimit(n int64) {
	if l, ok := c.ws.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(n)
	}
}

// SetReadDeadline implements transport.WebsocketReadDeadliner.
func (c *wsConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.ws.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// finish runs when gqlgen is done with the request. gqlgen returns without
// closing the socket in one case (a connection_init payload it cannot
// decode); close it rather than leave it open.
func (c *wsConn) finish() {
	c.mu.Lock()
	ws, running, wrote := c.ws, c.cancel != nil, c.wroteClose
	c.mu.Unlock()
	if ws == nil || running || wrote {
		return
	}
	code := closeBadRequest
	if c.proto != protoTransportWS {
		code = closeProtocolError
	}
	_ = c.WriteClose(code, "Invalid message: the connection_init payload must be an object")
	_ = ws.Close()
}

// opened makes the connection context of a socket whose connection_init
// authenticated v, and registers the socket.
func (r *wsRegistry) opened(ctx context.Context, v tenantd.Viewer) (context.Context, *transport.InitPayload, error) {
	ctx = tenantd.NewContext(ctx, v)
	c := connFrom(ctx)
	if c == nil {
		return ctx, nil, nil
	}
	cctx, cancel := context.WithCancelCause(ctx)
	c.mu.Lock()
	c.viewer, c.cancel = v, cancel
	c.mu.Unlock()
	if err := r.register(c); err != nil {
		c.mu.Lock()
		c.cancel = nil
		c.mu.Unlock()
		cancel(err)
		return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, err.Error()), closeGoingAway), nil, err
	}
	return wsConnContext{Context: cctx, c: c}, nil, nil
}

// wsConnContext is gqlgen's connection context. Once the server decides to
// close the connection, it answers gqlgen's close-reason lookup with the
// reason, which gqlgen sends legacy clients as a connection_error.
type wsConnContext struct {
	context.Context
	c *wsConn
}

// Value implements context.Context.
func (x wsConnContext) Value(key any) any {
	if cl := x.c.closing.Load(); cl != nil {
		if v := cl.reasonCtx.Value(key); v != nil {
			return v
		}
	}
	return x.Context.Value(key)
}

// admit decides on a subscribe (any operation over the socket) after gqlgen
// has parsed and validated it: mutations go over POST; the credential must
// still authenticate (a revoked one is refused and the socket closed with
// 4403 right after the answer); the subscription must fit the connection's
// and the credential's caps. Refusals are errors of that subscribe only.
func (c *wsConn) admit(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	c.mu.Lock()
	id := c.current
	c.current = ""
	running := c.cancel != nil
	dup := c.live[id] != nil && !c.live[id].clientCompleted
	c.mu.Unlock()
	if !running {
		return nil
	}
	if cl := c.closing.Load(); cl != nil {
		if cl.subErr != nil {
			return wsError(cl.subErr)
		}
		return wsError(tenantd.Errorf(tenantd.EINTERNAL, "internal error")) // the close frame says why
	}
	if oc.Operation.Operation == ast.Mutation {
		return wsError(tenantd.Invalid("query", "send mutations as POST /graphql with a JSON body; a WebSocket carries subscriptions and queries"))
	}
	if dup { // legacy graphql-ws: graphql-transport-ws closed with 4409 already
		return wsError(tenantd.Invalid("id", "a subscription with id %q is already running on this connection", id))
	}
	if err := c.reserve(id, oc); err != nil {
		return wsError(err)
	}
	if err := c.reg.auth.Check(ctx, c.viewer); err != nil {
		c.unreserve(oc)
		if tenantd.ErrorCode(err) == tenantd.EUNAUTHENTICATED {
			c.mu.Lock()
			c.closeNext = &wsClose{code: closeForbidden, reason: reasonRevoked, subErr: auth.ErrRevoked}
			c.mu.Unlock()
			return wsError(err)
		}
		c.reg.log.Error("could not check the credential of a WebSocket", "err", err)
		return wsError(err)
	}
	return nil
}

// reserve counts a subscription against the connection's and the
// credential's caps.
//
// Returns INVALID_INPUT over a cap.
func (c *wsConn) reserve(id string, oc *graphql.OperationContext) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return tenantd.Errorf(tenantd.EUNAUTHENTICATED, "the connection is closing")
	}
	if c.held >= c.reg.perConn {
		return &tenantd.Error{Code: tenantd.EINVALID, Message: tooManyPerConnection(c.reg.perConn),
			Extra: map[string]any{"limit": c.reg.perConn, "variable": "TENANTD_MAX_SUBSCRIPTIONS_PER_CONNECTION"}}
	}
	if err := c.reg.reserveLocked(c.viewer.TokenID); err != nil {
		return err
	}
	c.held++
	s := &wsSub{id: id, done: make(chan struct{}), counted: true}
	c.live[id] = s
	c.pending[oc] = s
	return nil
}

// unreserve takes back a reservation whose operation will not start.
func (c *wsConn) unreserve(oc *graphql.OperationContext) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.pending[oc]; s != nil {
		delete(c.pending, oc)
		c.endLocked(s)
	}
}

// started ties an admitted subscription to the context gqlgen runs it in:
// when that context ends, gqlgen is done with it.
func (c *wsConn) started(ctx context.Context, oc *graphql.OperationContext) {
	c.mu.Lock()
	s := c.pending[oc]
	delete(c.pending, oc)
	c.mu.Unlock()
	if s != nil {
		context.AfterFunc(ctx, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.endLocked(s)
		})
	}
}

func (c *wsConn) endLocked(s *wsSub) {
	c.uncountLocked(s)
	if c.live[s.id] == s {
		delete(c.live, s.id)
	}
	close(s.done)
}

// clientComplete notes that the client completed a subscription: it no
// longer counts against the caps, though gqlgen may still wind it down.
func (c *wsConn) clientComplete(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.live[id]; s != nil {
		s.clientCompleted = true
		c.uncountLocked(s)
	}
}

func (c *wsConn) uncountLocked(s *wsSub) {
	if !s.counted {
		return
	}
	s.counted = false
	c.held--
	c.reg.giveBack(c.viewer.TokenID)
}

// leave marks the connection unregistered and returns how many
// subscriptions it still counted.
func (c *wsConn) leave() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return 0
	}
	c.gone = true
	for _, s := range c.live {
		s.counted = false
	}
	n := c.held
	c.held = 0
	return n
}

// wsError is err as the answer to one subscribe.
func wsError(err error) *gqlerror.Error {
	te := tenantd.AsError(err)
	if te == nil {
		te = tenantd.Errorf(tenantd.EINTERNAL, "internal error")
	}
	ext := map[string]any{"code": te.Code}
	if te.Field != "" {
		ext["field"] = te.Field
	}
	for k, v := range te.Extra {
		ext[k] = v
	}
	return &gqlerror.Error{Err: te, Message: te.Message, Extensions: ext}
}

func tooManyPerConnection(n int) string {
	return fmt.Sprintf("this WebSocket already holds %d subscriptions, the most one connection may hold: "+
		"complete one first, open another connection, or raise TENANTD_MAX_SUBSCRIPTIONS_PER_CONNECTION", n)
}

func tooManyPerToken(n int) string {
	return fmt.Sprintf("this credential already holds %d subscriptions on this server, the most one token or API key may hold: "+
		"complete some first, or raise TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN", n)
}

// trimReason cuts a close reason to what a close frame carries, on a
// character boundary.
func trimReason(s string) string {
	if len(s) <= maxCloseReason {
		return s
	}
	s = s[:maxCloseReason]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// objectOrAbsent reports whether a (valid JSON) payload is absent, null or
// an object.
func objectOrAbsent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null" || raw[0] == '{'
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}
