package idempotency

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/idempotencykey"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

type answer struct {
	N int `json:"n"`
}

func TestSameKeySameInputReturnsStoredAnswer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := New(db)
		ctx := context.Background()
		var calls atomic.Int32
		fn := func(context.Context, *Claim) (answer, error) { return answer{N: int(calls.Add(1))}, nil }
		req := Request{Scope: "test", Key: "key-0001", Input: map[string]any{"a": 1}}
		a1, err := Do(ctx, s, req, fn)
		require.NoError(t, err)
		a2, err := Do(ctx, s, req, fn)
		require.NoError(t, err)
		require.Equal(t, a1, a2)
		require.EqualValues(t, 1, calls.Load())

		// Different input, same key.
		_, err = Do(ctx, s, Request{Scope: "test", Key: "key-0001", Input: map[string]any{"a": 2}}, fn)
		require.Equal(t, tenantd.EIDEMPOTENCYMISMATCH, tenantd.ErrorCode(err))
		// Same key under another scope is another key.
		_, err = Do(ctx, s, Request{Scope: "other", Key: "key-0001", Input: map[string]any{"a": 2}}, fn)
		require.NoError(t, err)
		require.EqualValues(t, 2, calls.Load())

		// The client's key is not stored in clear.
		rows, err := db.Ent.IdempotencyKey.Query().All(tenantd.SystemContext(ctx))
		require.NoError(t, err)
		for _, r := range rows {
			require.NotContains(t, r.KeyHash, "key-0001")
			require.NotContains(t, string(r.Response), `"n"`)
		}
	})
}

func TestErrorsAreStoredButInternalErrorsAreNot(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := New(db)
		ctx := context.Background()
		var calls int
		declined := func(context.Context, *Claim) (answer, error) {
			calls++
			return answer{}, &tenantd.Error{Code: tenantd.EPAYMENTDECLINED, Message: "declined", Field: "paymentMethod"}
		}
		req := Request{Scope: "test", Key: "key-declined", Input: "x"}
		_, err := Do(ctx, s, req, declined)
		require.Equal(t, tenantd.EPAYMENTDECLINED, tenantd.ErrorCode(err))
		_, err = Do(ctx, s, req, declined)
		require.Equal(t, tenantd.EPAYMENTDECLINED, tenantd.ErrorCode(err))
		require.Equal(t, "paymentMethod", tenantd.AsError(err).Field)
		require.Equal(t, 1, calls, "a stored error is replayed, not recomputed")

		calls = 0
		flaky := func(context.Context, *Claim) (answer, error) {
			calls++
			if calls == 1 {
				return answer{}, errors.New("database went away")
			}
			return answer{N: 7}, nil
		}
		req = Request{Scope: "test", Key: "key-flaky", Input: "x"}
		_, err = Do(ctx, s, req, flaky)
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))
		a, err := Do(ctx, s, req, flaky)
		require.NoError(t, err, "after an internal error the key is free to retry")
		require.Equal(t, 7, a.N)
	})
}

func TestConcurrentDuplicateIsConflict(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := New(db)
		ctx := context.Background()
		release := make(chan struct{})
		started := make(chan struct{})
		req := Request{Scope: "test", Key: "key-concurrent", Input: "x"}
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := Do(ctx, s, req, func(context.Context, *Claim) (answer, error) {
				close(started)
				<-release
				return answer{N: 1}, nil
			})
			require.NoError(t, err)
		})
		<-started
		var conflicts atomic.Int32
		var inner sync.WaitGroup
		for range 5 {
			inner.Go(func() {
				_, err := Do(ctx, s, req, func(context.Context, *Claim) (answer, error) {
					t.Error("a duplicate ran")
					return answer{}, nil
				})
				if tenantd.ErrorCode(err) == tenantd.ECONFLICT {
					conflicts.Add(1)
				}
			})
		}
		inner.Wait()
		require.EqualValues(t, 5, conflicts.Load())
		close(release)
		wg.Wait()
		a, err := Do(ctx, s, req, func(context.Context, *Claim) (answer, error) { return answer{}, errors.New("must not run") })
		require.NoError(t, err)
		require.Equal(t, 1, a.N)
	})
}

func TestAbandonedKeyIsTakenOverAndCompleteTxIsAtomic(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := clockwork.NewFakeClockAt(time.Now())
		s := New(db).WithClock(clock)
		ctx := context.Background()
		req := Request{Scope: "test", Key: "key-abandoned", Input: "x"}
		// A request that claims the key and "dies" (never completes).
		claim, stored, err := s.claim(ctx, req)
		require.NoError(t, err)
		require.Nil(t, stored)
		_, err = Do(ctx, s, req, func(context.Context, *Claim) (answer, error) { return answer{}, nil })
		require.Equal(t, tenantd.ECONFLICT, tenantd.ErrorCode(err), "still locked")
		clock.Advance(Lock + time.Second) // the dead request's lock runs out

		a, err := Do(ctx, s, req, func(ctx context.Context, c *Claim) (answer, error) {
			res := answer{N: 42}
			return res, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error { return c.CompleteTx(ctx, tx, res) })
		})
		require.NoError(t, err)
		require.Equal(t, 42, a.N)
		// The dead request's claim can no longer complete.
		err = db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error { return claim.CompleteTx(ctx, tx, answer{N: 1}) })
		require.Equal(t, tenantd.ECONFLICT, tenantd.ErrorCode(err))
		row, err := db.Ent.IdempotencyKey.Query().Where(idempotencykey.Scope("test")).Only(tenantd.SystemContext(ctx))
		require.NoError(t, err)
		require.Equal(t, idempotencykey.StatusCOMPLETED, row.Status)
	})
}

func TestKeyValidationAndSweep(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	clock := clockwork.NewFakeClockAt(time.Now())
	s := New(db).WithClock(clock)
	ctx := context.Background()
	_, err := Do(ctx, s, Request{Scope: "t", Key: "short", Input: 1}, func(context.Context, *Claim) (int, error) { return 1, nil })
	require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
	_, err = Do(ctx, s, Request{Scope: "t", Key: "long-enough", Input: 1}, func(context.Context, *Claim) (int, error) { return 1, nil })
	require.NoError(t, err)
	clock.Advance(TTL - time.Minute)
	n, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a key lives its 24 hours")
	clock.Advance(2 * time.Minute)
	n, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
