package gqlws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/gqlws"
)

// leakCheck records the goroutine count and, when the test ends (after the
// cleanups registered later, such as closing clients and the peer), waits
// for it to come back down. Call it first in a test.
func leakCheck(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() { waitGoroutines(t, base) })
}

// waitGoroutines waits up to 5s for the goroutine count to drop to base and
// fails the test with a dump of all stacks if it does not.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d goroutines, %d before the test\n%s", runtime.NumGoroutine(), base, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, p *peer, opts gqlws.Options) *gqlws.Client {
	t.Helper()
	c, err := gqlws.Dial(testCtx(t), p.url(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type countData struct {
	Count int `json:"count"`
}

func decodeCount(t *testing.T, raw json.RawMessage) int {
	t.Helper()
	var d countData
	require.NoError(t, json.Unmarshal(raw, &d))
	return d.Count
}

func TestHappyPath(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, func(p *peer) { p.token = "good" })
	c := dial(t, p, gqlws.Options{Token: "good", Origin: "https://app.example"})
	require.Nil(t, c.Err())
	require.Equal(t, "https://app.example", p.origin.Load())

	ctx := testCtx(t)
	sub, err := c.Subscribe(ctx, "count", map[string]any{"n": 5})
	require.NoError(t, err)
	require.NotEmpty(t, sub.ID())
	for i := 0; i < 5; i++ {
		data, err := sub.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, i, decodeCount(t, data))
	}
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, io.EOF)
	_, err = sub.Next(ctx) // stays over
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, sub.Stop()) // no-op once completed

	// A second subscription on the same connection gets a different id.
	sub2, err := c.Subscribe(ctx, "count", map[string]any{"n": 1})
	require.NoError(t, err)
	require.NotEqual(t, sub.ID(), sub2.ID())
	data, err := sub2.Next(ctx)
	require.NoError(t, err)
	require.JSONEq(t, `{"count":0}`, string(data))

	select {
	case <-c.Done():
		t.Fatal("connection ended")
	default:
	}
	require.NoError(t, c.Close())
	<-c.Done()
	require.ErrorIs(t, c.Err(), gqlws.ErrClosed)
}

func TestDialWebsocketScheme(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	wsURL := "ws" + strings.TrimPrefix(p.url(), "http")
	c, err := gqlws.Dial(testCtx(t), wsURL, gqlws.Options{})
	require.NoError(t, err)
	require.NoError(t, c.Close())

	_, err = gqlws.Dial(testCtx(t), "ftp://example.com/graphql", gqlws.Options{})
	require.ErrorContains(t, err, "scheme")
}

func TestDialRejectedByServer(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, func(p *peer) { p.token = "good" })

	for _, tc := range []struct {
		name   string
		token  string
		code   int
		reason string
	}{
		{"no token", "", gqlws.CloseUnauthorized, "Unauthorized"},
		{"bad token", "bad", gqlws.CloseForbidden, "Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gqlws.Dial(testCtx(t), p.url(), gqlws.Options{Token: tc.token})
			require.Nil(t, c)
			var ce *gqlws.CloseError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.code, ce.Code)
			require.Equal(t, tc.reason, ce.Reason)
			require.ErrorContains(t, err, fmt.Sprint(tc.code))
		})
	}
}

func TestDialHandshakeHTTPError(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	_, err := gqlws.Dial(testCtx(t), p.srv.URL+"/forbidden", gqlws.Options{})
	require.ErrorContains(t, err, "403")
	var he *gqlws.HandshakeError
	require.ErrorAs(t, err, &he)
	require.Equal(t, 403, he.StatusCode)
	require.Contains(t, he.Body, "no websockets for you")
}

func TestDialSubprotocolNotNegotiated(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, func(p *peer) { p.noSubprotocol = true })
	_, err := gqlws.Dial(testCtx(t), p.url(), gqlws.Options{})
	require.ErrorContains(t, err, "subprotocol")
}

func TestDialAckTimeoutAndContext(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, func(p *peer) { p.noAck = true })

	start := time.Now()
	_, err := gqlws.Dial(testCtx(t), p.url(), gqlws.Options{AckTimeout: 100 * time.Millisecond})
	require.ErrorIs(t, err, gqlws.ErrAckTimeout)
	require.Less(t, time.Since(start), 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = gqlws.Dial(ctx, p.url(), gqlws.Options{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = gqlws.Dial(ctx, p.url(), gqlws.Options{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestGraphQLErrorMessage(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{})
	ctx := testCtx(t)

	sub, err := c.Subscribe(ctx, "fail", nil)
	require.NoError(t, err)
	data, err := sub.Next(ctx)
	require.Nil(t, data)
	var gerrs *gqlws.GraphQLErrors
	require.ErrorAs(t, err, &gerrs)
	require.Len(t, *gerrs, 2)
	require.Equal(t, "BOOM", gerrs.Code())
	require.Equal(t, "boom", (*gerrs)[0].Message)
	require.Equal(t, []any{"x", float64(0)}, (*gerrs)[0].Path)
	require.ErrorContains(t, err, "boom")
	require.ErrorContains(t, err, "second")

	// errors.As also fills a value target.
	var val gqlws.GraphQLErrors
	require.ErrorAs(t, err, &val)
	require.Equal(t, "BOOM", val.Code())

	// The subscription is over; the connection is not.
	_, err2 := sub.Next(ctx)
	require.Equal(t, err, err2)
	require.NoError(t, sub.Stop())
	require.Nil(t, c.Err())
	sub2, err := c.Subscribe(ctx, "count", map[string]any{"n": 1})
	require.NoError(t, err)
	_, err = sub2.Next(ctx)
	require.NoError(t, err)
}

func TestNextWithPartialErrors(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{})
	ctx := testCtx(t)

	sub, err := c.Subscribe(ctx, "partial", nil)
	require.NoError(t, err)
	data, err := sub.Next(ctx)
	require.JSONEq(t, `{"x":null}`, string(data))
	var gerrs *gqlws.GraphQLErrors
	require.ErrorAs(t, err, &gerrs)
	require.Equal(t, "PARTIAL", gerrs.Code())
	require.Equal(t, []any{"x"}, (*gerrs)[0].Path)
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, io.EOF)
}

func TestServerPingGetsPong(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, func(p *peer) {
		p.pingsAfterAck = []json.RawMessage{json.RawMessage(`{"seq":1}`), nil}
	})
	c := dial(t, p, gqlws.Options{})

	for _, want := range []string{`{"seq":1}`, ``} {
		select {
		case got := <-p.pongs:
			if want == "" {
				require.Empty(t, got, "pong for a ping without payload has no payload")
			} else {
				require.JSONEq(t, want, string(got))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no pong")
		}
	}
	require.Nil(t, c.Err())
}

func TestClientPings(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{PingInterval: 10 * time.Millisecond})
	require.Eventually(t, func() bool { return p.clientPings.Load() >= 3 }, 5*time.Second, 5*time.Millisecond)

	// Pongs from the server are ignored and the connection keeps working.
	ctx := testCtx(t)
	sub, err := c.Subscribe(ctx, "count", map[string]any{"n": 2})
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		_, err := sub.Next(ctx)
		require.NoError(t, err)
	}
	require.Nil(t, c.Err())
}

func TestManyConcurrentSubscriptions(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{})
	ctx := testCtx(t)

	const subs, msgs = 1000, 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  = map[string]bool{}
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for i := 0; i < subs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub, err := c.Subscribe(ctx, "count", map[string]any{"n": msgs})
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			if ids[sub.ID()] {
				errs = append(errs, fmt.Errorf("duplicate id %s", sub.ID()))
			}
			ids[sub.ID()] = true
			mu.Unlock()
			for want := 0; want < msgs; want++ {
				data, err := sub.Next(ctx)
				if err != nil {
					fail(fmt.Errorf("sub %s message %d: %w", sub.ID(), want, err))
					return
				}
				var d countData
				if err := json.Unmarshal(data, &d); err != nil || d.Count != want {
					fail(fmt.Errorf("sub %s: got %s, want count %d", sub.ID(), data, want))
					return
				}
			}
			if _, err := sub.Next(ctx); !errors.Is(err, io.EOF) {
				fail(fmt.Errorf("sub %s: want io.EOF, got %v", sub.ID(), err))
			}
		}()
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Len(t, ids, subs)
	require.Nil(t, c.Err())
}

func TestSlowConsumerDoesNotBlockOthers(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{})
	ctx := testCtx(t)

	const n = 3000
	slow, err := c.Subscribe(ctx, "count", map[string]any{"n": n})
	require.NoError(t, err)
	// Nobody reads slow for now; a later subscription still flows freely.
	fast, err := c.Subscribe(ctx, "count", map[string]any{"n": 5})
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		data, err := fast.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, i, decodeCount(t, data))
	}
	_, err = fast.Next(ctx)
	require.ErrorIs(t, err, io.EOF)

	for i := 0; i < n; i++ {
		data, err := slow.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, i, decodeCount(t, data))
	}
	_, err = slow.Next(ctx)
	require.ErrorIs(t, err, io.EOF)
}

func TestStop(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{})
	ctx := testCtx(t)

	other, err := c.Subscribe(ctx, "hold", nil)
	require.NoError(t, err)
	sub, err := c.Subscribe(ctx, "ticker", nil)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err := sub.Next(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, sub.Stop())
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, io.EOF)

	select {
	case id := <-p.completes:
		require.Equal(t, sub.ID(), id)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not receive complete")
	}

	require.NoError(t, sub.Stop()) // idempotent: no second complete
	require.NoError(t, other.Stop())
	select {
	case id := <-p.completes:
		require.Equal(t, other.ID(), id)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not receive complete")
	}
	select {
	case id := <-p.completes:
		t.Fatalf("unexpected extra complete for %s", id)
	case <-time.After(50 * time.Millisecond):
	}

	// The connection is unaffected.
	s3, err := c.Subscribe(ctx, "count", map[string]any{"n": 1})
	require.NoError(t, err)
	_, err = s3.Next(ctx)
	require.NoError(t, err)
	require.Nil(t, c.Err())
}

func TestNextHonoursContext(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{})

	sub, err := c.Subscribe(testCtx(t), "hold", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_, err = c.Subscribe(cctx, "hold", nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, c.Err())
}

func TestCloseEndsAllSubscriptions(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c, err := gqlws.Dial(testCtx(t), p.url(), gqlws.Options{PingInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	ctx := testCtx(t)

	const n = 50
	results := make(chan error, n)
	var subs []*gqlws.Subscription
	for i := 0; i < n; i++ {
		sub, err := c.Subscribe(ctx, "hold", nil)
		require.NoError(t, err)
		subs = append(subs, sub)
		go func() {
			_, err := sub.Next(ctx)
			results <- err
		}()
	}
	require.NoError(t, c.Close())
	for i := 0; i < n; i++ {
		select {
		case err := <-results:
			require.ErrorIs(t, err, gqlws.ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("Next did not return after Close")
		}
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	require.ErrorIs(t, c.Err(), gqlws.ErrClosed)
	_, err = c.Subscribe(ctx, "hold", nil)
	require.ErrorIs(t, err, gqlws.ErrClosed)
	require.NoError(t, subs[0].Stop())
	require.NoError(t, c.Close()) // idempotent
}

func TestServerCloseEndsSubscriptions(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{})
	ctx := testCtx(t)

	held, err := c.Subscribe(ctx, "hold", nil)
	require.NoError(t, err)
	_, err = c.Subscribe(ctx, "close4500", nil)
	require.NoError(t, err)

	_, err = held.Next(ctx)
	var ce *gqlws.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 4500, ce.Code)
	require.Equal(t, "internal boom", ce.Reason)
	<-c.Done()
	require.Equal(t, err, c.Err())
	_, err = c.Subscribe(ctx, "hold", nil)
	require.ErrorAs(t, err, &ce)
	require.NoError(t, c.Close())
}

func TestConnectionDropDeliversQueuedFirst(t *testing.T) {
	leakCheck(t)
	p := newPeer(t, nil)
	c := dial(t, p, gqlws.Options{})
	ctx := testCtx(t)

	sub, err := c.Subscribe(ctx, "drop", map[string]any{"n": 3})
	require.NoError(t, err)
	<-c.Done()
	for i := 0; i < 3; i++ {
		data, err := sub.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, i, decodeCount(t, data))
	}
	_, err = sub.Next(ctx)
	require.Error(t, err)
	require.Equal(t, c.Err(), err)
	var ce *gqlws.CloseError
	require.False(t, errors.As(err, &ce), "no close frame was sent")
}

func TestMalformedServerMessagesEndConnection(t *testing.T) {
	for _, op := range []string{"malformed", "badtype", "baderror"} {
		t.Run(op, func(t *testing.T) {
			leakCheck(t)
			p := newPeer(t, nil)
			c := dial(t, p, gqlws.Options{})
			ctx := testCtx(t)

			held, err := c.Subscribe(ctx, "hold", nil)
			require.NoError(t, err)
			_, err = c.Subscribe(ctx, op, nil)
			require.NoError(t, err)

			_, err = held.Next(ctx)
			require.ErrorIs(t, err, gqlws.ErrProtocol)
			<-c.Done()
			require.ErrorIs(t, c.Err(), gqlws.ErrProtocol)
		})
	}
}

// TestNoGoroutineLeak runs a mix of everything against several connections
// and checks that every goroutine (client and peer) is gone afterwards.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		p := newPeer(t, func(p *peer) { p.pingsAfterAck = []json.RawMessage{json.RawMessage(`{}`)} })
		defer p.srv.Close()
		ctx := testCtx(t)
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := gqlws.Dial(ctx, p.url(), gqlws.Options{PingInterval: 2 * time.Millisecond})
				if err != nil {
					t.Error(err)
					return
				}
				defer func() { _ = c.Close() }()
				var subs []*gqlws.Subscription
				for j := 0; j < 20; j++ {
					op := []string{"count", "ticker", "hold", "fail"}[j%4]
					s, err := c.Subscribe(ctx, op, map[string]any{"n": 10})
					if err != nil {
						t.Error(err)
						return
					}
					subs = append(subs, s)
				}
				for j, s := range subs {
					switch j % 3 {
					case 0:
						_ = s.Stop()
					case 1:
						// "hold" never sends; bound the wait.
						nctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
						_, _ = s.Next(nctx)
						cancel()
					}
				}
				if i%2 == 0 {
					// Half the connections end by the server instead.
					if _, err := c.Subscribe(ctx, "close4500", nil); err != nil {
						t.Error(err)
						return
					}
					<-c.Done()
				}
			}()
		}
		wg.Wait()
		p.srv.Close()
	}()
	waitGoroutines(t, before)
}
