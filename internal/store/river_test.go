package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

type restArgs struct {
	N         int  `json:"n"`
	FailFirst bool `json:"fail_first"`
}

func (restArgs) Kind() string { return "store_rest_test" }

type restRun struct{ n, attempt int }

type restWorker struct {
	river.WorkerDefaults[restArgs]
	ran chan restRun
}

// NextRetry is sooner than River's scheduler interval (5 s): the job goes
// back to available for later, which only a fetch after that moment finds.
func (w *restWorker) NextRetry(*river.Job[restArgs]) time.Time {
	return time.Now().Add(300 * time.Millisecond)
}

func (w *restWorker) Work(_ context.Context, job *river.Job[restArgs]) error {
	w.ran <- restRun{job.Args.N, job.Attempt}
	if job.Args.FailFirst && job.Attempt == 1 {
		return errors.New("the first attempt fails")
	}
	return nil
}

// TestRiverIsToldOfJobs runs River with a fetch poll of a minute: a job
// inserted in a transaction, each of a quick succession of them (River's own
// insert notice is rate-limited per queue), and a retry due in 300 ms all
// run within seconds, because the store's driver announces them. On SQLite
// River's notices and leadership stay in memory: nothing is written to
// river_notification or river_leader.
func TestRiverIsToldOfJobs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := context.Background()
		w := &restWorker{ran: make(chan restRun, 16)}
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		client, err := river.NewClient(db.RiverDriver(), &river.Config{
			Workers:           workers,
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
			FetchCooldown:     10 * time.Millisecond,
			FetchPollInterval: time.Minute,
			TestOnly:          true,
		})
		require.NoError(t, err)
		require.NoError(t, client.Start(ctx))
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.Stop(stopCtx)
		})

		insert := func(args restArgs) {
			t.Helper()
			require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
				_, err := client.InsertTx(ctx, tx.SQL, args, nil)
				return err
			}))
		}
		expect := func(want ...restRun) {
			t.Helper()
			got := map[restRun]bool{}
			deadline := time.After(5 * time.Second) // far below the minute's poll
			for len(got) < len(want) {
				select {
				case r := <-w.ran:
					got[r] = true
				case <-deadline:
					t.Fatalf("ran %v within 5 s, want %v: River was not told", got, want)
				}
			}
			for _, r := range want {
				require.True(t, got[r], "ran %v, want %v", got, want)
			}
		}

		// River fetches once at start; a job inserted afterwards is announced.
		insert(restArgs{N: 1})
		expect(restRun{1, 1})
		for n := 2; n <= 6; n++ {
			insert(restArgs{N: n})
		}
		expect(restRun{2, 1}, restRun{3, 1}, restRun{4, 1}, restRun{5, 1}, restRun{6, 1})
		insert(restArgs{N: 7, FailFirst: true})
		expect(restRun{7, 1}, restRun{7, 2})

		if !db.IsPostgres() {
			var notices, leaders int
			require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FROM river_notification`).Scan(&notices))
			require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FROM river_leader`).Scan(&leaders))
			require.Zero(t, notices, "SQLite: River's notices travel in memory")
			require.Zero(t, leaders, "SQLite: River's leadership is kept in memory")
		}
	})
}
