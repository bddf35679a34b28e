package operation_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

var sys = tenantd.SystemContext(context.Background())

// bundle is a database with an engine, a lifecycle machine and a tenant.
type bundle struct {
	db      *store.DB
	engine  *operation.Engine
	machine *lifecycle.Machine
	tenant  uuid.UUID
	client  *river.Client[*sql.Tx]
}

// setup returns a bundle over db whose engine knows kinds; start runs
// River over it.
func setup(t *testing.T, db *store.DB, kinds ...operation.Kind) *bundle {
	t.Helper()
	b := &bundle{db: db}
	b.engine = operation.New(operation.Config{DB: db, Events: events.NewPublisher(events.NewHub())})
	for _, kind := range kinds {
		b.engine.Add(kind)
	}
	workers := river.NewWorkers()
	b.engine.Register(workers)
	client, err := river.NewClient(db.RiverDriver(), &river.Config{
		Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond, JobTimeout: 10 * time.Second,
	})
	require.NoError(t, err)
	b.client = client
	b.engine.SetJobs(client)
	b.machine = lifecycle.New(lifecycle.Config{DB: db, Operations: b.engine})
	b.tenant = newTenant(t, db, b.machine)
	return b
}

func (b *bundle) start(t *testing.T) {
	t.Helper()
	require.NoError(t, b.client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.client.Stop(ctx)
	})
}

func newTenant(t *testing.T, db *store.DB, m *lifecycle.Machine) uuid.UUID {
	t.Helper()
	slug := "op-" + uuid.NewString()[:8]
	sum := sha256.Sum256([]byte(slug))
	var id uuid.UUID
	require.NoError(t, db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
		res, err := m.CreateTx(ctx, tx, lifecycle.NewTenant{Name: "Op", Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
			PlanID: plans.ID(plans.Starter), Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"}})
		if err == nil {
			id = res.Tenant.ID
		}
		return err
	}))
	return id
}

// begin starts an operation of kind on the bundle's tenant.
func (b *bundle) begin(t *testing.T, kind tenantd.OperationKind) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, b.db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
		op, err := b.engine.StartTx(ctx, tx, b.tenant, operation.Spec{Kind: kind, RequestedBy: "test"})
		if err == nil {
			id = op.ID
		}
		return err
	}))
	return id
}

func (b *bundle) waitDone(t *testing.T, id uuid.UUID) *ent.Operation {
	t.Helper()
	var op *ent.Operation
	require.Eventually(t, func() bool {
		var err error
		op, err = b.db.Ent.Operation.Get(sys, id)
		return err == nil && op.Status.Done()
	}, 30*time.Second, 5*time.Millisecond, "the operation never finished")
	return op
}

// Steps resume at the first unfinished one: a step that fails is run again
// on the next attempt, the ones before it are not, and a Do step's key is
// the same on every attempt.
func TestResumesAtTheFirstUnfinishedStep(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var ran [3]atomic.Int32
		var keys []string
		fails := atomic.Int32{}
		kind := operation.Kind{Name: tenantd.OpExport, MaxAttempts: 3, Backoff: func(int) time.Duration { return time.Millisecond },
			Steps: []operation.Step{
				{Name: "one", Tx: func(ctx context.Context, tx *store.Tx, r *operation.Run) (string, error) {
					ran[0].Add(1)
					return "1", nil
				}},
				{Name: "two", Do: func(ctx context.Context, r *operation.Run) (string, error) {
					ran[1].Add(1)
					keys = append(keys, r.Key())
					if fails.Add(1) == 1 {
						return "", errors.New("the other system is down")
					}
					return "2", nil
				}},
				{Name: "three", Tx: func(ctx context.Context, tx *store.Tx, r *operation.Run) (string, error) {
					ran[2].Add(1)
					return "3", nil
				}},
			}}
		b := setup(t, db, kind)
		b.start(t)
		op := b.waitDone(t, b.begin(t, tenantd.OpExport))
		require.Equal(t, tenantd.OpSucceeded, op.Status)
		require.Equal(t, 2, op.Attempt)
		require.Equal(t, []int32{1, 2, 1}, []int32{ran[0].Load(), ran[1].Load(), ran[2].Load()}, "step one is not run again")
		require.Len(t, keys, 2)
		require.Equal(t, keys[0], keys[1], "the same idempotency key on every attempt")
		require.Equal(t, 3, op.ProgressDone)
		for _, s := range op.Steps {
			require.Equal(t, tenantd.StepSucceeded, s.Status)
		}
	})
}

// A kind without OnFail fails alone: the operation is FAILED with the
// error's code and message, the tenant's state and history are untouched.
func TestFailureOfAKindLeavesTheTenantAlone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		kind := operation.Kind{Name: tenantd.OpExport, MaxAttempts: 2, Backoff: func(int) time.Duration { return time.Millisecond },
			Steps: []operation.Step{{Name: "only", Tx: func(ctx context.Context, tx *store.Tx, r *operation.Run) (string, error) {
				return "", tenantd.Invalid("format", "the format CSV cannot hold this")
			}}}}
		b := setup(t, db, kind)
		before, err := b.db.Ent.Tenant.Get(sys, b.tenant)
		require.NoError(t, err)
		b.start(t)
		op := b.waitDone(t, b.begin(t, tenantd.OpExport))
		require.Equal(t, tenantd.OpFailed, op.Status)
		require.Equal(t, tenantd.EINVALID, *op.ErrorCode)
		require.Equal(t, "step only failed: the format CSV cannot hold this", *op.ErrorMessage)
		require.Equal(t, tenantd.StepFailed, op.Steps[0].Status)
		after, err := b.db.Ent.Tenant.Get(sys, b.tenant)
		require.NoError(t, err)
		require.Equal(t, before.State, after.State)
		require.Equal(t, before.HistorySeq, after.HistorySeq, "no transition")
	})
}

// River runs each kind's job with the kind's own timeout, not the global
// one (10 s here).
func TestKindTimeoutIsHonoured(t *testing.T) {
	t.Parallel()
	started := time.Now()
	kind := operation.Kind{Name: tenantd.OpExport, MaxAttempts: 1, Timeout: 200 * time.Millisecond,
		Steps: []operation.Step{{Name: "slow", Do: func(ctx context.Context, r *operation.Run) (string, error) {
			<-ctx.Done() // a step that would run for ever
			return "", ctx.Err()
		}}}}
	b := setup(t, storetest.New(t, storetest.SQLite), kind)
	b.start(t)
	op := b.waitDone(t, b.begin(t, tenantd.OpExport))
	require.Equal(t, tenantd.OpFailed, op.Status)
	require.Contains(t, *op.ErrorMessage, "deadline exceeded")
	require.Less(t, time.Since(started), 10*time.Second, "cut at the kind's timeout, before River's global one")
	require.Equal(t, 200*time.Millisecond, b.engine.MaxTimeout())
}

// A registration mistake is a panic at wiring, not a surprise at run time.
func TestRegisterRefusesMalformedKinds(t *testing.T) {
	e := operation.New(operation.Config{})
	require.Panics(t, func() { e.Add(operation.Kind{Name: tenantd.OpExport}) }, "no steps")
	require.Panics(t, func() { e.Add(operation.Kind{Name: tenantd.OpExport, Steps: []operation.Step{{Name: "x"}}}) }, "neither Tx nor Do")
	ok := operation.Kind{Name: tenantd.OpExport, Steps: []operation.Step{{Name: "x", Do: func(context.Context, *operation.Run) (string, error) { return "", nil }}}}
	e.Add(ok)
	require.Panics(t, func() { e.Add(ok) }, "twice")
	require.True(t, strings.HasPrefix(string(tenantd.OpExport), "EXPORT"))
}
