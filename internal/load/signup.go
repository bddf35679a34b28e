package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd/internal/gqlws"
)

// SignupConfig says how to drive signups.
type SignupConfig struct {
	// URL is the tenantd base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Rate is the signups started per second (open loop: a slow server does
	// not slow the arrivals).
	Rate float64
	// Duration is how long signups are started.
	Duration time.Duration
	// Plan is the plan of every signup.
	Plan string
	// Token, if set (an admin token), signs the tenants up as synthetic
	// (test) tenants, so that they stay out of the figures and lists, and
	// follows every operation over one shared WebSocket. Without it the
	// signups are anonymous, as a browser's, each followed with its new API
	// key, and the load tenants count as real ones (Signups says so on
	// Progress).
	Token string
	// MaxInFlight caps signups not yet ACTIVE (default 1000).
	MaxInFlight int
	// Progress, if set, gets a status line every second.
	Progress io.Writer
}

// SignupReport is the outcome of a signup run.
type SignupReport struct {
	Plan     string
	Started  int
	Active   int
	Failed   int
	Elapsed  time.Duration
	Rate     float64 // signups that reached ACTIVE per second of the run
	ToActive Summary // from sending signUp to the operation's final SUCCEEDED message
	Request  Summary // the signUp request alone
	Errors   map[string]int
}

func (r *SignupReport) String() string {
	s := fmt.Sprintf("plan %-10s started %d  active %d  failed %d  in %s  → %.1f signups/s\n  signup → ACTIVE: %s\n  signUp request:  %s",
		r.Plan, r.Started, r.Active, r.Failed, r.Elapsed.Round(time.Millisecond), r.Rate, r.ToActive, r.Request)
	if len(r.Errors) > 0 {
		s += fmt.Sprintf("\n  errors: %v", r.Errors)
	}
	return s
}

const signUpQuery = `mutation($in: SignUpInput!) { signUp(input: $in) { apiKey operation { id } } }`

const followQuery = `subscription($id: ID!) { operationProgress(id: $id) { status } }`

// Signups signs tenants up at cfg.Rate for cfg.Duration and follows each to
// ACTIVE over a subscription.
func Signups(ctx context.Context, cfg SignupConfig) (*SignupReport, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return nil, errors.New("rate and duration must be positive")
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 1000
	}
	a := newAPI(cfg.URL)
	var shared *gqlws.Client
	if cfg.Token != "" {
		c, err := gqlws.Dial(ctx, cfg.URL+"/graphql", gqlws.Options{Token: cfg.Token})
		if err != nil {
			return nil, fmt.Errorf("open the shared WebSocket: %w", err)
		}
		defer c.Close()
		shared = c
	}
	if cfg.Token == "" && cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress, "no admin token: the load tenants are signed up as real ones and count in the figures (give --token to mark them synthetic)")
	}
	run := uuid.NewString()[:8]
	rep := &SignupReport{Plan: cfg.Plan, Errors: map[string]int{}}
	var (
		toActive, request Samples
		started, active   atomic.Int64
		failed            atomic.Int64
		mu                sync.Mutex
		wg                sync.WaitGroup
	)
	fail := func(code string) {
		failed.Add(1)
		mu.Lock()
		rep.Errors[code]++
		mu.Unlock()
	}
	one := func(n int64) {
		defer wg.Done()
		t0 := time.Now()
		var out struct {
			SignUp struct {
				APIKey    string
				Operation struct{ ID uuid.UUID }
			}
		}
		slug := fmt.Sprintf("load-%s-%s-%d", run, cfg.Plan, n)
		in := map[string]any{
			"name": "Load " + slug, "slug": slug, "email": "owner@" + slug + ".example.com", "plan": cfg.Plan,
			"paymentMethod": "pm_card_visa", "idempotencyKey": uuid.NewString(),
		}
		if cfg.Token != "" {
			in["synthetic"] = true
		}
		err := a.do(ctx, cfg.Token, signUpQuery, map[string]any{"in": in}, &out)
		if err != nil {
			fail(codeOf(err))
			return
		}
		request.Add(time.Since(t0))
		client := shared
		if client == nil {
			c, err := gqlws.Dial(ctx, cfg.URL+"/graphql", gqlws.Options{Token: out.SignUp.APIKey})
			if err != nil {
				fail("WS_DIAL")
				return
			}
			defer c.Close()
			client = c
		}
		status, err := followToEnd(ctx, client, out.SignUp.Operation.ID)
		if err != nil || status != "SUCCEEDED" {
			fail("NOT_ACTIVE:" + status)
			return
		}
		toActive.Add(time.Since(t0))
		active.Add(1)
	}

	sem := make(chan struct{}, cfg.MaxInFlight)
	start := time.Now()
	stopProgress := progress(cfg.Progress, start, func() string {
		s := toActive.Summary()
		return fmt.Sprintf("started %d  active %d  failed %d  in flight %d  signup→ACTIVE p50 %s p99 %s",
			started.Load(), active.Load(), failed.Load(), len(sem), ms(s.P50), ms(s.P99))
	})
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	next := start
	for time.Since(start) < cfg.Duration && ctx.Err() == nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		n := started.Add(1)
		wg.Add(1)
		go func() {
			defer func() { <-sem }()
			one(n)
		}()
		next = next.Add(interval)
		time.Sleep(time.Until(next))
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	stopProgress()
	rep.Started, rep.Active, rep.Failed = int(started.Load()), int(active.Load()), int(failed.Load())
	rep.Rate = float64(rep.Active) / rep.Elapsed.Seconds()
	rep.ToActive, rep.Request = toActive.Summary(), request.Summary()
	return rep, nil
}

// followToEnd subscribes to an operation and returns its last status.
func followToEnd(ctx context.Context, c *gqlws.Client, id uuid.UUID) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sub, err := c.Subscribe(ctx, followQuery, map[string]any{"id": id})
	if err != nil {
		return "", err
	}
	last := ""
	for {
		data, err := sub.Next(ctx)
		if errors.Is(err, io.EOF) {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		var m struct {
			OperationProgress struct{ Status string }
		}
		if err := jsonUnmarshal(data, &m); err != nil {
			return last, err
		}
		last = m.OperationProgress.Status
	}
}

func codeOf(err error) string {
	var re *requestError
	if errors.As(err, &re) {
		return re.Code
	}
	return "TRANSPORT"
}

// progress prints line() every second until the returned stop is called.
func progress(w io.Writer, start time.Time, line func() string) func() {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w, "  [%5.1fs] %s\n", time.Since(start).Seconds(), line())
			}
		}
	}()
	return func() { close(done); <-stopped }
}
