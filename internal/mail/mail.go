// Package mail is tenantd's transactional outbox for email.
//
// A capability that wants an email sent calls EnqueueTx inside the
// transaction that makes the email true (a signup, a state change). The
// message row (ent's OutboxMessage) and its River delivery job are written in
// that transaction, so either both commit with the business change or neither
// does: no email about a change that rolled back, no change whose email is
// lost. A DedupeKey makes enqueueing idempotent.
//
// After commit, River runs the Worker, which sends the message through a
// Sender — SMTPSender in production, FileSender (.eml files) in development —
// and marks the row SENT, retrying failures with exponential backoff and
// marking the row FAILED after the job's last attempt.
//
// Delivery is at-least-once. The Worker marks a message SENT with one plain
// UPDATE right after the SMTP server accepted it, but a crash (or a lost
// database) in that short window leaves the row PENDING and River delivers it
// again. Every attempt of a message carries the same Message-ID header,
// generated once when it is enqueued, so a receiver can recognize and drop the
// duplicate.
package mail

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/internal/store"
)

// Queue is the River queue delivery jobs run in. A River client that works
// mail must list it in Config.Queues.
const Queue = "mail"

// DeliverKind is the River job kind of DeliverArgs.
const DeliverKind = "mail.deliver"

// deliverMaxAttempts is how often River tries a delivery before the message
// is marked FAILED. With the Worker's backoff (1s doubling, capped at five
// minutes) ten attempts span about twenty minutes.
const deliverMaxAttempts = 10

// NewMessage is an email to put in the outbox.
type NewMessage struct {
	// TenantID is the tenant the email concerns, if any.
	TenantID *uuid.UUID
	// Kind names the kind of email, e.g. "signup_confirmation".
	Kind string
	// DedupeKey identifies the email: however often a message with the same
	// key is enqueued, one is stored and sent (e.g.
	// "signup_confirmation:<tenant id>").
	DedupeKey string
	// To is the recipient's address (RFC 5322, e.g. "ada@example.com" or
	// "Ada <ada@example.com>").
	To string
	// Subject is the subject line.
	Subject string
	// Text is the plain-text body.
	Text string
}

// JobInserter inserts River jobs in a transaction; *river.Client[*sql.Tx]
// is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// DeliverArgs is the River job that delivers one outbox message.
type DeliverArgs struct {
	// MessageID is the id of the OutboxMessage row (not its Message-ID
	// header).
	MessageID uuid.UUID `json:"message_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return DeliverKind }

// InsertOpts puts delivery jobs in the mail queue with ten attempts.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: deliverMaxAttempts}
}

// EnqueueTx writes the message in the caller's transaction and, if it is new,
// inserts its delivery job in the same transaction, so both commit or roll
// back with the caller's work.
//
// Calling it again with the same DedupeKey — in the same transaction or a
// later one — writes nothing and returns the existing message with
// created=false. Concurrent callers with the same key wait on each other in
// the database (INSERT … ON CONFLICT DO NOTHING); exactly one creates the
// message.
//
// The Message-ID header ("<message uuid@tenantd>") is generated here, once,
// and stored, so every delivery attempt carries the same one.
//
// The returned entity belongs to the transaction's ent client; call Unwrap
// on it to use it after commit. EnqueueTx acts as the system for the outbox
// write (OutboxMessage is system-only); authorizing the caller is the calling
// capability's job.
func EnqueueTx(ctx context.Context, tx *store.Tx, jobs JobInserter, m NewMessage) (msg *ent.OutboxMessage, created bool, err error) {
	if err := m.validate(); err != nil {
		return nil, false, err
	}
	sys := tenantd.SystemContext(ctx)

	existing, err := findByDedupeKey(sys, tx.Ent, m.DedupeKey)
	if err != nil || existing != nil {
		return existing, false, err
	}

	create := m.create(tx.Ent, schema.NewID())
	// ON CONFLICT (dedupe_key) DO NOTHING: a message with the same key
	// committed since the lookup above makes the insert a no-op (and the
	// RETURNING clause return no row) instead of an error that would abort a
	// PostgreSQL transaction.
	create.OnConflict(entsql.ConflictColumns(outboxmessage.FieldDedupeKey), entsql.DoNothing())
	msg, err = create.Save(sys)
	if errors.Is(err, sql.ErrNoRows) {
		existing, err := findByDedupeKey(sys, tx.Ent, m.DedupeKey)
		if err == nil && existing == nil {
			err = fmt.Errorf("outbox message %q: insert conflicted but no row has the key", m.DedupeKey)
		}
		return existing, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("write outbox message %q: %w", m.DedupeKey, err)
	}
	if _, err := jobs.InsertTx(ctx, tx.SQL, DeliverArgs{MessageID: msg.ID}, nil); err != nil {
		return nil, false, fmt.Errorf("insert delivery job for outbox message %s: %w", msg.ID, err)
	}
	return msg, true, nil
}

// create is the outbox row of m with the given id; its Message-ID header
// is made from the id, once, so every delivery attempt carries the same.
func (m NewMessage) create(client *ent.Client, id uuid.UUID) *ent.OutboxMessageCreate {
	return client.OutboxMessage.Create().
		SetID(id).
		SetNillableTenantID(m.TenantID).
		SetKind(m.Kind).
		SetDedupeKey(m.DedupeKey).
		SetMessageID("<" + id.String() + "@tenantd>").
		SetToAddress(m.To).
		SetSubject(m.Subject).
		SetTextBody(m.Text)
}

func findByDedupeKey(ctx context.Context, client *ent.Client, key string) (*ent.OutboxMessage, error) {
	msg, err := client.OutboxMessage.Query().Where(outboxmessage.DedupeKey(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up outbox message %q: %w", key, err)
	}
	return msg, nil
}

func (m NewMessage) validate() error {
	switch {
	case strings.TrimSpace(m.Kind) == "":
		return tenantd.Invalid("kind", "an outbox message needs a kind")
	case strings.TrimSpace(m.DedupeKey) == "":
		return tenantd.Invalid("dedupeKey", "an outbox message needs a dedupe key")
	case strings.TrimSpace(m.To) == "":
		return tenantd.Invalid("to", "an outbox message needs a recipient")
	case strings.ContainsAny(m.Subject, "\r\n"):
		return tenantd.Invalid("subject", "the subject must be a single line")
	}
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return tenantd.Invalid("to", "the recipient is not an email address: %v", err)
	}
	return nil
}

// BatchJobInserter also inserts many River jobs in one round trip;
// *river.Client[*sql.Tx] is one.
type BatchJobInserter interface {
	JobInserter
	InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// EnqueueManyTx is EnqueueTx for many messages at once, with a few round
// trips in all instead of a few per message: one read of the keys already
// stored, one multi-row INSERT … ON CONFLICT (dedupe_key) DO NOTHING, one
// read of what it wrote, and the delivery jobs in one insert when jobs is
// a BatchJobInserter. It returns how many messages it created; a message
// whose key is stored already (or repeated in ms) is created once.
func EnqueueManyTx(ctx context.Context, tx *store.Tx, jobs JobInserter, ms []NewMessage) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	keys := make([]string, len(ms))
	for i, m := range ms {
		if err := m.validate(); err != nil {
			return 0, err
		}
		keys[i] = m.DedupeKey
	}
	sys := tenantd.SystemContext(ctx)
	stored, err := tx.Ent.OutboxMessage.Query().Where(outboxmessage.DedupeKeyIn(keys...)).
		Select(outboxmessage.FieldDedupeKey).Strings(sys)
	if err != nil {
		return 0, fmt.Errorf("look up outbox messages: %w", err)
	}
	seen := make(map[string]bool, len(ms))
	for _, k := range stored {
		seen[k] = true
	}
	var ids []uuid.UUID
	var creates []*ent.OutboxMessageCreate
	for _, m := range ms {
		if seen[m.DedupeKey] {
			continue
		}
		seen[m.DedupeKey] = true
		id := schema.NewID()
		ids = append(ids, id)
		creates = append(creates, m.create(tx.Ent, id))
	}
	if len(creates) == 0 {
		return 0, nil
	}
	// A key committed by another transaction since the read above makes
	// its row a no-op, not an error that would abort the transaction.
	if err := tx.Ent.OutboxMessage.CreateBulk(creates...).
		OnConflict(entsql.ConflictColumns(outboxmessage.FieldDedupeKey), entsql.DoNothing()).Exec(sys); err != nil {
		return 0, fmt.Errorf("write %d outbox messages: %w", len(creates), err)
	}
	created, err := tx.Ent.OutboxMessage.Query().Where(outboxmessage.IDIn(ids...)).IDs(sys)
	if err != nil {
		return 0, fmt.Errorf("read the outbox messages written: %w", err)
	}
	if batch, ok := jobs.(BatchJobInserter); ok {
		params := make([]river.InsertManyParams, len(created))
		for i, id := range created {
			params[i] = river.InsertManyParams{Args: DeliverArgs{MessageID: id}}
		}
		if _, err := batch.InsertManyTx(ctx, tx.SQL, params); err != nil {
			return 0, fmt.Errorf("insert %d delivery jobs: %w", len(params), err)
		}
		return len(created), nil
	}
	for _, id := range created {
		if _, err := jobs.InsertTx(ctx, tx.SQL, DeliverArgs{MessageID: id}, nil); err != nil {
			return 0, fmt.Errorf("insert delivery job for outbox message %s: %w", id, err)
		}
	}
	return len(created), nil
}
