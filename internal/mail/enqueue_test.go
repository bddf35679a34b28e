package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

func TestDeliverArgs(t *testing.T) {
	t.Parallel()
	var args mail.DeliverArgs
	require.Equal(t, "mail.deliver", args.Kind())
	opts := args.InsertOpts()
	require.Equal(t, "mail", opts.Queue)
	require.Equal(t, mail.Queue, opts.Queue)
	require.Equal(t, 10, opts.MaxAttempts)
}

func TestEnqueueWritesMessageAndOneJob(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		jobs := insertClient(t, db)
		in := newMessage("signup_confirmation:" + t.Name())

		var msg *ent.OutboxMessage
		require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
			var created bool
			var err error
			msg, created, err = mail.EnqueueTx(ctx, tx, jobs, in)
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, 1, countDeliverJobs(t, tx.SQL), "the job is in the caller's transaction")

			again, created, err := mail.EnqueueTx(ctx, tx, jobs, in)
			require.NoError(t, err)
			require.False(t, created, "same key in the same transaction")
			require.Equal(t, msg.ID, again.ID)
			require.Equal(t, 1, countDeliverJobs(t, tx.SQL))
			return nil
		}))

		row := reload(t, db, msg.ID)
		require.Equal(t, *in.TenantID, *row.TenantID)
		require.Equal(t, in.Kind, row.Kind)
		require.Equal(t, in.DedupeKey, row.DedupeKey)
		require.Equal(t, in.To, row.ToAddress)
		require.Equal(t, in.Subject, row.Subject)
		require.Equal(t, in.Text, row.TextBody)
		require.Equal(t, outboxmessage.StatusPENDING, row.Status)
		require.Zero(t, row.Attempts)
		require.Nil(t, row.SentAt)
		require.Nil(t, row.LastError)
		require.Equal(t, "<"+row.ID.String()+"@tenantd>", row.MessageID)
		require.Regexp(t, regexp.MustCompile(`^<[0-9a-f-]{36}@tenantd>$`), row.MessageID)

		require.Equal(t, 1, countDeliverJobs(t, db.SQL))
		var (
			rawArgs     []byte
			queue       string
			maxAttempts int
		)
		argsText := "json(args)" // riversqlite stores SQLite's binary JSONB
		if db.IsPostgres() {
			argsText = "args::text"
		}
		require.NoError(t, db.SQL.QueryRow(
			"SELECT "+argsText+", queue, max_attempts FROM river_job WHERE kind = 'mail.deliver'").
			Scan(&rawArgs, &queue, &maxAttempts))
		var args mail.DeliverArgs
		require.NoError(t, json.Unmarshal(rawArgs, &args))
		require.Equal(t, msg.ID, args.MessageID)
		require.Equal(t, mail.Queue, queue)
		require.Equal(t, 10, maxAttempts)
	})
}

func TestEnqueueSameKeyWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		jobs := insertClient(t, db)
		in := newMessage("signup_confirmation:dedupe")
		first, created := enqueue(t, db, jobs, in)
		require.True(t, created)

		changed := in
		changed.Subject = "A different subject"
		changed.To = "someone@example.com"
		second, created := enqueue(t, db, jobs, changed)
		require.False(t, created)
		require.Equal(t, first.ID, second.ID)
		require.Equal(t, first.MessageID, second.MessageID, "the Message-ID is generated once")
		require.Equal(t, in.Subject, second.Subject, "the existing message is returned unchanged")
		require.True(t, first.UpdatedAt.Equal(reload(t, db, first.ID).UpdatedAt), "the row was not written")
		require.Equal(t, 1, countMessages(t, db.Ent))
		require.Equal(t, 1, countDeliverJobs(t, db.SQL))

		other, created := enqueue(t, db, jobs, newMessage("signup_confirmation:another"))
		require.True(t, created)
		require.NotEqual(t, first.MessageID, other.MessageID)
		require.Equal(t, 2, countMessages(t, db.Ent))
		require.Equal(t, 2, countDeliverJobs(t, db.SQL))
	})
}

func TestEnqueueConcurrentSameKeyCreatesOne(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		jobs := insertClient(t, db)
		in := newMessage("signup_confirmation:race")
		const n = 4
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			ids     = map[string]bool{}
			errs    []error
		)
		for range n {
			wg.Go(func() {
				err := db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
					msg, c, err := mail.EnqueueTx(ctx, tx, jobs, in)
					if err != nil {
						return err
					}
					mu.Lock()
					defer mu.Unlock()
					if c {
						created++
					}
					ids[msg.ID.String()] = true
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		require.Empty(t, errs)
		require.Equal(t, 1, created)
		require.Len(t, ids, 1)
		require.Equal(t, 1, countMessages(t, db.Ent))
		require.Equal(t, 1, countDeliverJobs(t, db.SQL))
	})
}

func TestEnqueueRolledBackLeavesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		jobs := insertClient(t, db)
		in := newMessage("signup_confirmation:rollback")
		errBoom := errors.New("the business change failed")
		err := db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
			_, created, err := mail.EnqueueTx(ctx, tx, jobs, in)
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, 1, countDeliverJobs(t, tx.SQL))
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		require.Zero(t, countMessages(t, db.Ent))
		require.Zero(t, countDeliverJobs(t, db.SQL))

		// The key is not used up by the rolled-back attempt.
		_, created := enqueue(t, db, jobs, in)
		require.True(t, created)
		require.Equal(t, 1, countDeliverJobs(t, db.SQL))
	})
}

func TestEnqueueRejectsInvalidMessages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		jobs := insertClient(t, db)
		cases := map[string]func(m *mail.NewMessage){
			"no kind":           func(m *mail.NewMessage) { m.Kind = "" },
			"no dedupe key":     func(m *mail.NewMessage) { m.DedupeKey = " " },
			"no recipient":      func(m *mail.NewMessage) { m.To = "" },
			"bad recipient":     func(m *mail.NewMessage) { m.To = "not an address" },
			"multiline subject": func(m *mail.NewMessage) { m.Subject = "Hi\r\nBcc: evil@example.com" },
		}
		for name, mutate := range cases {
			m := newMessage("invalid:" + name)
			mutate(&m)
			err := db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
				_, _, err := mail.EnqueueTx(ctx, tx, jobs, m)
				return err
			})
			require.Error(t, err, name)
			require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err), name)
		}
		require.Zero(t, countMessages(t, db.Ent))
		require.Zero(t, countDeliverJobs(t, db.SQL))
	})
}

// A second transaction enqueueing a key that a first, uncommitted transaction
// has just written waits for it and then returns its message. On PostgreSQL
// the second one (normally, unless it is slower than the first one's pause)
// does not see the row when it looks, so its insert runs into the ON CONFLICT
// DO NOTHING path; on SQLite the second transaction cannot begin before the
// first commits.
func TestEnqueueWaitsForUncommittedSameKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		jobs := insertClient(t, db)
		in := newMessage("signup_confirmation:uncommitted")
		written := make(chan struct{})
		type result struct {
			msg     *ent.OutboxMessage
			created bool
			err     error
		}
		second := make(chan result, 1)
		var first *ent.OutboxMessage
		require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
			var err error
			first, _, err = mail.EnqueueTx(ctx, tx, jobs, in)
			require.NoError(t, err)
			go func() {
				close(written)
				var r result
				r.err = db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
					var err error
					r.msg, r.created, err = mail.EnqueueTx(ctx, tx, jobs, in)
					return err
				})
				second <- r
			}()
			<-written
			time.Sleep(300 * time.Millisecond) // let the second transaction reach its insert
			return nil
		}))
		r := <-second
		require.NoError(t, r.err)
		require.False(t, r.created)
		require.Equal(t, first.ID, r.msg.ID)
		require.Equal(t, 1, countMessages(t, db.Ent))
		require.Equal(t, 1, countDeliverJobs(t, db.SQL))
	})
}

// TestEnqueueManyWritesEachMessageOnce: a batch with a key stored already
// and a key repeated in the batch creates each other message once, with
// one delivery job each, in the caller's transaction; the same batch again
// creates nothing. A bad message refuses the whole batch.
func TestEnqueueManyWritesEachMessageOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		jobs := insertClient(t, db)
		stored := newMessage("winback:stored:" + t.Name())
		enqueue(t, db, jobs, stored)
		batch := []mail.NewMessage{stored, newMessage("winback:a:" + t.Name()), newMessage("winback:b:" + t.Name())}
		batch = append(batch, batch[1]) // repeated
		for round, want := range []int{2, 0} {
			require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
				n, err := mail.EnqueueManyTx(ctx, tx, jobs, batch)
				require.NoError(t, err)
				require.Equal(t, want, n, "round %d", round)
				require.Equal(t, 3, countDeliverJobs(t, tx.SQL), "one job per message, in the caller's transaction")
				return nil
			}))
		}
		require.Equal(t, 3, countMessages(t, db.Ent))
		bad := newMessage("winback:bad:" + t.Name())
		bad.To = ""
		err := db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
			_, err := mail.EnqueueManyTx(ctx, tx, jobs, []mail.NewMessage{newMessage("winback:c:" + t.Name()), bad})
			return err
		})
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		require.Equal(t, 3, countMessages(t, db.Ent), "nothing of a refused batch is written")
	})
}
