package gqlws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Subprotocol is the WebSocket subprotocol negotiated by [Dial].
const Subprotocol = "graphql-transport-ws"

// Message types of the graphql-transport-ws protocol.
const (
	MsgConnectionInit = "connection_init"
	MsgConnectionAck  = "connection_ack"
	MsgPing           = "ping"
	MsgPong           = "pong"
	MsgSubscribe      = "subscribe"
	MsgNext           = "next"
	MsgError          = "error"
	MsgComplete       = "complete"
)

const (
	defaultAckTimeout   = 10 * time.Second
	defaultWriteTimeout = 10 * time.Second
	// closeGrace is how long Close waits for the server to answer the
	// client's close frame before dropping the TCP connection.
	closeGrace = time.Second
	// maxPendingPongs bounds the pongs queued while a write is stuck; pings
	// arriving beyond it are not answered individually (the queued pongs
	// already prove liveness).
	maxPendingPongs = 16
)

// Options for Dial.
type Options struct {
	// Token is sent in the connection_init payload as
	// {"Authorization": "Bearer <token>"}; the payload is omitted when Token
	// and InitPayload are both empty.
	Token string
	// InitPayload holds extra connection_init payload fields, optional.
	// An "Authorization" key here is overridden by Token when Token is set.
	InitPayload map[string]any
	// Origin is sent as the Origin handshake header, optional.
	Origin string
	// Header holds extra handshake headers, optional. It must not set
	// Sec-WebSocket-Protocol.
	Header http.Header
	// AckTimeout bounds the wait for connection_ack; default 10s. The Dial
	// context bounds it too.
	AckTimeout time.Duration
	// WriteTimeout bounds every frame write; default 10s. A write that
	// fails or times out ends the connection.
	WriteTimeout time.Duration
	// PingInterval, when positive, makes the client send a protocol "ping"
	// every interval after the ack. The default 0 sends none. Missing pongs
	// are not treated as an error.
	PingInterval time.Duration
	// Dialer is the WebSocket dialer, optional (default: a copy of
	// websocket.DefaultDialer). It is copied; its Subprotocols are replaced
	// by graphql-transport-ws. Load tools holding many connections may want
	// to set smaller buffers or a WriteBufferPool here.
	Dialer *websocket.Dialer
}

// Client is one graphql-transport-ws connection. All methods are safe for
// concurrent use.
type Client struct {
	conn         *websocket.Conn
	writeTimeout time.Duration

	// wlock serializes writes; it is a one-slot semaphore so that callers
	// can give up waiting when their context ends.
	wlock chan struct{}

	acked chan struct{} // closed by the reader on the first connection_ack
	done  chan struct{} // closed by the reader when the connection has ended
	wg    sync.WaitGroup

	nextID uint64 // guarded by mu

	mu      sync.Mutex
	err     error                    // why the connection ended (or is ending)
	subs    map[string]*Subscription // nil once the connection has ended
	pongs   []json.RawMessage        // pong payloads waiting to be written
	ponging bool                     // a pong-writer goroutine is running
}

// message is the wire format of every graphql-transport-ws message.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Request is the payload of a subscribe message.
type Request struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName,omitempty"`
	Variables     map[string]any `json:"variables,omitempty"`
	Extensions    map[string]any `json:"extensions,omitempty"`
}

// Dial connects to a graphql-transport-ws server.
//
// rawURL may use http, https, ws or wss; http(s) is turned into ws(s). Dial
// performs the WebSocket handshake with subprotocol graphql-transport-ws,
// sends connection_init and waits for connection_ack. ctx bounds the
// handshake and the ack wait (as does Options.AckTimeout); it has no effect
// on the connection once Dial has returned.
//
// Errors: a non-101 handshake response gives a *HandshakeError (its message
// includes the HTTP status); a server that closes the socket instead of
// acknowledging (e.g. with 4401 or 4403) gives a *CloseError; a missing ack
// gives ErrAckTimeout, or ctx's error if ctx ended first.
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	u, err := websocketURL(rawURL)
	if err != nil {
		return nil, err
	}

	var d websocket.Dialer
	if opts.Dialer != nil {
		d = *opts.Dialer
	} else {
		d = *websocket.DefaultDialer
	}
	d.Subprotocols = []string{Subprotocol}

	header := opts.Header.Clone()
	if opts.Origin != "" {
		if header == nil {
			header = http.Header{}
		}
		header.Set("Origin", opts.Origin)
	}

	init, err := initMessage(opts)
	if err != nil {
		return nil, err
	}

	conn, resp, err := d.DialContext(ctx, u, header)
	if err != nil {
		if resp != nil {
			he := &HandshakeError{StatusCode: resp.StatusCode, Status: resp.Status, Err: err}
			if resp.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
				_ = resp.Body.Close()
				he.Body = string(b)
			}
			return nil, he
		}
		return nil, fmt.Errorf("gqlws: dial %s: %w", u, err)
	}
	if p := conn.Subprotocol(); p != Subprotocol {
		_ = conn.Close()
		return nil, fmt.Errorf("gqlws: server did not accept subprotocol %q (selected %q)", Subprotocol, p)
	}

	c := &Client{
		conn:         conn,
		writeTimeout: opts.WriteTimeout,
		wlock:        make(chan struct{}, 1),
		acked:        make(chan struct{}),
		done:         make(chan struct{}),
		subs:         make(map[string]*Subscription),
	}
	if c.writeTimeout <= 0 {
		c.writeTimeout = defaultWriteTimeout
	}
	c.wg.Add(1)
	go c.readLoop()

	if err := c.send(ctx, init); err != nil {
		return nil, c.abort(err, websocket.CloseNormalClosure, "")
	}

	ackTimeout := opts.AckTimeout
	if ackTimeout <= 0 {
		ackTimeout = defaultAckTimeout
	}
	timer := time.NewTimer(ackTimeout)
	defer timer.Stop()
	select {
	case <-c.acked:
	case <-c.done:
		c.wait()
		return nil, c.Err()
	case <-timer.C:
		return nil, c.abort(ErrAckTimeout, CloseConnectionAcknowledgementTimeout, "Connection acknowledgement timeout")
	case <-ctx.Done():
		return nil, c.abort(fmt.Errorf("gqlws: waiting for connection_ack: %w", ctx.Err()), websocket.CloseNormalClosure, "")
	}

	if opts.PingInterval > 0 {
		c.wg.Add(1)
		go c.pingLoop(opts.PingInterval)
	}
	return c, nil
}

func websocketURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("gqlws: bad url: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("gqlws: bad url %q: scheme must be http, https, ws or wss", raw)
	}
	return u.String(), nil
}

func initMessage(opts Options) (message, error) {
	m := message{Type: MsgConnectionInit}
	if opts.Token == "" && len(opts.InitPayload) == 0 {
		return m, nil
	}
	payload := make(map[string]any, len(opts.InitPayload)+1)
	for k, v := range opts.InitPayload {
		payload[k] = v
	}
	if opts.Token != "" {
		payload["Authorization"] = "Bearer " + opts.Token
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return m, fmt.Errorf("gqlws: encode connection_init payload: %w", err)
	}
	m.Payload = b
	return m, nil
}

// Subscribe starts a subscription (or any operation) on the shared
// connection with a fresh id. variables may be nil.
//
// ctx bounds only the sending of the subscribe message (waiting for other
// writers); the subscription lives until the server completes it, Stop is
// called, or the connection ends. Use Next's context to bound waiting for
// data.
func (c *Client) Subscribe(ctx context.Context, query string, variables map[string]any) (*Subscription, error) {
	return c.SubscribeRequest(ctx, Request{Query: query, Variables: variables})
}

// SubscribeRequest is Subscribe with full control over the subscribe
// payload (operation name, extensions).
func (c *Client) SubscribeRequest(ctx context.Context, req Request) (*Subscription, error) {
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("gqlws: encode subscribe payload: %w", err)
	}

	c.mu.Lock()
	if c.err != nil || c.subs == nil {
		err := c.errLocked()
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	s := newSubscription(c, strconv.FormatUint(c.nextID, 10))
	// Register before sending so that no reply can arrive for an unknown id.
	c.subs[s.id] = s
	c.mu.Unlock()

	if err := c.send(ctx, message{ID: s.id, Type: MsgSubscribe, Payload: payload}); err != nil {
		c.removeSub(s.id)
		s.end(err, true)
		return nil, err
	}
	return s, nil
}

// Close sends a normal close frame, waits briefly for the server to answer
// it, closes the connection and waits for the connection's goroutines to
// exit. Every subscription ends: Next returns ErrClosed (messages still
// queued are discarded). Close is idempotent; if the connection had already
// ended, Close just waits for cleanup. It always returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		c.wait()
		return nil
	}
	c.err = ErrClosed
	c.mu.Unlock()

	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.writeTimeout)) == nil {
		t := time.NewTimer(closeGrace)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.conn.Close()
	c.wait()
	return nil
}

// Done returns a channel that is closed when the connection has ended (all
// subscriptions have been ended by then).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err reports why the connection ended: nil while it is open, ErrClosed
// after Close, a *CloseError when the server closed with a close frame, an
// error wrapping ErrProtocol after a protocol violation, or the read/write
// error that broke the connection.
func (c *Client) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errLocked()
}

func (c *Client) errLocked() error {
	if c.err == nil {
		return ErrClosed
	}
	return c.err
}

// wait blocks until the reader and all helper goroutines have exited.
func (c *Client) wait() {
	<-c.done
	c.wg.Wait()
}

// setErr records why the connection ends, unless a reason is already known.
func (c *Client) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// abort ends a connection during Dial: it sends a close frame with the given
// code (best effort), drops the connection and waits for cleanup. It returns
// the connection's error, which is err unless the connection had already
// ended for another reason (e.g. the server's close frame).
func (c *Client) abort(err error, code int, reason string) error {
	c.setErr(err)
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = c.conn.Close()
	c.wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errLocked()
}

// send writes one message. It waits for the write slot until ctx or the
// connection ends; the write itself is bounded by the write timeout. A
// failed write ends the connection.
func (c *Client) send(ctx context.Context, m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("gqlws: encode %s: %w", m.Type, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case c.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.Err()
	}
	defer func() { <-c.wlock }()

	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()

	_ = c.conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.setErr(fmt.Errorf("gqlws: write %s: %w", m.Type, err))
		_ = c.conn.Close() // wakes the reader, which ends the connection
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.errLocked()
	}
	return nil
}

// removeSub unregisters id and returns its subscription, or nil if it was
// not registered (already completed, stopped, or the connection ended).
// Whoever removes a subscription is the one who ends it.
func (c *Client) removeSub(id string) *Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.subs[id]
	if s != nil {
		delete(c.subs, id)
	}
	return s
}

func (c *Client) lookupSub(id string) *Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[id]
}

// readLoop is the connection's single reader. When reading stops it records
// the reason, drops the connection, ends every subscription and closes done.
func (c *Client) readLoop() {
	defer c.wg.Done()
	err := c.readMessages()

	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	final := c.err
	subs := c.subs
	c.subs = nil
	c.mu.Unlock()
	_ = c.conn.Close()

	// Queued messages stay readable when the server or the network ended
	// the connection; a client Close discards them.
	discard := final == ErrClosed
	for _, s := range subs {
		s.end(final, discard)
	}
	close(c.done)
}

func (c *Client) readMessages() error {
	acked := false
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			// gorilla reports an unexpected EOF as close code 1006; that
			// code never travels on the wire, so it is not a server close.
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
				return &CloseError{Code: ce.Code, Reason: ce.Text}
			}
			return fmt.Errorf("gqlws: connection lost: %w", err)
		}
		if err := c.dispatch(data, &acked); err != nil {
			reason := err.Error()
			if len(reason) > 120 { // close frame payloads are limited to 125 bytes
				reason = reason[:120]
			}
			_ = c.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(CloseBadResponse, reason), time.Now().Add(time.Second))
			return err
		}
	}
}

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// nextPayload is the payload of a "next" message (a GraphQL execution result).
type nextPayload struct {
	Data   json.RawMessage `json:"data"`
	Errors GraphQLErrors   `json:"errors"`
}

// dispatch handles one server message; an error ends the connection.
func (c *Client) dispatch(data []byte, acked *bool) error {
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		return protocolErr("invalid message: %v", err)
	}
	switch m.Type {
	case MsgConnectionAck:
		if !*acked {
			*acked = true
			close(c.acked)
		}
		return nil
	case MsgPing:
		c.queuePong(m.Payload)
		return nil
	case MsgPong:
		return nil
	case MsgNext, MsgError, MsgComplete:
	case "":
		return protocolErr("message without type")
	default:
		return protocolErr("unexpected message type %q", m.Type)
	}

	if !*acked {
		return protocolErr("%q message before connection_ack", m.Type)
	}
	if m.ID == "" {
		return protocolErr("%q message without id", m.Type)
	}

	switch m.Type {
	case MsgNext:
		if len(m.Payload) == 0 {
			return protocolErr("next message without payload (id %s)", m.ID)
		}
		var p nextPayload
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			return protocolErr("bad next payload (id %s): %v", m.ID, err)
		}
		s := c.lookupSub(m.ID)
		if s == nil {
			return nil // e.g. stopped by the client; the server has not seen complete yet
		}
		ev := event{data: p.Data}
		if len(p.Errors) > 0 {
			errs := p.Errors
			ev.err = &errs
		}
		s.push(ev)
	case MsgError:
		var errs GraphQLErrors
		if err := json.Unmarshal(m.Payload, &errs); err != nil || errs == nil {
			return protocolErr("bad error payload (id %s): want a list of GraphQL errors", m.ID)
		}
		// A nil result means a racing Stop already ended it.
		if s := c.removeSub(m.ID); s != nil {
			s.end(&errs, false)
		}
	case MsgComplete:
		if s := c.removeSub(m.ID); s != nil {
			s.end(io.EOF, false)
		}
	}
	return nil
}

// queuePong schedules a pong echoing payload. Pongs are written by a
// short-lived goroutine so that the reader never waits for the write slot:
// a reader blocked on a write can deadlock with a server whose own reader is
// blocked writing to us.
func (c *Client) queuePong(payload json.RawMessage) {
	c.mu.Lock()
	if c.err != nil || len(c.pongs) >= maxPendingPongs {
		c.mu.Unlock()
		return
	}
	c.pongs = append(c.pongs, payload)
	start := !c.ponging
	c.ponging = true
	c.mu.Unlock()
	if start {
		c.wg.Add(1) // the reader is counted in wg, so the counter is not zero here
		go c.pongLoop()
	}
}

func (c *Client) pongLoop() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		if len(c.pongs) == 0 || c.err != nil {
			c.pongs = nil
			c.ponging = false
			c.mu.Unlock()
			return
		}
		p := c.pongs[0]
		c.pongs = c.pongs[1:]
		c.mu.Unlock()
		if c.send(context.Background(), message{Type: MsgPong, Payload: p}) != nil {
			continue // the connection is ending; the next iteration exits
		}
	}
}

func (c *Client) pingLoop(interval time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if c.send(context.Background(), message{Type: MsgPing}) != nil {
				return
			}
		}
	}
}
