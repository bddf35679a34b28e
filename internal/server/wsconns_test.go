package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/admintoken"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/config"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/gqlws"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// keyFixture is an ACTIVE tenant with a second API key.
type keyFixture struct {
	tenant uuid.UUID
	owner  string // the signup's key
	key    string
	keyID  uuid.UUID
	srv    *servertest.Server
}

func newKeyFixture(t *testing.T, srv *servertest.Server, slug string) keyFixture {
	t.Helper()
	var a signUpAnswer
	srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput(slug, "free")}, &a)
	waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
	var ck struct {
		CreateAPIKey struct {
			APIKey string
			Key    struct{ ID uuid.UUID }
		}
	}
	srv.MustDo(t, a.SignUp.APIKey, `mutation($id: ID!) { createApiKey(input: {tenantId: $id, name: "ws"}) { apiKey key { id } } }`,
		map[string]any{"id": a.SignUp.Tenant.ID}, &ck)
	return keyFixture{tenant: a.SignUp.Tenant.ID, owner: a.SignUp.APIKey, key: ck.CreateAPIKey.APIKey, keyID: ck.CreateAPIKey.Key.ID, srv: srv}
}

// revoke revokes the fixture's second key through the API.
func (f keyFixture) revoke(t *testing.T) {
	t.Helper()
	f.srv.MustDo(t, f.owner, `mutation($id: ID!) { revokeApiKey(input: {id: $id}) { key { revokedAt } } }`,
		map[string]any{"id": f.keyID}, nil)
}

// snapshot subscribes to the tenant's events and waits for the SNAPSHOT.
func snapshot(t *testing.T, c *gqlws.Client, tenant uuid.UUID) *gqlws.Subscription {
	t.Helper()
	sub, err := c.Subscribe(context.Background(), tenantEventsSub, map[string]any{"id": tenant})
	require.NoError(t, err)
	require.Equal(t, "SNAPSHOT", next(t, sub).TenantEvents.Kind)
	return sub
}

// refused subscribes and returns the error that answers the subscribe.
func refused(t *testing.T, c *gqlws.Client, query string, vars map[string]any) gqlws.GraphQLErrors {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, query, vars)
	require.NoError(t, err)
	_, err = sub.Next(ctx)
	var ge *gqlws.GraphQLErrors
	require.ErrorAs(t, err, &ge, "the subscribe is refused, got %v", err)
	return *ge
}

// closedWithin waits until the server closes c and returns its close error.
func closedWithin(t *testing.T, c *gqlws.Client, d time.Duration) *gqlws.CloseError {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(d):
		require.FailNow(t, "the server did not close the WebSocket in time", "waited %v", d)
	}
	var ce *gqlws.CloseError
	require.ErrorAs(t, c.Err(), &ce)
	return ce
}

// adminTokens creates an admin and a partner token the way `tenantd token
// create` does.
func adminTokens(t *testing.T, svc *auth.Service) (adminTok, partnerTok string, adminID, partnerID uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	adminTok, a, err := svc.CreateAdminToken(ctx, admintoken.RoleADMIN, "ws admin")
	require.NoError(t, err)
	partnerTok, p, err := svc.CreateAdminToken(ctx, admintoken.RolePARTNER, "ws partner")
	require.NoError(t, err)
	return adminTok, partnerTok, a.ID, p.ID
}

// cliAuth is the token service of another process on the server's database,
// as `tenantd token revoke` builds it: its own, empty event hub.
func cliAuth(t *testing.T, srv *servertest.Server, databaseURL string) *auth.Service {
	t.Helper()
	opts := store.Options{DataDir: srv.DataDir(), DatabaseURL: databaseURL, Logger: servertest.Logger()}
	db, err := store.Open(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return auth.New(db, events.NewPublisher(events.NewHub()))
}

// TestRevokedKeyClosesItsWebSockets: revokeApiKey closes every socket of
// the key with 4403 within a second (its running subscriptions end with
// UNAUTHENTICATED first); nothing can be subscribed on them again; the
// tenant's other key keeps its socket.
func TestRevokedKeyClosesItsWebSockets(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			f := newKeyFixture(t, srv, "ws-revoke")
			c1 := dial(t, srv, gqlws.Options{Token: f.key})
			c2 := dial(t, srv, gqlws.Options{Token: f.key})
			other := dial(t, srv, gqlws.Options{Token: f.owner})
			sub := snapshot(t, c1, f.tenant)
			snapshot(t, c2, f.tenant)
			snapshot(t, other, f.tenant)

			f.revoke(t)
			start := time.Now()
			for _, c := range []*gqlws.Client{c1, c2} {
				ce := closedWithin(t, c, time.Second)
				require.Equal(t, 4403, ce.Code)
				require.Contains(t, ce.Reason, "revoked")
			}
			t.Logf("both sockets closed %v after the revocation", time.Since(start))
			_, err := sub.Next(context.Background())
			var ge *gqlws.GraphQLErrors
			require.ErrorAs(t, err, &ge, "the running subscription ends with an error before the close")
			require.Equal(t, "UNAUTHENTICATED", ge.Code())
			_, err = c1.Subscribe(context.Background(), tenantEventsSub, map[string]any{"id": f.tenant})
			require.Error(t, err, "nothing can be subscribed on a closed socket")

			require.NoError(t, other.Err(), "the other key's socket stays")
			snapshot(t, other, f.tenant)
		})
	}
}

// TestRevokedAdminTokenClosesWebSockets revokes an admin and a partner
// token from another process on the SQLite file, as `tenantd token revoke`
// does: its notice never reaches the server, whose once-a-second check
// closes the sockets.
func TestRevokedAdminTokenClosesWebSockets(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	cli := cliAuth(t, srv, "")
	adminTok, partnerTok, adminID, partnerID := adminTokens(t, cli)
	ca := dial(t, srv, gqlws.Options{Token: adminTok})
	cp := dial(t, srv, gqlws.Options{Token: partnerTok})
	bootstrap := dial(t, srv, gqlws.Options{Token: admin})
	for _, c := range []*gqlws.Client{ca, cp, bootstrap} {
		_, err := c.Subscribe(context.Background(), tenantEventsSub, nil)
		require.NoError(t, err)
	}
	require.NoError(t, srv.WaitSubscriptions(ctxTimeout(t, 5*time.Second), partnerID, 1))

	ctx := context.Background()
	_, err := cli.RevokeAdminToken(ctx, adminID.String())
	require.NoError(t, err)
	_, err = cli.RevokeAdminToken(ctx, partnerID.String())
	require.NoError(t, err)
	start := time.Now()
	for _, c := range []*gqlws.Client{ca, cp} {
		ce := closedWithin(t, c, 2500*time.Millisecond)
		require.Equal(t, 4403, ce.Code)
	}
	t.Logf("closed %v after the revocations", time.Since(start))
	require.NoError(t, bootstrap.Err(), "other tokens keep their sockets")

	_, err = gqlws.Dial(ctx, srv.URL+"/graphql", gqlws.Options{Token: partnerTok})
	var ce *gqlws.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 4403, ce.Code, "a revoked token cannot open a new socket")
}

// TestRevocationReachesEveryReplica: two replicas on one PostgreSQL, whose
// periodic check is too slow to matter; a revocation made through one
// replica (an API key) or by another process (a partner token) closes the
// sockets on the other through NOTIFY.
func TestRevocationReachesEveryReplica(t *testing.T) {
	t.Parallel()
	url := storetest.NewPostgresDatabase(t)
	slow := server.WithRevocationCheckInterval(time.Hour)
	a := servertest.StartWith(t, storetest.Postgres, []string{"DATABASE_URL=" + url}, []server.Option{slow})
	b := servertest.StartWith(t, storetest.Postgres, []string{"DATABASE_URL=" + url}, []server.Option{slow, server.WithoutWorkers()})
	f := newKeyFixture(t, a, "ws-replicas")
	cli := cliAuth(t, a, url)
	_, partnerTok, _, partnerID := adminTokens(t, cli)

	ck := dial(t, b, gqlws.Options{Token: f.key})
	cp := dial(t, b, gqlws.Options{Token: partnerTok})
	snapshot(t, ck, f.tenant)
	snapshot(t, cp, f.tenant)

	f.revoke(t) // through replica a
	ce := closedWithin(t, ck, time.Second)
	require.Equal(t, 4403, ce.Code)

	_, err := cli.RevokeAdminToken(context.Background(), partnerID.String())
	require.NoError(t, err)
	ce = closedWithin(t, cp, time.Second)
	require.Equal(t, 4403, ce.Code)
}

// TestSubscribeRechecksTheCredential: with the registry's closing switched
// off, a revoked credential's socket stays open — and its next subscribe
// is refused with UNAUTHENTICATED and closes it with 4403.
func TestSubscribeRechecksTheCredential(t *testing.T) {
	t.Parallel()
	srv := servertest.StartWith(t, storetest.SQLite, nil, []server.Option{server.WithoutRevocationClose()})
	f := newKeyFixture(t, srv, "ws-recheck")
	cli := cliAuth(t, srv, "")
	_, partnerTok, _, partnerID := adminTokens(t, cli)
	ck := dial(t, srv, gqlws.Options{Token: f.key})
	cp := dial(t, srv, gqlws.Options{Token: partnerTok})
	first := snapshot(t, ck, f.tenant)
	snapshot(t, cp, f.tenant)

	f.revoke(t)
	_, err := cli.RevokeAdminToken(context.Background(), partnerID.String())
	require.NoError(t, err)

	for _, c := range []*gqlws.Client{ck, cp} {
		require.NoError(t, c.Err(), "nothing closed the socket")
		errs := refused(t, c, tenantEventsSub, map[string]any{"id": f.tenant})
		require.Equal(t, "UNAUTHENTICATED", errs.Code())
		require.Contains(t, errs[0].Message, "revoked")
		ce := closedWithin(t, c, time.Second)
		require.Equal(t, 4403, ce.Code)
	}
	_, err = first.Next(context.Background())
	var ge *gqlws.GraphQLErrors
	require.ErrorAs(t, err, &ge, "the subscription that was running ends with an error before the close")
	require.Equal(t, "UNAUTHENTICATED", ge.Code())
}

// TestSubscriptionCaps: a connection holds at most
// TENANTD_MAX_SUBSCRIPTIONS_PER_CONNECTION subscriptions and a credential
// at most TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN over all its connections;
// one over is refused with INVALID_INPUT naming the limit and the
// connection stays usable.
func TestSubscriptionCaps(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite,
		"TENANTD_MAX_SUBSCRIPTIONS_PER_CONNECTION=3", "TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN=5")
	f := newKeyFixture(t, srv, "ws-caps")

	c1 := dial(t, srv, gqlws.Options{Token: f.key})
	var subs []*gqlws.Subscription
	for range 3 {
		subs = append(subs, snapshot(t, c1, f.tenant))
	}
	errs := refused(t, c1, tenantEventsSub, map[string]any{"id": f.tenant})
	require.Equal(t, "INVALID_INPUT", errs.Code())
	require.Contains(t, errs[0].Message, "3 subscriptions")
	require.Contains(t, errs[0].Message, "TENANTD_MAX_SUBSCRIPTIONS_PER_CONNECTION")
	require.EqualValues(t, 3, errs[0].Extensions["limit"])
	require.NoError(t, c1.Err(), "the connection stays")
	require.NoError(t, subs[0].Stop())
	subs[0] = snapshot(t, c1, f.tenant) // a completed one makes room

	c2 := dial(t, srv, gqlws.Options{Token: f.key})
	snapshot(t, c2, f.tenant)
	snapshot(t, c2, f.tenant)
	errs = refused(t, c2, tenantEventsSub, map[string]any{"id": f.tenant})
	require.Equal(t, "INVALID_INPUT", errs.Code())
	require.Contains(t, errs[0].Message, "5 subscriptions")
	require.Contains(t, errs[0].Message, "TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN")

	other := dial(t, srv, gqlws.Options{Token: f.owner})
	snapshot(t, other, f.tenant) // another credential has its own count

	require.NoError(t, c1.Close())
	require.NoError(t, srv.WaitSubscriptions(ctxTimeout(t, 5*time.Second), f.keyID, 2))
	snapshot(t, c2, f.tenant)
}

// rawConn is a WebSocket speaking the given subprotocol by hand.
func rawConn(t *testing.T, srv *servertest.Server, proto string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{proto}}
	conn, _, err := d.Dial("ws"+srv.URL[len("http"):]+"/graphql", nil)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	return conn
}

type wireMsg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// closeCode reads until the server closes conn and returns the close code.
func closeCode(t *testing.T, conn *websocket.Conn) (int, string) {
	t.Helper()
	for {
		var m wireMsg
		err := conn.ReadJSON(&m)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, "the server closes the socket with a close frame")
		return ce.Code, ce.Text
	}
}

func initAcked(t *testing.T, conn *websocket.Conn, token string) {
	t.Helper()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}))
	var m wireMsg
	require.NoError(t, conn.ReadJSON(&m))
	require.Equal(t, "connection_ack", m.Type)
}

// TestWebSocketCloseCodes: protocol errors close a graphql-transport-ws
// socket with the protocol's codes.
func TestWebSocketCloseCodes(t *testing.T) {
	t.Parallel()
	srv := servertest.StartWith(t, storetest.SQLite, nil, []server.Option{server.WithWebSocketInitTimeout(300 * time.Millisecond)})
	const tws = "graphql-transport-ws"
	sub := func(id, query string) map[string]any {
		return map[string]any{"type": "subscribe", "id": id, "payload": map[string]any{"query": query}}
	}
	const allEvents = `subscription { tenantEvents { kind } }`

	t.Run("no connection_init: 4408", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		code, _ := closeCode(t, rawConn(t, srv, tws))
		require.Equal(t, 4408, code)
		require.Less(t, time.Since(start), 5*time.Second)

		pinging := rawConn(t, srv, tws) // pings do not count as connection_init
		require.NoError(t, pinging.WriteJSON(map[string]any{"type": "ping"}))
		code, _ = closeCode(t, pinging)
		require.Equal(t, 4408, code)
	})
	t.Run("invalid message: 4400", func(t *testing.T) {
		t.Parallel()
		for _, msg := range []string{`{"type":"bogus"}`, `not json`, `{"id":"1"}`, `{"type":"next","id":"1","payload":{}}`,
			`{"type":"subscribe","payload":{"query":"{ plans { key } }"}}`, `{"type":"subscribe","id":"1"}`} {
			conn := rawConn(t, srv, tws)
			initAcked(t, conn, admin)
			require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(msg)))
			code, _ := closeCode(t, conn)
			require.Equal(t, 4400, code, msg)
		}
	})
	t.Run("subscribe before connection_init: 4401", func(t *testing.T) {
		t.Parallel()
		conn := rawConn(t, srv, tws)
		require.NoError(t, conn.WriteJSON(sub("1", allEvents)))
		code, _ := closeCode(t, conn)
		require.Equal(t, 4401, code)
	})
	t.Run("second connection_init: 4429", func(t *testing.T) {
		t.Parallel()
		conn := rawConn(t, srv, tws)
		initAcked(t, conn, admin)
		require.NoError(t, conn.WriteJSON(map[string]any{"type": "connection_init"}))
		code, _ := closeCode(t, conn)
		require.Equal(t, 4429, code)
	})
	t.Run("id in use: 4409", func(t *testing.T) {
		t.Parallel()
		conn := rawConn(t, srv, tws)
		initAcked(t, conn, admin)
		require.NoError(t, conn.WriteJSON(sub("a", allEvents)))
		require.NoError(t, conn.WriteJSON(sub("a", allEvents)))
		code, reason := closeCode(t, conn)
		require.Equal(t, 4409, code)
		require.Equal(t, "Subscriber for a already exists", reason)
	})
	t.Run("id of a completed subscription can be reused", func(t *testing.T) {
		t.Parallel()
		conn := rawConn(t, srv, tws)
		initAcked(t, conn, admin)
		require.NoError(t, conn.WriteJSON(sub("a", allEvents)))
		require.NoError(t, conn.WriteJSON(map[string]any{"type": "complete", "id": "a"}))
		require.NoError(t, conn.WriteJSON(sub("a", `{ plans { key } }`)))
		for {
			var m wireMsg
			require.NoError(t, conn.ReadJSON(&m))
			if m.Type == "next" {
				require.Equal(t, "a", m.ID)
				require.Contains(t, string(m.Payload), "enterprise")
				break
			}
			require.Contains(t, []string{"complete", "ping"}, m.Type, "%s", m.Payload)
		}
	})
	t.Run("connection_init payload that is not an object: 4400", func(t *testing.T) {
		t.Parallel()
		conn := rawConn(t, srv, tws)
		require.NoError(t, conn.WriteJSON(map[string]any{"type": "connection_init", "payload": "Bearer " + admin}))
		code, _ := closeCode(t, conn)
		require.Equal(t, 4400, code)

		legacy := rawConn(t, srv, "graphql-ws") // gqlgen used to leave this socket open, unread
		require.NoError(t, legacy.WriteJSON(map[string]any{"type": "connection_init", "payload": []int{1}}))
		code, _ = closeCode(t, legacy)
		require.Equal(t, 1002, code)
	})
	t.Run("ping before connection_init is answered", func(t *testing.T) {
		t.Parallel()
		conn := rawConn(t, srv, tws)
		require.NoError(t, conn.WriteJSON(map[string]any{"type": "ping"}))
		var m wireMsg
		require.NoError(t, conn.ReadJSON(&m))
		require.Equal(t, "pong", m.Type)
		initAcked(t, conn, admin)
	})
	t.Run("message over 64 KiB: 1009", func(t *testing.T) {
		t.Parallel()
		conn := rawConn(t, srv, tws)
		initAcked(t, conn, admin)
		big := `{ plans { key } }` + strings.Repeat(" ", 64<<10)
		require.NoError(t, conn.WriteJSON(sub("1", big)))
		code, _ := closeCode(t, conn)
		require.Equal(t, websocket.CloseMessageTooBig, code)
	})
	t.Run("a mutation is refused, the socket stays", func(t *testing.T) {
		t.Parallel()
		c := dial(t, srv, gqlws.Options{Token: admin})
		errs := refused(t, c, `mutation { runReadinessChecks { status } }`, nil)
		require.Equal(t, "INVALID_INPUT", errs.Code())
		require.Contains(t, errs[0].Message, "POST")
		require.NoError(t, c.Err())
	})
}

// TestRevocationWatcherRunsOnlyWithOpenSockets: with no socket open no
// revocation watcher (timer, query) runs.
func TestRevocationWatcherRunsOnlyWithOpenSockets(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	ctx := ctxTimeout(t, 10*time.Second)
	require.NoError(t, srv.WaitRevocationWatcher(ctx, false))
	c1 := dial(t, srv, gqlws.Options{Token: admin})
	c2 := dial(t, srv, gqlws.Options{Token: admin})
	require.NoError(t, srv.WaitRevocationWatcher(ctx, true))
	require.NoError(t, c1.Close())
	require.NoError(t, srv.WaitWebSockets(ctx, 1))
	require.NoError(t, srv.WaitRevocationWatcher(ctx, true))
	require.NoError(t, c2.Close())
	require.NoError(t, srv.WaitWebSockets(ctx, 0))
	require.NoError(t, srv.WaitRevocationWatcher(ctx, false))
}

// TestCloseTenantWebSockets closes the sockets of one tenant's keys only.
func TestCloseTenantWebSockets(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	f := newKeyFixture(t, srv, "ws-tenant-close")
	c1 := dial(t, srv, gqlws.Options{Token: f.key})
	c2 := dial(t, srv, gqlws.Options{Token: f.owner})
	ca := dial(t, srv, gqlws.Options{Token: admin})
	sub := snapshot(t, c1, f.tenant)
	snapshot(t, c2, f.tenant)
	snapshot(t, ca, f.tenant)

	require.Equal(t, 2, srv.CloseTenantWebSockets(f.tenant, "the tenant was deleted"))
	for _, c := range []*gqlws.Client{c1, c2} {
		ce := closedWithin(t, c, time.Second)
		require.Equal(t, 4403, ce.Code)
		require.Contains(t, ce.Reason, "deleted")
	}
	_, err := sub.Next(context.Background())
	var ge *gqlws.GraphQLErrors
	require.ErrorAs(t, err, &ge)
	require.Contains(t, ge.Error(), "the tenant was deleted")
	require.NoError(t, ca.Err(), "an admin's socket stays")
}

// TestShutdownClosesWebSockets: the HTTP server does not drain hijacked
// connections; Shutdown closes them with 1001 (going away).
func TestShutdownClosesWebSockets(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load([]string{"TENANTD_ADDR=127.0.0.1:0", "TENANTD_DATA_DIR=" + t.TempDir(),
		"TENANTD_ADMIN_TOKEN=" + admin}, nil)
	require.NoError(t, err)
	ctx := context.Background()
	srv, err := server.Open(ctx, cfg, servertest.Logger())
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	c, err := gqlws.Dial(ctx, srv.URL()+"/graphql", gqlws.Options{Token: admin})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Subscribe(ctx, `subscription { tenantEvents { kind } }`, nil)
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(sctx))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the socket is still open after Shutdown")
	}
	var ce *gqlws.CloseError
	require.True(t, errors.As(c.Err(), &ce), "got %v", c.Err())
	require.Equal(t, 1001, ce.Code)
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestFailedStartServesNothing: a Start that fails (here its context is
// canceled before it resumes a crashed process's jobs) leaves nothing
// listening once Shutdown ran — neither the API's socket nor the metrics
// server's.
func TestFailedStartServesNothing(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load([]string{"TENANTD_ADDR=127.0.0.1:0", "TENANTD_METRICS_ADDR=127.0.0.1:0",
		"TENANTD_DATA_DIR=" + t.TempDir(), "TENANTD_ADMIN_TOKEN=" + admin}, nil)
	require.NoError(t, err)
	lns, err := server.Listen(cfg)
	require.NoError(t, err)
	srv, err := server.Open(context.Background(), cfg, servertest.Logger(), server.WithListeners(lns))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, srv.Start(ctx))
	_ = srv.Shutdown(context.Background())
	// A closed listener refuses a deadline (dialing its port instead could
	// reach another test's listener that was given the port since).
	for name, ln := range map[string]net.Listener{"API": lns.API, "metrics": lns.Metrics} {
		err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(time.Second))
		require.ErrorIs(t, err, net.ErrClosed, "the %s listener is closed after a failed start", name)
	}
}
