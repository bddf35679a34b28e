package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/store"
)

// sweepLockKey is the PostgreSQL advisory lock whose holder runs the sweeps.
const sweepLockKey = 0x7377_6565 // "swee"

// startSweeps schedules tenantd's periodic housekeeping every
// TENANTD_SWEEP_INTERVAL with gocron: expired idempotency keys are deleted,
// scheduled plan changes and cancellations applied, paused tenants
// resumed, due win-back and nudge mails sent, tenants past their retention window
// purged, and the funnel's counter slots of past days are merged (so the funnel
// query keeps reading few rows). On PostgreSQL only the replica holding an
// advisory lock runs them.
func (s *Server) startSweeps() error {
	elector := &lockElector{db: s.db}
	sched, err := gocron.NewScheduler(
		gocron.WithClock(s.clock),
		gocron.WithDistributedElector(elector),
		gocron.WithStopTimeout(10*time.Second),
	)
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	idem := s.idempotency()
	jobs := []struct {
		name string
		run  func(ctx context.Context) (int, error)
	}{
		{"expire idempotency keys", idem.Sweep},
		{"apply scheduled plan changes", s.planChanges.ApplyDue},
		{"purge tenants past their retention window", s.purger.SweepDue},
		{"apply scheduled cancellations", s.subscriptions.ApplyDueCancellations},
		{"resume paused tenants", s.subscriptions.ResumeDue},
		{"send due win-back and nudge mails", s.winback.Sweep},
		{"delete expired export archives", s.exports.Sweep},
		{"compact funnel counters", func(ctx context.Context) (int, error) {
			before := tenantd.Now(s.clock).Truncate(24 * time.Hour)
			return analytics.Compact(ctx, s.db, before)
		}},
	}
	for _, j := range jobs {
		_, err := sched.NewJob(gocron.DurationJob(s.cfg.SweepInterval),
			gocron.NewTask(func(ctx context.Context) {
				n, err := j.run(ctx)
				if err != nil {
					s.log.Error("sweep failed", "sweep", j.name, "err", err)
					return
				}
				if n > 0 {
					s.log.Info("sweep", "sweep", j.name, "rows", n)
				}
			}),
			gocron.WithName(j.name),
			gocron.WithSingletonMode(gocron.LimitModeReschedule),
		)
		if err != nil {
			return fmt.Errorf("schedule %s: %w", j.name, err)
		}
	}
	sched.Start()
	s.scheduler, s.elector = sched, elector
	return nil
}

func (s *Server) stopSweeps() error {
	if s.scheduler == nil {
		return nil
	}
	err := s.scheduler.Shutdown()
	s.elector.release()
	return err
}

// lockElector makes the replica holding a session advisory lock the leader.
// SQLite has one process: it always leads.
type lockElector struct {
	db   *store.DB
	mu   sync.Mutex
	conn *sql.Conn
}

func (e *lockElector) IsLeader(ctx context.Context) error {
	if !e.db.IsPostgres() {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		if err := e.conn.PingContext(ctx); err == nil {
			return nil
		}
		e.conn.Close() // the session and its lock are gone
		e.conn = nil
	}
	conn, err := e.db.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", sweepLockKey).Scan(&got); err != nil {
		conn.Close()
		return err
	}
	if !got {
		conn.Close()
		return errors.New("another replica runs the sweeps")
	}
	e.conn = conn
	return nil
}

func (e *lockElector) release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		_, _ = e.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", sweepLockKey)
		e.conn.Close()
		e.conn = nil
	}
}
