package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/outboxmessage"
)

// Retry backoff of delivery jobs: 1s after the first failure, doubling, at
// most five minutes.
const (
	retryBase = time.Second
	retryMax  = 5 * time.Minute
)

// markTimeout bounds the UPDATE that records an attempt. It runs detached
// from the job's context, so that a job cancelled right after the SMTP server
// accepted its message still records SENT.
const markTimeout = 15 * time.Second

// maxErrorLen caps last_error.
const maxErrorLen = 2000

// Worker is the River worker of DeliverArgs: it sends one outbox message and
// records the outcome on its row.
//
// Delivery is at-least-once. The message is marked SENT by a plain UPDATE
// issued right after the Sender returns, which keeps the window between a
// successful send and its record as small as it can be — but not empty: a
// crash or a database failure in it leaves the row PENDING, River retries the
// job, and the message is sent again. It is sent with the same Message-ID
// header, generated once at enqueue time, so a receiver can recognize the
// duplicate. A job for a message that is already SENT (a duplicate job, a
// retry after the record succeeded) sends nothing.
type Worker struct {
	river.WorkerDefaults[DeliverArgs]

	client *ent.Client
	sender Sender
	from   string
	clock  tenantd.Clock
	log    *slog.Logger
}

// NewWorker returns the delivery worker. client is the (non-transactional)
// ent client, sender delivers, from is the sender address put on every
// message (e.g. "tenantd <noreply@example.com>") and log receives failures;
// nil discards.
func NewWorker(client *ent.Client, sender Sender, from string, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{client: client, sender: sender, from: from, clock: tenantd.RealClock(), log: log}
}

// WithClock makes w record sent_at on clock (the server's injected one)
// and returns w.
func (w *Worker) WithClock(clock tenantd.Clock) *Worker {
	w.clock = tenantd.ClockOr(clock)
	return w
}

// Register adds w to workers. The River client must also run Queue.
func Register(workers *river.Workers, w *Worker) { river.AddWorker(workers, w) }

// Work delivers the message of job. It loads the row (as the system); if it
// is already SENT it returns nil without sending. Otherwise it sends and
// immediately marks the row SENT (sent_at, attempts+1). When the send fails
// it records attempts+1 and last_error and returns the error, so River
// retries with NextRetry's backoff; on the job's last attempt it also marks
// the row FAILED and logs an error. last_error keeps the latest failure even
// after a later attempt succeeds. A job whose message row does not exist is
// cancelled.
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	sys := tenantd.SystemContext(ctx)
	msg, err := w.client.OutboxMessage.Get(sys, job.Args.MessageID)
	if ent.IsNotFound(err) {
		return river.JobCancel(fmt.Errorf("outbox message %s does not exist", job.Args.MessageID))
	}
	if err != nil {
		return fmt.Errorf("load outbox message %s: %w", job.Args.MessageID, err)
	}
	log := w.log.With("outbox_message_id", msg.ID, "kind", msg.Kind, "job_id", job.ID, "attempt", job.Attempt)
	if msg.TenantID != nil {
		log = log.With("tenant_id", *msg.TenantID)
	}
	if msg.Status == outboxmessage.StatusSENT {
		log.Info("outbox message already sent; nothing to do")
		return nil
	}

	sendErr := w.sender.Send(ctx, Message{
		MessageID: msg.MessageID,
		From:      w.from,
		To:        msg.ToAddress,
		Subject:   msg.Subject,
		Text:      msg.TextBody,
		Date:      msg.CreatedAt,
	})

	// Record the attempt even if the job's context is done by now.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(sys), markTimeout)
	defer cancel()
	upd := w.client.OutboxMessage.Update().Where(outboxmessage.ID(msg.ID)).AddAttempts(1)
	if sendErr == nil {
		if err := upd.SetStatus(outboxmessage.StatusSENT).SetSentAt(tenantd.Now(w.clock)).Exec(mctx); err != nil {
			log.Error("outbox message delivered but not marked sent; a retry will deliver it again with the same Message-ID",
				"message_id", msg.MessageID, "err", err)
			return fmt.Errorf("mark outbox message %s sent: %w", msg.ID, err)
		}
		log.Info("outbox message sent", "message_id", msg.MessageID)
		return nil
	}

	last := job.MaxAttempts > 0 && job.Attempt >= job.MaxAttempts
	upd.SetLastError(truncate(sendErr.Error(), maxErrorLen))
	if last {
		upd.SetStatus(outboxmessage.StatusFAILED)
	}
	if err := upd.Exec(mctx); err != nil {
		sendErr = errors.Join(sendErr, fmt.Errorf("record failed attempt of outbox message %s: %w", msg.ID, err))
	}
	if last {
		log.Error("outbox message failed for good", "max_attempts", job.MaxAttempts, "err", sendErr)
	} else {
		log.Warn("outbox message delivery failed; will retry", "err", sendErr)
	}
	return fmt.Errorf("deliver outbox message %s: %w", msg.ID, sendErr)
}

// NextRetry schedules the next attempt after a failure: 1s after the first,
// doubling with every attempt, at most five minutes.
func (w *Worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(RetryDelay(job.Attempt))
}

// RetryDelay is the backoff after the given failed attempt (1-based): 1s, 2s,
// 4s, … capped at five minutes.
func RetryDelay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 20 { // 2^19 s is far beyond the cap; avoid overflow
		return retryMax
	}
	return min(retryBase<<(attempt-1), retryMax)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
