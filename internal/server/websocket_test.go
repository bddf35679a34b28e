package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/gqlws"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

func dial(t *testing.T, srv *servertest.Server, opts gqlws.Options) *gqlws.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gqlws.Dial(ctx, srv.URL+"/graphql", opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestWebSocketAuthentication(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	ctx := context.Background()
	_, err := gqlws.Dial(ctx, srv.URL+"/graphql", gqlws.Options{})
	var ce *gqlws.CloseError
	require.ErrorAs(t, err, &ce, "no token")
	require.Equal(t, 4401, ce.Code)
	_, err = gqlws.Dial(ctx, srv.URL+"/graphql", gqlws.Options{Token: "tdk_not_a_key_00000000000000000000"})
	require.ErrorAs(t, err, &ce, "bad token")
	require.Equal(t, 4403, ce.Code)

	c := dial(t, srv, gqlws.Options{Token: admin})
	sub, err := c.Subscribe(ctx, `subscription { tenantEvents { kind } }`, nil)
	require.NoError(t, err)
	require.NoError(t, sub.Stop())
}

func TestWebSocketOriginAllowlist(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite, "TENANTD_ALLOWED_ORIGINS=https://app.example.com")
	ctx := context.Background()
	_, err := gqlws.Dial(ctx, srv.URL+"/graphql", gqlws.Options{Token: admin, Origin: "https://evil.example.com"})
	var he *gqlws.HandshakeError
	require.ErrorAs(t, err, &he)
	require.Equal(t, 403, he.StatusCode)
	c := dial(t, srv, gqlws.Options{Token: admin, Origin: "https://app.example.com"})
	require.NoError(t, c.Err())
}

type tenantEventMsg struct {
	TenantEvents struct {
		Kind   string
		Tenant struct {
			ID    uuid.UUID
			State string
		}
		Transition *struct {
			Seq   int
			Event string
		}
		Operation *struct{ Status string }
	}
}

const tenantEventsSub = `subscription($id: ID) { tenantEvents(tenantId: $id) {
  kind tenant { id state } transition { seq event } operation { status } } }`

func next(t *testing.T, sub *gqlws.Subscription) tenantEventMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data, err := sub.Next(ctx)
	require.NoError(t, err)
	var m tenantEventMsg
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

// TestTenantEvents follows one tenant: a SNAPSHOT first, then every
// transition in seq order; another tenant's id is NOT_FOUND.
func TestTenantEvents(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			var a, b signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("events-a", "free")}, &a)
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("events-b", "free")}, &b)
			id := a.SignUp.Tenant.ID
			waitState(t, srv, id, tenantd.StateActive)

			c := dial(t, srv, gqlws.Options{Token: a.SignUp.APIKey})
			ctx := context.Background()
			sub, err := c.Subscribe(ctx, tenantEventsSub, map[string]any{"id": id})
			require.NoError(t, err)
			first := next(t, sub)
			require.Equal(t, "SNAPSHOT", first.TenantEvents.Kind)
			require.Equal(t, "ACTIVE", first.TenantEvents.Tenant.State)
			require.Equal(t, 3, first.TenantEvents.Transition.Seq)

			for _, m := range []string{"suspendTenant", "resumeTenant", "cancelSubscription"} {
				srv.MustDo(t, admin, fmt.Sprintf(transitionMutation, m), map[string]any{"id": id}, nil)
			}
			// A reactivation's transition comes from its operation, once
			// billing is back.
			srv.MustDo(t, admin, reactivateMutation, map[string]any{"id": id}, nil)
			var seqs []int
			var events []string
			for len(seqs) < 4 {
				m := next(t, sub)
				if m.TenantEvents.Kind == "TRANSITION" {
					seqs = append(seqs, m.TenantEvents.Transition.Seq)
					events = append(events, m.TenantEvents.Transition.Event)
				}
			}
			require.Equal(t, []int{4, 5, 6, 7}, seqs, "every transition, in order, none missed")
			require.Equal(t, []string{"suspend", "resume", "cancel", "reactivate"}, events)

			// Another tenant's id.
			other, err := c.Subscribe(ctx, tenantEventsSub, map[string]any{"id": b.SignUp.Tenant.ID})
			require.NoError(t, err)
			_, err = other.Next(ctx)
			var ge *gqlws.GraphQLErrors
			require.ErrorAs(t, err, &ge)
			require.Equal(t, "NOT_FOUND", ge.Code())

			// An admin follows every tenant: a new signup's transitions arrive.
			ac := dial(t, srv, gqlws.Options{Token: admin})
			held := srv.Subscribers()
			all, err := ac.Subscribe(ctx, tenantEventsSub, nil)
			require.NoError(t, err)
			srv.WaitSubscribers(t, held+1) // the subscription is in place
			var c2 signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("events-c", "pro")}, &c2)
			got := map[string]bool{}
			for !got["activate"] {
				m := next(t, all)
				if m.TenantEvents.Tenant.ID == c2.SignUp.Tenant.ID && m.TenantEvents.Transition != nil && m.TenantEvents.Kind == "TRANSITION" {
					got[m.TenantEvents.Transition.Event] = true
				}
			}
			require.True(t, got["signup"] && got["provision"], "a new tenant's first rows are not skipped: %v", got)
		})
	}
}

// TestRevokedKeyEndsSubscriptions revokes the key of an open subscription:
// the subscription ends with UNAUTHENTICATED within 5 seconds.
func TestRevokedKeyEndsSubscriptions(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("revoked", "free")}, &a)
			waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)

			var ck struct {
				CreateAPIKey struct {
					APIKey string
					Key    struct{ ID uuid.UUID }
				}
			}
			srv.MustDo(t, a.SignUp.APIKey, `mutation($id: ID!) { createApiKey(input: {tenantId: $id, name: "ci"}) { apiKey key { id } } }`,
				map[string]any{"id": a.SignUp.Tenant.ID}, &ck)
			c := dial(t, srv, gqlws.Options{Token: ck.CreateAPIKey.APIKey})
			ctx := context.Background()
			sub, err := c.Subscribe(ctx, tenantEventsSub, map[string]any{"id": a.SignUp.Tenant.ID})
			require.NoError(t, err)
			require.Equal(t, "SNAPSHOT", next(t, sub).TenantEvents.Kind)

			start := time.Now()
			srv.MustDo(t, a.SignUp.APIKey, `mutation($id: ID!) { revokeApiKey(input: {id: $id}) { key { revokedAt } } }`,
				map[string]any{"id": ck.CreateAPIKey.Key.ID}, nil)
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err = sub.Next(wctx)
			var ge *gqlws.GraphQLErrors
			require.ErrorAs(t, err, &ge, "the subscription ends with an error, got %v", err)
			require.Equal(t, "UNAUTHENTICATED", ge.Code())
			require.Less(t, time.Since(start), 5*time.Second)
			t.Logf("subscription ended %v after the revocation", time.Since(start))

			r := srv.Do(t, ck.CreateAPIKey.APIKey, `{ viewer { role } }`, nil)
			require.Equal(t, "UNAUTHENTICATED", r.Code(), "a revoked key is refused")
			r = srv.Do(t, a.SignUp.APIKey, `{ viewer { role } }`, nil)
			require.Empty(t, r.Errors, "the other key still works")
		})
	}
}

// TestLegacyGraphQLWSProtocol subscribes with the legacy graphql-ws
// subprotocol (subscriptions-transport-ws).
func TestLegacyGraphQLWSProtocol(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	var a signUpAnswer
	srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("legacy", "free")}, &a)
	d := websocket.Dialer{Subprotocols: []string{"graphql-ws"}}
	conn, _, err := d.Dial("ws"+srv.URL[len("http"):]+"/graphql", nil)
	require.NoError(t, err)
	defer conn.Close()
	require.Equal(t, "graphql-ws", conn.Subprotocol())
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + a.SignUp.APIKey}}))
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "start", "id": "1", "payload": map[string]any{
		"query": progressSubscription, "variables": map[string]any{"id": a.SignUp.Operation.ID}}}))
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	var statuses []string
	for {
		var msg struct {
			Type    string
			ID      string
			Payload json.RawMessage
		}
		require.NoError(t, conn.ReadJSON(&msg))
		switch msg.Type {
		case "connection_ack", "ka":
			continue
		case "data":
			var p struct{ Data progressMsg }
			require.NoError(t, json.Unmarshal(msg.Payload, &p))
			statuses = append(statuses, p.Data.OperationProgress.Status)
			continue
		case "complete":
		default:
			t.Fatalf("unexpected message %s: %s", msg.Type, msg.Payload)
		}
		break
	}
	require.NotEmpty(t, statuses)
	require.Equal(t, "SUCCEEDED", statuses[len(statuses)-1])
}

// TestTwoReplicas runs two tenantd processes on one PostgreSQL: one serves
// the API and runs no workers, the other works the jobs. A subscriber on
// the first sees every step done by the second.
func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	url := storetest.NewPostgresDatabase(t)
	api := servertest.StartWith(t, storetest.Postgres, []string{"DATABASE_URL=" + url}, []server.Option{server.WithoutWorkers()})
	servertest.Start(t, storetest.Postgres, "DATABASE_URL="+url) // the worker replica

	ctx := context.Background()
	ac := dial(t, api, gqlws.Options{Token: admin})
	all, err := ac.Subscribe(ctx, tenantEventsSub, nil)
	require.NoError(t, err)
	api.WaitSubscribers(t, 1)

	var a signUpAnswer
	api.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("replicated", "pro")}, &a)
	msgs := follow(t, api.URL, a.SignUp.APIKey, a.SignUp.Operation.ID)
	require.Equal(t, "SUCCEEDED", msgs[len(msgs)-1].OperationProgress.Status)

	seen := map[string]bool{}
	for !seen["activate"] {
		m := next(t, all)
		if m.TenantEvents.Transition != nil && m.TenantEvents.Tenant.ID == a.SignUp.Tenant.ID {
			seen[m.TenantEvents.Transition.Event] = true
		}
	}
	require.True(t, seen["provision"] && seen["activate"], "%v", seen)
	require.Eventually(t, func() bool {
		var worked int
		err := api.DB().SQL.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'operation' AND args->>'kind' = 'PROVISION' AND state = 'completed'`).Scan(&worked)
		return err == nil && worked == 1
	}, 10*time.Second, 50*time.Millisecond, "the worker replica completed the job")
}

// TestWebSocketPingPong: the server pings graphql-transport-ws clients and
// keeps those that answer; the legacy protocol gets keep-alive messages.
func TestWebSocketPingPong(t *testing.T) {
	t.Parallel()
	// 1 s: a client answering at once is never 2 s (two pings) late, even
	// on a busy two-core machine running the suite in parallel.
	srv := servertest.StartWith(t, storetest.SQLite, nil, []server.Option{server.WithWebSocketPing(time.Second)})
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	conn, _, err := d.Dial("ws"+srv.URL[len("http"):]+"/graphql", nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + admin}}))
	pings := 0
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	for pings < 3 {
		var msg struct{ Type string }
		require.NoError(t, conn.ReadJSON(&msg))
		if msg.Type == "ping" {
			pings++
			require.NoError(t, conn.WriteJSON(map[string]any{"type": "pong"}))
		}
	}
	// Still open after answering: a query over the socket works.
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": "{ plans { key } }"}}))
	for {
		var msg struct {
			Type    string
			ID      string
			Payload json.RawMessage
		}
		require.NoError(t, conn.ReadJSON(&msg))
		if msg.Type == "ping" {
			require.NoError(t, conn.WriteJSON(map[string]any{"type": "pong"}))
			continue
		}
		require.Equal(t, "next", msg.Type)
		require.Contains(t, string(msg.Payload), "enterprise")
		break
	}

	// A client that never answers is dropped after two missed pongs.
	silent, _, err := d.Dial("ws"+srv.URL[len("http"):]+"/graphql", nil)
	require.NoError(t, err)
	defer silent.Close()
	require.NoError(t, silent.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + admin}}))
	silent.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		var msg struct{ Type string }
		if err := silent.ReadJSON(&msg); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				require.NotContains(t, err.Error(), "i/o timeout", "the server should have dropped the silent client")
			}
			break
		}
	}

	legacy := websocket.Dialer{Subprotocols: []string{"graphql-ws"}}
	lc, _, err := legacy.Dial("ws"+srv.URL[len("http"):]+"/graphql", nil)
	require.NoError(t, err)
	defer lc.Close()
	require.NoError(t, lc.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + admin}}))
	lc.SetReadDeadline(time.Now().Add(15 * time.Second))
	kas := 0
	for kas < 2 {
		var msg struct{ Type string }
		require.NoError(t, lc.ReadJSON(&msg))
		if msg.Type == "ka" {
			kas++
		}
	}
}

// TestManyWatchersOfOneTenant: 100 subscriptions of one tenant (sharing the
// reads of each event) each get every transition, in order, once.
func TestManyWatchersOfOneTenant(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("watched", "free")}, &a)
			waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
			ctx := context.Background()
			var subs []*gqlws.Subscription
			for range 4 {
				c := dial(t, srv, gqlws.Options{Token: admin})
				for range 25 {
					sub, err := c.Subscribe(ctx, tenantEventsSub, map[string]any{"id": a.SignUp.Tenant.ID})
					require.NoError(t, err)
					subs = append(subs, sub)
				}
			}
			for _, sub := range subs {
				require.Equal(t, "SNAPSHOT", next(t, sub).TenantEvents.Kind)
			}
			for i := range 6 {
				m := []string{"suspendTenant", "resumeTenant"}[i%2]
				srv.MustDo(t, admin, fmt.Sprintf(transitionMutation, m), map[string]any{"id": a.SignUp.Tenant.ID}, nil)
			}
			for _, sub := range subs {
				var seqs []int
				for len(seqs) < 6 {
					m := next(t, sub)
					if m.TenantEvents.Kind == "TRANSITION" {
						seqs = append(seqs, m.TenantEvents.Transition.Seq)
					}
				}
				require.Equal(t, []int{4, 5, 6, 7, 8, 9}, seqs)
			}
		})
	}
}
