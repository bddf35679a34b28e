package mail_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/mail/mailpittest"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// flakySender fails its first `fails` sends and hands the rest to next (or
// records them when next is nil). It stands in for an unreachable or
// temporarily failing SMTP server.
type flakySender struct {
	mu    sync.Mutex
	fails int
	next  mail.Sender
	calls int
	sent  []mail.Message
}

var errUnreachable = errors.New("dial tcp 192.0.2.1:25: connect: connection refused")

func (s *flakySender) Send(ctx context.Context, m mail.Message) error {
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.fails
	if !fail && s.next == nil {
		s.sent = append(s.sent, m)
	}
	s.mu.Unlock()
	if fail {
		return errUnreachable
	}
	if s.next != nil {
		return s.next.Send(ctx, m)
	}
	return nil
}

func (s *flakySender) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func TestWorkerDeliversThroughRiverToMailpit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		mp := mailpittest.Start(t)
		smtp, err := mail.NewSMTPSender(mp.SMTPURL(), testFrom)
		require.NoError(t, err)
		w := mail.NewWorker(db.Ent, smtp, testFrom, testLogger(t))
		client, events := runRiver(t, db, w)

		in := newMessage("signup_confirmation:" + uuid.NewString())
		msg, created := enqueue(t, db, client, in)
		require.True(t, created)
		job, failed := waitCompleted(t, events, msg.ID, 15*time.Second)
		require.Empty(t, failed)
		require.Equal(t, 1, job.Attempt)
		require.Equal(t, mail.Queue, job.Queue)

		msgs := mp.WaitFor(t, 1, 5*time.Second)
		require.Len(t, msgs, 1, "delivered exactly once")
		got := msgs[0]
		require.Equal(t, in.Subject, got.Subject)
		require.Len(t, got.To, 1)
		require.Equal(t, "ada@example.com", got.To[0].Address)
		require.Equal(t, "Ada Lovelace", got.To[0].Name)
		require.Equal(t, "noreply@tenantd.test", got.From.Address)
		require.Equal(t, strings.Trim(msg.MessageID, "<>"), got.MessageID)

		detail := mp.Message(t, got.ID)
		require.Equal(t, msg.MessageID, detail.Header("Message-ID"))
		require.Equal(t, normalizeNewlines(in.Text), normalizeNewlines(detail.Text))
		date, err := time.Parse(time.RFC1123Z, detail.Header("Date"))
		require.NoError(t, err)
		require.WithinDuration(t, msg.CreatedAt, date, time.Second, "Date is when the message was written")

		row := reload(t, db, msg.ID)
		require.Equal(t, outboxmessage.StatusSENT, row.Status)
		require.Equal(t, 1, row.Attempts)
		require.NotNil(t, row.SentAt)
		require.Nil(t, row.LastError)

		// Working the message again — a stale retry or a duplicate job —
		// sends nothing.
		require.NoError(t, w.Work(context.Background(), deliverJob(msg.ID, 1)))
		res, err := client.Insert(context.Background(), mail.DeliverArgs{MessageID: msg.ID}, nil)
		require.NoError(t, err)
		require.False(t, res.UniqueSkippedAsDuplicate)
		waitCompleted(t, events, msg.ID, 15*time.Second)
		require.Len(t, mp.Messages(t), 1, "no second delivery")
		row = reload(t, db, msg.ID)
		require.Equal(t, outboxmessage.StatusSENT, row.Status)
		require.Equal(t, 1, row.Attempts)
	})
}

func TestWorkerRetriesThroughRiverUntilSent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		mp := mailpittest.Start(t)
		smtp, err := mail.NewSMTPSender(mp.SMTPURL(), testFrom)
		require.NoError(t, err)
		sender := &flakySender{fails: 2, next: smtp}
		w := mail.NewWorker(db.Ent, sender, testFrom, testLogger(t))
		client, events := runRiver(t, db, w)

		msg, _ := enqueue(t, db, client, newMessage("signup_confirmation:"+uuid.NewString()))
		// Backoff is 1s then 2s: about three seconds to the third attempt.
		job, failed := waitCompleted(t, events, msg.ID, 20*time.Second)
		require.Len(t, failed, 2)
		require.Equal(t, 3, job.Attempt)
		require.Len(t, job.Errors, 2)
		require.Contains(t, job.Errors[0].Error, "connection refused")
		require.GreaterOrEqual(t, job.Errors[1].At.Sub(job.Errors[0].At), 900*time.Millisecond,
			"the second attempt waited for the backoff")

		msgs := mp.WaitFor(t, 1, 5*time.Second)
		require.Len(t, msgs, 1)
		require.Equal(t, strings.Trim(msg.MessageID, "<>"), msgs[0].MessageID)

		row := reload(t, db, msg.ID)
		require.Equal(t, outboxmessage.StatusSENT, row.Status)
		require.Equal(t, 3, row.Attempts)
		require.NotNil(t, row.SentAt)
		require.NotNil(t, row.LastError, "the last failure is kept")
		require.Contains(t, *row.LastError, "connection refused")
	})
}

func TestWorkRecordsEachAttempt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sender := &flakySender{fails: 2}
		w := mail.NewWorker(db.Ent, sender, testFrom, testLogger(t))
		in := newMessage("signup_confirmation:" + uuid.NewString())
		msg, _ := enqueue(t, db, insertClient(t, db), in)
		ctx := context.Background()

		for attempt := 1; attempt <= 2; attempt++ {
			err := w.Work(ctx, deliverJob(msg.ID, attempt))
			require.ErrorIs(t, err, errUnreachable, "the error goes back to River, which retries")
			row := reload(t, db, msg.ID)
			require.Equal(t, outboxmessage.StatusPENDING, row.Status)
			require.Equal(t, attempt, row.Attempts)
			require.NotNil(t, row.LastError)
			require.Contains(t, *row.LastError, "connection refused")
			require.Nil(t, row.SentAt)
		}

		require.NoError(t, w.Work(ctx, deliverJob(msg.ID, 3)))
		row := reload(t, db, msg.ID)
		require.Equal(t, outboxmessage.StatusSENT, row.Status)
		require.Equal(t, 3, row.Attempts)
		require.NotNil(t, row.SentAt)

		require.Len(t, sender.sent, 1)
		got := sender.sent[0]
		require.Equal(t, msg.MessageID, got.MessageID, "every attempt carries the stored Message-ID")
		require.Equal(t, testFrom, got.From)
		require.Equal(t, in.To, got.To)
		require.Equal(t, in.Subject, got.Subject)
		require.Equal(t, in.Text, got.Text)
		require.True(t, got.Date.Equal(msg.CreatedAt))

		require.NoError(t, w.Work(ctx, deliverJob(msg.ID, 4)))
		require.Equal(t, 3, sender.Calls(), "a SENT message is not sent again")
	})
}

func TestWorkLastAttemptMarksFailed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sender := &flakySender{fails: 1 << 30}
		w := mail.NewWorker(db.Ent, sender, testFrom, testLogger(t))
		msg, _ := enqueue(t, db, insertClient(t, db), newMessage("signup_confirmation:"+uuid.NewString()))

		err := w.Work(context.Background(), deliverJob(msg.ID, 9))
		require.ErrorIs(t, err, errUnreachable)
		require.Equal(t, outboxmessage.StatusPENDING, reload(t, db, msg.ID).Status)

		err = w.Work(context.Background(), deliverJob(msg.ID, 10))
		require.ErrorIs(t, err, errUnreachable)
		row := reload(t, db, msg.ID)
		require.Equal(t, outboxmessage.StatusFAILED, row.Status)
		require.Equal(t, 2, row.Attempts)
		require.Contains(t, *row.LastError, "connection refused")
		require.Nil(t, row.SentAt)
	})
}

func TestWorkCancelsJobOfMissingMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sender := &flakySender{}
		w := mail.NewWorker(db.Ent, sender, testFrom, nil)
		err := w.Work(context.Background(), deliverJob(uuid.New(), 1))
		var cancel *river.JobCancelError
		require.ErrorAs(t, err, &cancel)
		require.Zero(t, sender.Calls())
	})
}

func TestNextRetryBacksOffExponentially(t *testing.T) {
	t.Parallel()
	want := map[int]time.Duration{
		0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second,
		8: 128 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 30: 5 * time.Minute, 1000: 5 * time.Minute,
	}
	for attempt, d := range want {
		require.Equal(t, d, mail.RetryDelay(attempt), "attempt %d", attempt)
	}
	w := mail.NewWorker(nil, nil, testFrom, nil)
	before := time.Now()
	next := w.NextRetry(deliverJob(uuid.New(), 3))
	require.WithinDuration(t, before.Add(4*time.Second), next, time.Second)
}

func normalizeNewlines(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}
