package mail_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/store"
)

const testFrom = "tenantd <noreply@tenantd.test>"

func sysCtx() context.Context { return tenantd.SystemContext(context.Background()) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// insertClient is a River client that only inserts jobs.
func insertClient(t *testing.T, db *store.DB) *river.Client[*sql.Tx] {
	t.Helper()
	c, err := river.NewClient(db.RiverDriver(), &river.Config{Logger: testLogger(t)})
	require.NoError(t, err)
	return c
}

// runRiver starts a River client working the mail queue with w and returns
// it with a subscription to finished jobs. It stops when the test ends.
func runRiver(t *testing.T, db *store.DB, w *mail.Worker) (*river.Client[*sql.Tx], <-chan *river.Event) {
	t.Helper()
	workers := river.NewWorkers()
	mail.Register(workers, w)
	c, err := river.NewClient(db.RiverDriver(), &river.Config{
		Logger:            testLogger(t),
		Queues:            map[string]river.QueueConfig{mail.Queue: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		TestOnly:          true,
	})
	require.NoError(t, err)
	events, cancel := c.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() {
		cancel()
		ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		require.NoError(t, c.Stop(ctx))
	})
	return c, events
}

// waitCompleted waits for a delivery job of the outbox message to complete
// and returns the completed job with the failed attempts seen before it.
func waitCompleted(t *testing.T, events <-chan *river.Event, messageID uuid.UUID, timeout time.Duration) (*rivertype.JobRow, []*river.Event) {
	t.Helper()
	var failed []*river.Event
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-events:
			var args mail.DeliverArgs
			require.NoError(t, json.Unmarshal(ev.Job.EncodedArgs, &args))
			if args.MessageID != messageID {
				continue
			}
			switch ev.Kind {
			case river.EventKindJobCompleted:
				return ev.Job, failed
			case river.EventKindJobFailed:
				failed = append(failed, ev)
				if ev.Job.State == rivertype.JobStateDiscarded {
					t.Fatalf("delivery job discarded after %d attempts: %v", ev.Job.Attempt, ev.Job.Errors)
				}
			default:
				t.Fatalf("delivery job %s: %v", ev.Kind, ev.Job.Errors)
			}
		case <-deadline:
			t.Fatalf("no completed delivery job for %s within %s (%d failed attempts)", messageID, timeout, len(failed))
		}
	}
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// countDeliverJobs counts River jobs of kind mail.deliver.
func countDeliverJobs(t *testing.T, q queryer) int {
	t.Helper()
	var n int
	require.NoError(t, q.QueryRowContext(context.Background(),
		"SELECT count(*) FROM river_job WHERE kind = 'mail.deliver'").Scan(&n))
	return n
}

// countMessages counts outbox rows.
func countMessages(t *testing.T, client *ent.Client) int {
	t.Helper()
	n, err := client.OutboxMessage.Query().Count(sysCtx())
	require.NoError(t, err)
	return n
}

// enqueue runs EnqueueTx in a transaction of its own.
func enqueue(t *testing.T, db *store.DB, jobs mail.JobInserter, m mail.NewMessage) (*ent.OutboxMessage, bool) {
	t.Helper()
	var (
		msg     *ent.OutboxMessage
		created bool
	)
	require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		var err error
		msg, created, err = mail.EnqueueTx(ctx, tx, jobs, m)
		return err
	}))
	return msg.Unwrap(), created
}

func reload(t *testing.T, db *store.DB, id uuid.UUID) *ent.OutboxMessage {
	t.Helper()
	m, err := db.Ent.OutboxMessage.Get(sysCtx(), id)
	require.NoError(t, err)
	return m
}

func newMessage(key string) mail.NewMessage {
	tenant := uuid.New()
	return mail.NewMessage{
		TenantID:  &tenant,
		Kind:      "signup_confirmation",
		DedupeKey: key,
		To:        "Ada Lovelace <ada@example.com>",
		Subject:   "Confirm your tenantd signup",
		Text: "Hello Ada,\n\nplease confirm your signup: https://tenantd.test/confirm?token=abc=def\n\n" +
			"Grüße — a line long enough to need a soft line break in quoted-printable, " +
			"because it goes on and on past seventy-six characters.\n",
	}
}

// deliverJob builds the job River would hand the worker on the given attempt.
func deliverJob(id uuid.UUID, attempt int) *river.Job[mail.DeliverArgs] {
	return &river.Job[mail.DeliverArgs]{
		JobRow: &rivertype.JobRow{
			ID: 1, Kind: mail.DeliverKind, Queue: mail.Queue,
			Attempt: attempt, MaxAttempts: 10, State: rivertype.JobStateRunning,
		},
		Args: mail.DeliverArgs{MessageID: id},
	}
}
