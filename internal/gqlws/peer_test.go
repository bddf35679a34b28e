package gqlws_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// peer is an in-test implementation of the server half of
// graphql-transport-ws, written with gorilla/websocket's server side. It
// stands in for tenantd's real subscription server, which is being built
// separately and is covered by its own tests; this peer exists only to
// exercise the client.
//
// It does not parse GraphQL: the "query" of a subscribe message names a
// scripted operation (see peerConn.run).
type peer struct {
	srv *httptest.Server

	// configuration, set before the first connection
	token         string // when set, connection_init must carry "Bearer <token>"
	noAck         bool   // never send connection_ack
	noSubprotocol bool   // do not negotiate graphql-transport-ws
	pingsAfterAck []json.RawMessage

	pongs       chan json.RawMessage // payloads of pongs received from clients
	completes   chan string          // ids of client-sent complete messages
	clientPings atomic.Int64         // pings received from clients
	origin      atomic.Value         // string: Origin header of the last handshake
}

func newPeer(t *testing.T, configure func(*peer)) *peer {
	t.Helper()
	p := &peer{
		pongs:     make(chan json.RawMessage, 100),
		completes: make(chan string, 10000),
	}
	if configure != nil {
		configure(p)
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serveHTTP))
	t.Cleanup(p.srv.Close)
	return p
}

// url returns the peer's http:// URL (the client must turn it into ws://).
func (p *peer) url() string { return p.srv.URL + "/graphql" }

func (p *peer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/forbidden" {
		http.Error(w, "no websockets for you", http.StatusForbidden)
		return
	}
	p.origin.Store(r.Header.Get("Origin"))
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	if !p.noSubprotocol {
		up.Subprotocols = []string{"graphql-transport-ws"}
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	pc := &peerConn{p: p, conn: conn, ops: map[string]context.CancelFunc{}}
	pc.run()
}

type peerMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

type peerConn struct {
	p    *peer
	conn *websocket.Conn
	wmu  sync.Mutex

	mu  sync.Mutex
	ops map[string]context.CancelFunc
	wg  sync.WaitGroup
}

func (pc *peerConn) write(m peerMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return pc.writeRaw(b)
}

func (pc *peerConn) writeRaw(b []byte) error {
	pc.wmu.Lock()
	defer pc.wmu.Unlock()
	_ = pc.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return pc.conn.WriteMessage(websocket.TextMessage, b)
}

// closeWith sends a close frame and waits (briefly) for the client's answer
// before dropping the TCP connection, so the frame is not lost to a reset.
func (pc *peerConn) closeWith(code int, reason string) {
	_ = pc.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = pc.conn.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := pc.conn.ReadMessage(); err != nil {
			break
		}
	}
	_ = pc.conn.Close()
}

func (pc *peerConn) run() {
	defer func() {
		pc.mu.Lock()
		for _, cancel := range pc.ops {
			cancel()
		}
		pc.mu.Unlock()
		pc.wg.Wait()
		_ = pc.conn.Close()
	}()

	// connection_init must come first.
	var init peerMsg
	if err := pc.conn.ReadJSON(&init); err != nil {
		return
	}
	if init.Type != "connection_init" {
		pc.closeWith(4400, "expected connection_init")
		return
	}
	if pc.p.token != "" {
		var payload struct {
			Authorization string `json:"Authorization"`
		}
		if len(init.Payload) > 0 {
			_ = json.Unmarshal(init.Payload, &payload)
		}
		switch payload.Authorization {
		case "":
			pc.closeWith(4401, "Unauthorized")
			return
		case "Bearer " + pc.p.token:
		default:
			pc.closeWith(4403, "Forbidden")
			return
		}
	}
	if !pc.p.noAck {
		if pc.write(peerMsg{Type: "connection_ack"}) != nil {
			return
		}
		for _, payload := range pc.p.pingsAfterAck {
			if pc.write(peerMsg{Type: "ping", Payload: payload}) != nil {
				return
			}
		}
	}

	for {
		var m peerMsg
		if err := pc.conn.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case "ping":
			pc.p.clientPings.Add(1)
			if pc.write(peerMsg{Type: "pong", Payload: m.Payload}) != nil {
				return
			}
		case "pong":
			pc.p.pongs <- m.Payload
		case "subscribe":
			var req struct {
				Query     string         `json:"query"`
				Variables map[string]any `json:"variables"`
			}
			if err := json.Unmarshal(m.Payload, &req); err != nil {
				pc.closeWith(4400, "bad subscribe payload")
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			pc.mu.Lock()
			if _, dup := pc.ops[m.ID]; dup {
				pc.mu.Unlock()
				cancel()
				pc.closeWith(4409, "Subscriber for "+m.ID+" already exists")
				return
			}
			pc.ops[m.ID] = cancel
			pc.mu.Unlock()
			pc.wg.Add(1)
			go pc.operation(ctx, m.ID, req.Query, req.Variables)
		case "complete":
			pc.p.completes <- m.ID
			pc.mu.Lock()
			if cancel, ok := pc.ops[m.ID]; ok {
				cancel()
				delete(pc.ops, m.ID)
			}
			pc.mu.Unlock()
		default:
			pc.closeWith(4400, "unexpected message "+m.Type)
			return
		}
	}
}

func (pc *peerConn) finish(id string) {
	pc.mu.Lock()
	delete(pc.ops, id)
	pc.mu.Unlock()
}

func (pc *peerConn) next(id string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return pc.write(peerMsg{ID: id, Type: "next", Payload: b})
}

// operation plays the scripted operation named by query:
//
//	count      next {"count": i} for i in [0, variables.n), then complete
//	fail       one error message with code BOOM
//	partial    next with data and errors (code PARTIAL), then complete
//	ticker     next {"tick": i} every 5ms until the client completes it
//	hold       nothing until the client completes it
//	malformed  a message that is not JSON (client must end the connection)
//	badtype    a message with an unknown type
//	baderror   an error message whose payload is not a list
//	close4500  close the connection with code 4500
//	drop       variables.n next messages, then drop TCP without a close frame
func (pc *peerConn) operation(ctx context.Context, id, query string, vars map[string]any) {
	defer pc.wg.Done()
	n := 0
	if f, ok := vars["n"].(float64); ok {
		n = int(f)
	}
	switch query {
	case "count":
		defer pc.finish(id)
		for i := 0; i < n; i++ {
			if ctx.Err() != nil {
				return
			}
			if pc.next(id, map[string]any{"data": map[string]any{"count": i}}) != nil {
				return
			}
		}
		_ = pc.write(peerMsg{ID: id, Type: "complete"})
	case "fail":
		defer pc.finish(id)
		_ = pc.write(peerMsg{ID: id, Type: "error", Payload: json.RawMessage(
			`[{"message":"boom","path":["x",0],"extensions":{"code":"BOOM"}},{"message":"second"}]`)})
	case "partial":
		defer pc.finish(id)
		if pc.next(id, map[string]any{
			"data":   map[string]any{"x": nil},
			"errors": []any{map[string]any{"message": "partial failure", "path": []any{"x"}, "extensions": map[string]any{"code": "PARTIAL"}}},
		}) != nil {
			return
		}
		_ = pc.write(peerMsg{ID: id, Type: "complete"})
	case "ticker":
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if pc.next(id, map[string]any{"data": map[string]any{"tick": i}}) != nil {
					return
				}
			}
		}
	case "hold":
		<-ctx.Done()
	case "malformed":
		_ = pc.writeRaw([]byte("this is not json"))
	case "badtype":
		_ = pc.write(peerMsg{ID: id, Type: "bogus"})
	case "baderror":
		_ = pc.write(peerMsg{ID: id, Type: "error", Payload: json.RawMessage(`{"message":"not a list"}`)})
	case "close4500":
		pc.wmu.Lock()
		_ = pc.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4500, "internal boom"), time.Now().Add(time.Second))
		pc.wmu.Unlock()
	case "drop":
		for i := 0; i < n; i++ {
			if pc.next(id, map[string]any{"data": map[string]any{"count": i}}) != nil {
				return
			}
		}
		pc.wmu.Lock()
		_ = pc.conn.NetConn().Close()
		pc.wmu.Unlock()
	default:
		defer pc.finish(id)
		_ = pc.write(peerMsg{ID: id, Type: "error", Payload: json.RawMessage(`[{"message":"unknown operation"}]`)})
	}
}
