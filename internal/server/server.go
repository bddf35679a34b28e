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
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantd/tenantd/graph"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/config"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
)

// Server is a running tenantd.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	db       *store.DB
	river    *river.Client[*sql.Tx]
	workers  int
	hub      *events.Hub
	auth     *auth.Service
	metrics  *Metrics
	resolver *graph.Resolver

	httpServer *http.Server
	listener   net.Listener
	// AdminToken is the development admin token generated at start, if any.
	AdminToken string
}

// Open opens the database, applies migrations, seeds the plans, registers the
// bootstrap admin token and builds the services. It serves nothing yet.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log, metrics: NewMetrics(), hub: events.NewHub()}
	s.db, err = store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.db.Close()
		}
	}()
	res, err := s.db.Migrate(ctx)
	if err != nil {
		return nil, err
	}
	if len(res.Schema)+len(res.River) > 0 {
		log.Info("migrations applied", "tenantd", res.Schema, "river", res.River)
	}
	if err := plans.Seed(ctx, s.db.Ent); err != nil {
		return nil, err
	}

	workers := river.NewWorkers()
	// Capability workers register here as they arrive.
	riverCfg := &river.Config{Logger: log.With("component", "river"), Workers: workers}
	s.river, err = river.NewClient(s.db.RiverDriver(), riverCfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}

	s.auth = auth.New(s.db.Ent)
	if err := s.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	machine := lifecycle.New(lifecycle.Config{
		DB:          s.db,
		Jobs:        s.river,
		Events:      events.NewPublisher(s.hub),
		Transitions: s.metrics.Transitions,
	})
	s.resolver = &graph.Resolver{DB: s.db, Lifecycle: machine}
	return s, nil
}

// bootstrapAdmin registers TENANTD_ADMIN_TOKEN, or in development without it
// makes (once per data dir) a random admin token and keeps it for later starts.
func (s *Server) bootstrapAdmin(ctx context.Context) error {
	if s.cfg.AdminToken != "" {
		return s.auth.EnsureAdminToken(ctx, s.cfg.AdminToken, "bootstrap (TENANTD_ADMIN_TOKEN)")
	}
	if !s.cfg.IsDevelopment() {
		s.log.Warn("no TENANTD_ADMIN_TOKEN: create admin tokens with `tenantd token create --role admin`")
		return nil
	}
	path := filepath.Join(s.cfg.DataDir, "dev-admin-token")
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if _, err := s.auth.Authenticate(ctx, tok); err == nil {
			s.AdminToken = tok
			return nil
		}
	}
	tok, _, err := s.auth.CreateAdminToken(ctx, "ADMIN", "development (generated at start)")
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
	return nil
}

// Start listens on the configured address and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (TENANTD_ADDR): %w", s.cfg.Addr, err)
	}
	s.listener = ln
	if s.workers > 0 {
		if err := s.river.Start(ctx); err != nil {
			ln.Close()
			return fmt.Errorf("start river: %w", err)
		}
	}
	s.httpServer = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
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
	if s.workers > 0 {
		if err := s.river.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop river: %w", err))
		}
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close database: %w", err))
	}
	return errors.Join(errs...)
}
