// Package server wires tenantd together — database, migrations, River,
// lifecycle, authentication and the GraphQL API — and serves HTTP.
package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/graph"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/config"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/planchange"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/provisioning"
	"github.com/tenantd/tenantd/internal/readiness"
	"github.com/tenantd/tenantd/internal/retention"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/subscription"
	"github.com/tenantd/tenantd/internal/watch"
	"github.com/tenantd/tenantd/internal/webhooks"
	"github.com/tenantd/tenantd/internal/winback"
	"github.com/tenantd/tenantd/internal/workspace"
)

// Server is a running tenantd.
type Server struct {
	cfg           *config.Config
	log           *slog.Logger
	db            *store.DB
	river         *river.Client[*sql.Tx]
	hub           *events.Hub
	auth          *auth.Service
	metrics       *Metrics
	resolver      *graph.Resolver
	provisioning  *provisioning.Service
	workspaces    *workspace.Service
	webhooks      *webhooks.Stripe
	operations    *operation.Engine
	purger        *retention.Purger
	winback       *winback.Service
	subscriptions *subscription.Service
	exports       *export.Service
	planChanges   *planchange.Service
	large         *largeBodies
	guard         *graph.Guard
	noWorkers     bool
	pingInterval  time.Duration
	clock         tenantd.Clock
	initTimeout   time.Duration
	sockets       *wsRegistry
	stopListen    context.CancelFunc
	scheduler     gocron.Scheduler
	elector       *lockElector
	listenDone    chan struct{}

	httpServer    *http.Server
	listener      net.Listener
	metricsServer *http.Server
	metricsLn     net.Listener
	// AdminToken is the development admin token generated at start, if any.
	AdminToken string
}

// Option adjusts a Server; the options exist for tests.
type Option func(*options)

type options struct {
	provisioningHooks       provisioning.Hooks
	operationHooks          operation.Hooks
	clock                   tenantd.Clock
	provisioningMaxAttempts int
	noWorkers               bool
	readiness               func(*readiness.Checker)
	pingInterval            time.Duration
	initTimeout             time.Duration
	revocationInterval      time.Duration
	noRevocationClose       bool
	listeners               *Listeners
}

// Listeners are the sockets a server serves on, opened before it migrates
// the database so that a busy port is reported first.
type Listeners struct {
	API     net.Listener
	Metrics net.Listener // nil without TENANTD_METRICS_ADDR
}

// Listen opens the listeners of cfg: TENANTD_ADDR and TENANTD_METRICS_ADDR.
func Listen(cfg *config.Config) (*Listeners, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s (TENANTD_ADDR): %w; another process holds the port: stop it, or choose another port with TENANTD_ADDR=127.0.0.1:PORT or --addr", cfg.Addr, err)
		}
		return nil, fmt.Errorf("listen on %s (TENANTD_ADDR): %w", cfg.Addr, err)
	}
	l := &Listeners{API: ln}
	if cfg.MetricsAddr != "" {
		if l.Metrics, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s (TENANTD_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
	}
	return l, nil
}

// Close closes the listeners (when the server is not started on them).
func (l *Listeners) Close() {
	l.API.Close()
	if l.Metrics != nil {
		l.Metrics.Close()
	}
}

// WithListeners makes Start serve on listeners opened by Listen instead of
// listening itself.
func WithListeners(l *Listeners) Option {
	return func(o *options) { o.listeners = l }
}

// WithWebSocketInitTimeout sets how long a WebSocket may take to send
// connection_init (default 10 s; tests shorten it).
func WithWebSocketInitTimeout(d time.Duration) Option {
	return func(o *options) { o.initTimeout = d }
}

// WithRevocationCheckInterval sets how often the open WebSockets'
// credentials are checked against the database (default 1 s; tests
// lengthen it to see revocation notices work alone).
func WithRevocationCheckInterval(d time.Duration) Option {
	return func(o *options) { o.revocationInterval = d }
}

// WithoutRevocationClose leaves the WebSockets of a revoked credential open
// (tests: what the check of each new subscription does on its own).
func WithoutRevocationClose() Option {
	return func(o *options) { o.noRevocationClose = true }
}

// WithClock sets the clock every time rule reads (tests: a fake clock,
// clockwork.NewFakeClockAt, advanced instead of waiting).
func WithClock(c tenantd.Clock) Option {
	return func(o *options) { o.clock = c }
}

// WithWebSocketPing sets how often the server pings WebSocket clients
// (default 10 s; tests shorten it).
func WithWebSocketPing(d time.Duration) Option {
	return func(o *options) { o.pingInterval = d }
}

// WithReadiness adjusts the readiness checker (tests: a shorter limit, a
// provisioning re-run that is not idempotent).
func WithReadiness(f func(*readiness.Checker)) Option {
	return func(o *options) { o.readiness = f }
}

// WithoutWorkers makes a replica that serves the API and inserts jobs but
// runs none; another replica on the same PostgreSQL works them.
func WithoutWorkers() Option {
	return func(o *options) { o.noWorkers = true }
}

// WithProvisioningHooks injects failures into provisioning (tests).
func WithProvisioningHooks(h provisioning.Hooks) Option {
	return func(o *options) { o.provisioningHooks = h }
}

// WithOperationHooks injects failures into the steps of every operation
// kind (tests), after those of WithProvisioningHooks.
func WithOperationHooks(h operation.Hooks) Option {
	return func(o *options) { o.operationHooks = h }
}

// WithProvisioningMaxAttempts sets how often a provisioning job runs before
// the tenant is PROVISIONING_FAILED (tests).
func WithProvisioningMaxAttempts(n int) Option {
	return func(o *options) { o.provisioningMaxAttempts = n }
}

// Open opens the database, applies migrations, seeds the plans, registers the
// bootstrap admin token and builds the services. It serves nothing yet.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...Option) (_ *Server, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{cfg: cfg, log: log, metrics: NewMetrics(), hub: events.NewHub(), noWorkers: o.noWorkers || !cfg.Workers,
		pingInterval: 10 * time.Second, initTimeout: 10 * time.Second}
	if o.pingInterval > 0 {
		s.pingInterval = o.pingInterval
	}
	if o.initTimeout > 0 {
		s.initTimeout = o.initTimeout
	}
	s.clock = tenantd.ClockOr(o.clock)
	if o.listeners != nil {
		s.listener, s.metricsLn = o.listeners.API, o.listeners.Metrics
	}
	s.large = newLargeBodies(cfg.MaxDocument + 1<<20)
	s.guard = graph.NewGuard(parserTokenLimit)
	sopts := store.Options{DatabaseURL: cfg.DatabaseURL, OwnerURL: cfg.OwnerURL, DataDir: cfg.DataDir, Clock: s.clock, Logger: log}
	res, err := store.Migrate(ctx, sopts)
	if err != nil {
		return nil, err
	}
	if len(res.Schema)+len(res.River) > 0 {
		log.Info("migrations applied", "tenantd", res.Schema, "river", res.River)
	}
	s.db, err = store.Open(ctx, sopts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.db.Close()
		}
	}()
	if err := s.db.CheckRowSecurity(ctx); err != nil {
		return nil, err
	}
	if err := plans.Seed(ctx, s.db.Ent); err != nil {
		return nil, err
	}
	if rebuilt, err := analytics.RebuildLegacy(ctx, s.db, cfg.ActivationWindow); err != nil {
		return nil, err
	} else if rebuilt {
		log.Info("funnel counters rebuilt with the 10% duration buckets of every scale")
	}

	pub := events.NewPublisher(s.hub)
	s.auth = auth.New(s.db, pub, auth.WithClock(s.clock))
	s.sockets = newWSRegistry(wsRegistryConfig{
		Auth: s.auth, Hub: s.hub, Log: log.With("component", "websocket"),
		PerConnection: cfg.MaxSubscriptionsPerConnection, PerToken: cfg.MaxSubscriptionsPerToken,
		Interval: o.revocationInterval, NoRevocationClose: o.noRevocationClose,
	})
	if err := s.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	provider, err := s.billingProvider()
	if err != nil {
		return nil, err
	}
	sender, err := s.mailSender()
	if err != nil {
		return nil, err
	}

	// Services take the River client as their job inserter; the client is
	// made after the workers are registered, so they get it through jobs.
	s.workspaces = workspace.New(s.db, workspace.Config{
		DataDir: cfg.DataDir, MaxDocumentBytes: cfg.MaxDocument, ActivationWindow: cfg.ActivationWindow,
		Clock: s.clock, Logger: log.With("component", "workspace"),
	})
	jobs := &jobInserter{}
	s.operations = operation.New(operation.Config{DB: s.db, Jobs: jobs, Events: pub, Clock: s.clock,
		Logger: log.With("component", "operation"), Hooks: o.hooks()})
	machine := lifecycle.New(lifecycle.Config{DB: s.db, Operations: s.operations, Events: pub, Transitions: s.metrics.Transitions,
		Clock: s.clock, Idempotency: s.idempotency()})
	s.provisioning = provisioning.New(provisioning.Config{
		DB: s.db, Lifecycle: machine, Operations: s.operations, Jobs: jobs, Billing: provider,
		Idempotency: s.idempotency(), Workspaces: s.workspaces,
		Events: pub, PublicURL: s.publicURL, Logger: log.With("component", "provisioning"),
		MaxAttempts: o.provisioningMaxAttempts, Hooks: o.provisioningHooks, ActivationWindow: cfg.ActivationWindow,
	})
	// Every operation kind is registered before River is configured: its
	// rescue of stuck jobs is sized by the longest kind timeout.
	subscriptions := subscription.New(subscription.Config{DB: s.db, Lifecycle: machine, Billing: provider,
		Operations: s.operations, Idempotency: s.idempotency(), Events: pub, Logger: log.With("component", "subscription")})
	s.subscriptions = subscriptions
	s.exports, err = export.New(export.Config{DB: s.db, Lifecycle: machine, Workspaces: s.workspaces, Operations: s.operations,
		Events: pub, Idempotency: s.idempotency(), Auth: s.auth, Clock: s.clock, Dir: cfg.ExportDir, TTL: cfg.ExportTTL,
		Logger: log.With("component", "export")})
	if err != nil {
		return nil, err
	}
	purger := retention.NewPurger(retention.Config{DB: s.db, Lifecycle: machine, Workspaces: s.workspaces,
		Operations: s.operations, Events: pub, Billing: provider, Subscriptions: subscriptions, Jobs: jobs, Exports: s.exports,
		PublicURL: s.publicURL, Logger: log.With("component", "retention")})
	s.planChanges = planchange.New(planchange.Config{DB: s.db, Lifecycle: machine, Operations: s.operations,
		Billing: provider, Usage: s.workspaces, Idempotency: s.idempotency(), Workspaces: s.workspaces,
		SourceGrace: sourceGrace(cfg.MoveSourceGrace), Clock: s.clock, Logger: log.With("component", "planchange")})
	workers := river.NewWorkers()
	s.operations.Register(workers)
	provisioning.Register(workers, s.provisioning) // jobs queued before the engine
	mail.Register(workers, mail.NewWorker(s.db.Ent, sender, mailFrom, log.With("component", "mail")).WithClock(s.clock))
	rcfg := s.riverConfig(workers)
	if s.noWorkers {
		rcfg.Queues = nil // insert-only
	}
	s.river, err = river.NewClient(s.db.RiverDriver(), rcfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	jobs.client = s.river

	s.webhooks = webhooks.NewStripe(s.db, machine, cfg.StripeWebhookSecret, log.With("component", "webhooks"))
	s.purger = purger
	s.winback = winback.New(winback.Config{DB: s.db, Clock: s.clock, Jobs: jobs, Subscriptions: subscriptions,
		PublicURL: s.publicURL, Logger: log.With("component", "winback")})
	checker := readiness.New(s.db, machine, s.provisioning, purger, cfg.ActivationWindow, log.With("component", "readiness"))
	if o.readiness != nil {
		o.readiness(checker)
	}
	s.resolver = &graph.Resolver{
		DB: s.db, Lifecycle: machine, Provisioning: s.provisioning,
		Idempotency: s.idempotency(), Keys: auth.NewKeys(s.db, pub, auth.WithClock(s.clock), auth.WithIdempotency(s.idempotency())),
		Watch:      watch.New(s.db.Ent, s.hub, log.With("component", "watch")),
		Workspaces: s.workspaces, ActivationWindow: cfg.ActivationWindow,
		Readiness: checker, Subscriptions: subscriptions, PlanChanges: s.planChanges, Retention: purger,
		Exports: s.exports,
		WinBack: s.winback,
	}
	return s, nil
}

// hooks joins the provisioning and operation hooks of tests.
func (o *options) hooks() operation.Hooks {
	h := o.provisioningHooks.OperationHooks()
	before, after := h.BeforeStep, o.operationHooks.BeforeStep
	if before == nil || after == nil {
		if after != nil {
			h.BeforeStep = after
		}
	} else {
		h.BeforeStep = func(kind tenantd.OperationKind, step string, attempt int) error {
			if err := before(kind, step, attempt); err != nil {
				return err
			}
			return after(kind, step, attempt)
		}
	}
	if o.operationHooks.AfterStep != nil {
		h.AfterStep = o.operationHooks.AfterStep
	}
	return h
}

// idempotency returns the idempotency store on the server's clock.
func (s *Server) idempotency() *idempotency.Store { return idempotency.New(s.db).WithClock(s.clock) }

// Clock returns the server's clock.
func (s *Server) Clock() tenantd.Clock { return s.clock }

// mailFrom is the sender of tenantd's emails.
const mailFrom = "tenantd <no-reply@tenantd.local>"

// jobInserter hands River's InsertTx to services built before the client.
type jobInserter struct{ client *river.Client[*sql.Tx] }

func (j *jobInserter) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return j.client.InsertTx(ctx, tx, args, opts)
}

// riverConfig sizes the queues and makes a job orphaned by a crash come back
// soon: each operation kind has its own job timeout, other jobs 10 s, and a
// job still running 5 s past the longest timeout is rescued as stuck (never
// before its timeout, or a slow job would run twice at once).
//
// River is told of work rather than polling for it: the store's River
// driver wakes a queue's producers when a job inserted as available
// commits, and when a retry or snooze comes due (store.DB.RiverDriver), so
// the fetch poll is only a backstop for a notice lost on the way (a LISTEN
// connection that reconnects, a job another process inserted on SQLite),
// and an idle tenantd makes a query every few seconds instead of dozens a
// second.
func (s *Server) riverConfig(workers *river.Workers) *river.Config {
	cfg := &river.Config{
		Logger:  s.log.With("component", "river"),
		Workers: workers,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 5},
			provisioning.Queue: {MaxWorkers: 10},
			mail.Queue:         {MaxWorkers: 5},
			export.Queue:       {MaxWorkers: 2},
		},
		JobTimeout:           10 * time.Second,
		RescueStuckJobsAfter: max(10*time.Second, s.operations.MaxTimeout()) + 5*time.Second,
		FetchCooldown:        10 * time.Millisecond,
		FetchPollInterval:    riverBackstopPoll,
	}
	return cfg
}

// riverBackstopPoll is how often River's producers fetch without being told
// of a job.
const riverBackstopPoll = 5 * time.Second

// billingProvider is Stripe when a key is configured, else the built-in
// test provider.
func (s *Server) billingProvider() (billing.Provider, error) {
	if s.cfg.StripeSecretKey == "" {
		return billing.NewTestProvider(s.db.Ent, billing.WithClock(s.clock)), nil
	}
	return billing.NewStripeProvider(billing.StripeConfig{SecretKey: s.cfg.StripeSecretKey, APIBase: s.cfg.StripeAPIBase, Clock: s.clock}, s.db.Ent)
}

// mailSender is SMTP when SMTP_URL is set, else .eml files in the data dir.
func (s *Server) mailSender() (mail.Sender, error) {
	if s.cfg.SMTPURL == "" {
		return mail.NewFileSender(filepath.Join(s.cfg.DataDir, "outbox")), nil
	}
	return mail.NewSMTPSender(s.cfg.SMTPURL, mailFrom)
}

// publicURL is the base of links in emails: TENANTD_PUBLIC_URL, or the
// address actually listened on.
func (s *Server) publicURL() string {
	if s.cfg.PublicURL != "http://"+s.cfg.Addr || s.listener == nil {
		return s.cfg.PublicURL
	}
	return s.URL()
}

// devTokenName names the admin tokens a development server generates.
const devTokenName = "development (generated at start)"

// bootstrapAdmin registers TENANTD_ADMIN_TOKEN, or in development without it
// makes a random admin token and keeps it for later starts, one per store
// (config.DevTokenPath). A new one replaces the store's earlier generated
// ones: they are revoked.
func (s *Server) bootstrapAdmin(ctx context.Context) error {
	if s.cfg.AdminToken != "" {
		return s.auth.EnsureAdminToken(ctx, s.cfg.AdminToken, "bootstrap (TENANTD_ADMIN_TOKEN)")
	}
	if !s.cfg.IsDevelopment() {
		s.log.Warn("no TENANTD_ADMIN_TOKEN: create admin tokens with `tenantd token create --role admin`")
		return nil
	}
	path := s.cfg.DevTokenPath()
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if _, err := s.auth.Authenticate(ctx, tok); err == nil {
			s.AdminToken = tok
			return nil
		}
	}
	tok, created, err := s.auth.CreateAdminToken(ctx, "ADMIN", devTokenName)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("keep development admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("keep development admin token: %w", err)
	}
	s.AdminToken = tok
	all, err := s.auth.AdminTokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range all {
		if t.Name == devTokenName && t.RevokedAt == nil && t.ID != created.ID {
			if _, err := s.auth.RevokeAdminToken(ctx, t.ID.String()); err != nil {
				return fmt.Errorf("revoke the replaced development admin token: %w", err)
			}
			s.log.Info("revoked the development admin token the new one replaces", "prefix", t.Prefix)
		}
	}
	return nil
}

// Start listens on the configured address and serves in the background.
func (s *Server) Start(ctx context.Context) (err error) {
	if s.listener == nil {
		l, err := Listen(s.cfg)
		if err != nil {
			return err
		}
		s.listener, s.metricsLn = l.API, l.Metrics
	}
	ln := s.listener
	defer func() {
		// A start that fails serves nothing: the API's socket is closed
		// here, the metrics server and what else started by Shutdown.
		if err != nil {
			ln.Close()
		}
	}()
	if mln := s.metricsLn; mln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metricsHandler())
		s.metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := s.metricsServer.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("metrics server stopped", "err", err)
			}
		}()
	}
	if s.db.IsPostgres() {
		// Events of every replica arrive through LISTEN.
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stopListen, s.listenDone = cancel, make(chan struct{})
		ready := make(chan struct{})
		go func() {
			defer close(s.listenDone)
			events.Listen(lctx, s.db.Pool, s.hub, s.log.With("component", "events"), ready)
		}()
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			s.log.Warn("event listener not ready after 10s; subscriptions may miss events until it is")
		}
	}
	if s.runsWorkers() {
		if err := s.resumeOrphanedJobs(ctx); err != nil {
			return err
		}
		if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start river: %w", err)
		}
		if err := s.startSweeps(); err != nil {
			return err
		}
	}
	s.httpServer = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	go func() {
		if err := s.httpServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.log.Info("tenantd listening", "url", s.URL(), "store", s.storeName(), "env", s.cfg.Env)
	return nil
}

// URL returns the base URL the server listens on.
func (s *Server) URL() string {
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

func (s *Server) storeName() string {
	if s.db.IsPostgres() {
		return "postgres"
	}
	return "sqlite " + s.db.Path
}

// MetricsURL returns the URL of /metrics on TENANTD_METRICS_ADDR, or "" if
// metrics are served on the API's address.
func (s *Server) MetricsURL() string {
	if s.metricsLn == nil {
		return ""
	}
	return "http://" + s.metricsLn.Addr().String() + "/metrics"
}

// DB returns the server's database.
func (s *Server) DB() *store.DB { return s.db }

// Shutdown drains HTTP requests, stops River (letting running jobs finish
// until ctx is done) and closes the database.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.httpServer != nil {
		if err := s.httpServer.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain http: %w", err))
		}
	}
	s.sockets.shutdown() // hijacked connections are not drained by the HTTP server
	if s.metricsServer != nil {
		if err := s.metricsServer.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop metrics server: %w", err))
		}
	}
	// An http.Server closes only the listeners its Serve goroutine has
	// begun serving; one that has not run yet would close its listener
	// later. Close both now (a second Close does nothing).
	for _, ln := range []net.Listener{s.listener, s.metricsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if err := s.stopSweeps(); err != nil {
		errs = append(errs, fmt.Errorf("stop sweeps: %w", err))
	}
	if s.runsWorkers() {
		if err := s.river.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("stop river: %w", err))
		}
	}
	if s.stopListen != nil {
		s.stopListen()
		<-s.listenDone
	}
	if err := s.workspaces.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close workspaces: %w", err))
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close database: %w", err))
	}
	return errors.Join(errs...)
}

func (s *Server) runsWorkers() bool { return !s.noWorkers }

// Operations returns the operation engine.
func (s *Server) Operations() *operation.Engine { return s.operations }

// Exports returns the export service (EXPORT operations, import).
func (s *Server) Exports() *export.Service { return s.exports }

// Purger returns the purger (PURGE operations).
func (s *Server) Purger() *retention.Purger { return s.purger }

// WinBack returns the win-back service (campaigns and their sweep).
func (s *Server) WinBack() *winback.Service { return s.winback }

// Subscribers returns how many event-hub subscriptions this process holds
// (one per open subscription stream): tests wait on it instead of sleeping.
func (s *Server) Subscribers() int { return s.hub.Subscribers() }

// River returns the server's River client.
func (s *Server) River() *river.Client[*sql.Tx] { return s.river }

// Provisioning returns the provisioning service.
func (s *Server) Provisioning() *provisioning.Service { return s.provisioning }

// DataDir returns the data directory.
func (s *Server) DataDir() string { return s.cfg.DataDir }

// Workspaces returns the workspace service (tests fill workspaces with it).
func (s *Server) Workspaces() *workspace.Service { return s.workspaces }

// sourceGrace is the configured grace as planchange.Config takes it (there
// 0 means the default, a negative value none).
func sourceGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// resumeOrphanedJobs makes the jobs a crashed process left running
// available again at once, on SQLite, where one process serves the
// database: any job still running when it starts was its predecessor's.
// (River's rescuer would take them back only after RescueStuckJobsAfter.)
// On PostgreSQL another replica may be running them, so the rescuer does
// it.
func (s *Server) resumeOrphanedJobs(ctx context.Context) error {
	if s.db.IsPostgres() {
		return nil
	}
	// River's SQLite driver keeps times as datetime('now', 'subsec') text,
	// in real time.
	res, err := s.db.SQL.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec') WHERE state = 'running'`)
	if err != nil {
		return fmt.Errorf("resume the jobs of a crashed process: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.log.Warn("resumed jobs left running by a process that stopped without finishing them", "jobs", n)
	}
	return nil
}
