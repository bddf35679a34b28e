package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/tenantd/tenantd/internal/gqlws"
)

// SubscriptionConfig says how many subscriptions to hold and how many
// events to deliver through them.
type SubscriptionConfig struct {
	URL string
	// Token is an admin token: it signs tenants up and subscribes.
	Token string
	// Subscriptions is the number held open (default 10,000).
	Subscriptions int
	// PerConnection is how many share one WebSocket (default 100).
	PerConnection int
	// Tenants is over how many tenants the subscriptions are spread
	// (default 100); each event reaches that tenant's subscribers.
	Tenants int
	// Events is the number of transitions fired while the subscriptions are
	// held (default 100), one every EventInterval (default 50ms).
	Events        int
	EventInterval time.Duration
	Progress      io.Writer
}

// SubscriptionReport is the outcome of a subscription run.
type SubscriptionReport struct {
	Subscriptions, Connections, Tenants int
	OpenTime                            time.Duration
	// Server memory from /metrics before and after the subscriptions were
	// opened (Go heap in use, process resident set) and per subscription.
	HeapBefore, HeapAfter, RSSBefore, RSSAfter float64
	HeapPerSub, RSSPerSub                      float64
	GoroutinesBefore, GoroutinesAfter          float64
	// Delivery is from a transition's occurredAt (set in its transaction,
	// before commit) to its arrival at a subscriber.
	Delivery            Summary
	Expected, Delivered int
}

func (r *SubscriptionReport) String() string {
	return fmt.Sprintf(`%d subscriptions held on %d WebSockets over %d tenants (opened in %s)
  server heap in use: %.1f MiB → %.1f MiB  = %.1f KiB per subscription
  server RSS:         %.1f MiB → %.1f MiB  = %.1f KiB per subscription
  server goroutines:  %.0f → %.0f
  event delivery: %s
  delivered %d of %d expected messages`,
		r.Subscriptions, r.Connections, r.Tenants, r.OpenTime.Round(time.Millisecond),
		r.HeapBefore/(1<<20), r.HeapAfter/(1<<20), r.HeapPerSub/1024,
		r.RSSBefore/(1<<20), r.RSSAfter/(1<<20), r.RSSPerSub/1024,
		r.GoroutinesBefore, r.GoroutinesAfter, r.Delivery, r.Delivered, r.Expected)
}

const tenantEventsQuery = `subscription($id: ID) { tenantEvents(tenantId: $id) { kind transition { seq occurredAt } } }`

// Subscriptions holds cfg.Subscriptions subscriptions to tenantEvents,
// reports the server memory they take, then fires transitions and measures
// how long each takes to reach every subscriber.
func Subscriptions(ctx context.Context, cfg SubscriptionConfig) (*SubscriptionReport, error) {
	if cfg.Token == "" {
		return nil, errors.New("an admin token is needed (--token or TENANTD_ADMIN_TOKEN)")
	}
	cfg.Subscriptions = cmpOr(cfg.Subscriptions, 10_000)
	cfg.PerConnection = cmpOr(cfg.PerConnection, 100)
	cfg.Tenants = min(cmpOr(cfg.Tenants, 100), cfg.Subscriptions)
	cfg.Events = cmpOr(cfg.Events, 100)
	if cfg.EventInterval == 0 {
		cfg.EventInterval = 50 * time.Millisecond
	}
	a := newAPI(cfg.URL)
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}

	say("signing up %d tenants…", cfg.Tenants)
	tenants, err := makeTenants(ctx, a, cfg)
	if err != nil {
		return nil, err
	}
	rep := &SubscriptionReport{Subscriptions: cfg.Subscriptions, Tenants: cfg.Tenants}
	if rep.HeapBefore, rep.RSSBefore, rep.GoroutinesBefore, err = serverMemory(ctx, a); err != nil {
		return nil, err
	}

	say("opening %d subscriptions, %d per WebSocket…", cfg.Subscriptions, cfg.PerConnection)
	var (
		delivery  Samples
		delivered atomic.Int64
		ready     sync.WaitGroup
		readers   sync.WaitGroup
		clients   []*gqlws.Client
	)
	// Small buffers: the client holds thousands of sockets.
	dialer := &websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024, HandshakeTimeout: 30 * time.Second,
		NetDialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext}
	subsOf := make([]int, cfg.Tenants)
	openStart := time.Now()
	for i := 0; i < cfg.Subscriptions; {
		c, err := gqlws.Dial(ctx, cfg.URL+"/graphql", gqlws.Options{Token: cfg.Token, Dialer: dialer})
		if err != nil {
			return nil, fmt.Errorf("open WebSocket %d: %w", len(clients)+1, err)
		}
		clients = append(clients, c)
		for j := 0; j < cfg.PerConnection && i < cfg.Subscriptions; j, i = j+1, i+1 {
			t := i % cfg.Tenants
			subsOf[t]++
			sub, err := c.Subscribe(ctx, tenantEventsQuery, map[string]any{"id": tenants[t]})
			if err != nil {
				return nil, fmt.Errorf("subscribe %d: %w", i, err)
			}
			ready.Add(1)
			readers.Add(1)
			go func() {
				defer readers.Done()
				first := true
				for {
					data, err := sub.Next(ctx)
					if err != nil {
						if first {
							ready.Done()
						}
						return
					}
					now := time.Now()
					var m struct {
						TenantEvents struct {
							Kind       string
							Transition *struct{ OccurredAt time.Time }
						}
					}
					if jsonUnmarshal(data, &m) != nil {
						continue
					}
					if first {
						first = false
						ready.Done()
						continue
					}
					if m.TenantEvents.Kind == "TRANSITION" && m.TenantEvents.Transition != nil {
						delivery.Add(now.Sub(m.TenantEvents.Transition.OccurredAt))
						delivered.Add(1)
					}
				}
			}()
		}
	}
	ready.Wait()
	rep.OpenTime = time.Since(openStart)
	rep.Connections = len(clients)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
		readers.Wait()
	}()
	time.Sleep(2 * time.Second) // let the server settle
	if rep.HeapAfter, rep.RSSAfter, rep.GoroutinesAfter, err = serverMemory(ctx, a); err != nil {
		return nil, err
	}
	rep.HeapPerSub = (rep.HeapAfter - rep.HeapBefore) / float64(cfg.Subscriptions)
	rep.RSSPerSub = (rep.RSSAfter - rep.RSSBefore) / float64(cfg.Subscriptions)
	say("held: heap %.1f → %.1f MiB; firing %d transitions…", rep.HeapBefore/(1<<20), rep.HeapAfter/(1<<20), cfg.Events)

	suspended := make([]bool, cfg.Tenants)
	start := time.Now()
	stop := progress(cfg.Progress, start, func() string {
		return fmt.Sprintf("delivered %d of %d  %s", delivered.Load(), rep.Expected, delivery.Summary())
	})
	for i := range cfg.Events {
		t := i % cfg.Tenants
		m := "suspendTenant"
		if suspended[t] {
			m = "resumeTenant"
		}
		if err := a.do(ctx, cfg.Token, `mutation($id: ID!) { `+m+`(input: {tenantId: $id, reason: "load"}) { tenant { id } } }`,
			map[string]any{"id": tenants[t]}, nil); err != nil {
			stop()
			return nil, fmt.Errorf("fire %s: %w", m, err)
		}
		suspended[t] = !suspended[t]
		rep.Expected += subsOf[t]
		time.Sleep(cfg.EventInterval)
	}
	deadline := time.Now().Add(30 * time.Second)
	for delivered.Load() < int64(rep.Expected) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	rep.Delivered = int(delivered.Load())
	rep.Delivery = delivery.Summary()
	return rep, nil
}

// makeTenants signs tenants up and waits until they are ACTIVE.
func makeTenants(ctx context.Context, a *api, cfg SubscriptionConfig) ([]uuid.UUID, error) {
	c, err := gqlws.Dial(ctx, cfg.URL+"/graphql", gqlws.Options{Token: cfg.Token})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	run := uuid.NewString()[:8]
	ids := make([]uuid.UUID, cfg.Tenants)
	errs := make([]error, cfg.Tenants)
	sem := make(chan struct{}, 20)
	var wg sync.WaitGroup
	for i := range cfg.Tenants {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			slug := fmt.Sprintf("subs-%s-%d", run, i)
			var out struct {
				SignUp struct {
					Tenant    struct{ ID uuid.UUID }
					Operation struct{ ID uuid.UUID }
				}
			}
			// Synthetic: the load tenants stay out of the figures and lists.
			err := a.do(ctx, cfg.Token, `mutation($in: SignUpInput!) { signUp(input: $in) { tenant { id } operation { id } } }`,
				map[string]any{"in": map[string]any{"name": slug, "slug": slug, "email": "owner@" + slug + ".example.com",
					"plan": "free", "paymentMethod": "pm_card_visa", "idempotencyKey": uuid.NewString(), "synthetic": true}}, &out)
			if err == nil {
				var status string
				status, err = followToEnd(ctx, c, out.SignUp.Operation.ID)
				if err == nil && status != "SUCCEEDED" {
					err = fmt.Errorf("provisioning ended %s", status)
				}
			}
			ids[i], errs[i] = out.SignUp.Tenant.ID, err
		})
	}
	wg.Wait()
	return ids, errors.Join(errs...)
}

func serverMemory(ctx context.Context, a *api) (heap, rss, goroutines float64, err error) {
	if heap, err = a.metric(ctx, "go_memstats_heap_inuse_bytes"); err != nil {
		return
	}
	if rss, err = a.metric(ctx, "process_resident_memory_bytes"); err != nil {
		return
	}
	goroutines, err = a.metric(ctx, "go_goroutines")
	return
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
