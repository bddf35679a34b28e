package workspace_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// move moves the tenant's workspace to the isolation to with the phases a
// move operation is made of (move.go): begin, copy in batches, catch up,
// verify, catch up, switch. during, if set, runs between the copy and the
// verification. It returns the placement moved from.
func move(t *testing.T, db *store.DB, ws *workspace.Service, id uuid.UUID, to tenantd.Isolation, during func()) wsdriver.Placement {
	t.Helper()
	ctx := context.Background()
	p, err := ws.BeginMove(ctx, id, to)
	require.NoError(t, err)
	require.NotNil(t, p.Target)
	require.Equal(t, to, p.Target.Isolation)
	for cur := (workspace.MoveCursor{}); !cur.Done; {
		cur, _, err = ws.CopyBatch(ctx, p, cur)
		require.NoError(t, err)
	}
	if during != nil {
		during()
	}
	for cur := (workspace.MoveCursor{}); !cur.Done; {
		cur, _, err = ws.VerifyBatch(ctx, p, cur)
		require.NoError(t, err)
	}
	require.NoError(t, ws.CatchUpAll(ctx, p))
	res, err := ws.Switch(ctx, id, p.Generation, nil)
	require.NoError(t, err)
	require.Equal(t, p.Placement, res.From)
	return res.From
}

// count counts the documents of the workspace at p.
func count(t *testing.T, ws *workspace.Service, p wsdriver.Placement) int64 {
	t.Helper()
	var n int64
	require.NoError(t, ws.ViewAt(context.Background(), p, func(ctx context.Context, r wsdriver.Reader) error {
		c, err := r.Count(ctx)
		n = c.Documents
		return err
	}))
	return n
}

// TestMoveFollowsPlacement moves a tenant's workspace from pool to silo and
// back on each store, with writes during the copy, and checks that a
// second Service on the same database — another replica — routes its very
// next request by the new placement: no process believes workspaces never
// move.
func TestMoveFollowsPlacement(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := setup(t, db)
		replica := workspace.New(db, workspace.Config{DataDir: b.dataDir})
		t.Cleanup(func() { replica.Close() })
		id := b.tenant(t, plans.Starter)
		for i := range 3 {
			_, _, err := b.ws.Upload(ctx, id, fmt.Sprintf("doc %d", i), fmt.Sprintf("moving words %d", i))
			require.NoError(t, err)
		}
		_, err := replica.Search(ctx, id, "moving", 10)
		require.NoError(t, err)

		p, err := replica.Placement(ctx, id)
		require.NoError(t, err)
		require.Equal(t, tenantd.IsolationPool, p.Isolation)
		require.Equal(t, 1, p.Generation)

		from := move(t, db, b.ws, id, tenantd.IsolationSilo, func() {
			// A write during the copy goes to the source; the cutover
			// catches it up.
			_, _, err := replica.Upload(ctx, id, "during the copy", "moving words late")
			require.NoError(t, err)
		})
		p, err = replica.Placement(ctx, id)
		require.NoError(t, err)
		require.Equal(t, tenantd.IsolationSilo, p.Isolation)
		require.Equal(t, 2, p.Generation)
		require.Nil(t, p.Target)

		// The replica's next requests use the silo.
		doc, _, err := replica.Upload(ctx, id, "after the switch", "moving words new")
		require.NoError(t, err)
		require.EqualValues(t, 5, count(t, b.ws, p.Placement), "the new document is in the target")
		require.EqualValues(t, 4, count(t, b.ws, from), "and not in the source")
		got, err := replica.Get(ctx, id, doc.ID)
		require.NoError(t, err)
		require.Equal(t, "moving words new", got.Content)
		hits, err := replica.Search(ctx, id, "moving", 10)
		require.NoError(t, err)
		require.Len(t, hits, 5)
		u, err := b.ws.Usage(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 5, u.Documents)
		require.EqualValues(t, 2, u.QueriesThisMonth, "the counters moved with the data")
		page, err := replica.Documents(ctx, id, workspace.Page{})
		require.NoError(t, err)
		require.EqualValues(t, 5, page.TotalCount)

		// The source is destroyed once nobody reads it; then back to pool.
		var cleanup func() error
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			var err error
			_, cleanup, err = b.ws.DestroyAtTx(ctx, tx, from)
			return err
		}))
		require.NoError(t, cleanup())
		require.EqualValues(t, 5, count(t, b.ws, p.Placement))

		silo := move(t, db, replica, id, tenantd.IsolationPool, nil)
		p, err = b.ws.Placement(ctx, id)
		require.NoError(t, err)
		require.Equal(t, tenantd.IsolationPool, p.Isolation)
		require.Equal(t, 3, p.Generation)
		_, _, err = b.ws.Upload(ctx, id, "back in the pool", "moving words home")
		require.NoError(t, err)
		require.EqualValues(t, 6, count(t, b.ws, p.Placement))
		require.EqualValues(t, 5, count(t, b.ws, silo))
		hits, err = b.ws.Search(ctx, id, "moving", 10)
		require.NoError(t, err)
		require.Len(t, hits, 6)
	})
}

// TestCutoverHoldsWrites starts an upload while a cutover holds the gate:
// it passes the gate only after the switch and lands in the target.
func TestCutoverHoldsWrites(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := setup(t, db)
		replica := workspace.New(db, workspace.Config{DataDir: b.dataDir})
		t.Cleanup(func() { replica.Close() })
		id := b.tenant(t, plans.Starter)
		_, _, err := b.ws.Upload(ctx, id, "first", "gate words")
		require.NoError(t, err)

		var (
			mu     sync.Mutex
			events []string
		)
		arrived := make(chan struct{}, 1)
		replica.SetGateHook(func(tenantID uuid.UUID, event string) {
			if tenantID != id {
				return
			}
			mu.Lock()
			events = append(events, event)
			mu.Unlock()
			if event == "arrive" {
				arrived <- struct{}{}
			}
		})
		type result struct {
			doc *workspace.Document
			err error
		}
		done := make(chan result, 1)
		var begun *workspace.Placement
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			begun, err = b.ws.BeginMoveTx(ctx, tx, id, tenantd.IsolationSilo)
			return err
		}))
		again, err := b.ws.Placement(ctx, id)
		require.NoError(t, err)
		require.Equal(t, begun.Target, again.Target, "the move is recorded")
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			p, err := b.ws.BeginMoveTx(ctx, tx, id, tenantd.IsolationSilo)
			require.Equal(t, begun, p, "beginning again returns the move under way")
			return err
		}))

		err = b.ws.Cutover(ctx, id, func(ctx context.Context, tx *store.Tx, cur *workspace.Placement) error {
			go func() {
				d, _, err := replica.Upload(ctx, id, "held", "gate words held")
				done <- result{d, err}
			}()
			<-arrived
			// Copy, with the write waiting at the gate.
			var docs []*wsdriver.Document
			var usage wsdriver.Counters
			if err := b.ws.ViewAt(ctx, cur.Placement, func(ctx context.Context, r wsdriver.Reader) error {
				var err error
				if docs, err = r.ScanDocuments(ctx, uuid.Nil, 100); err != nil {
					return err
				}
				usage, err = r.Usage(ctx)
				return err
			}); err != nil {
				return err
			}
			if err := b.ws.WriteAt(ctx, tx, *cur.Target, func(ctx context.Context, w wsdriver.Tx) error {
				if err := w.WriteBatch(ctx, wsdriver.Batch{Documents: docs}); err != nil {
					return err
				}
				return w.SetUsage(ctx, usage)
			}); err != nil {
				return err
			}
			if _, err := b.ws.SwitchTx(ctx, tx, id, cur.Generation); err != nil {
				return err
			}
			mu.Lock()
			events = append(events, "switched")
			mu.Unlock()
			return nil
		})
		require.NoError(t, err)
		r := <-done
		require.NoError(t, r.err)
		mu.Lock()
		require.Equal(t, []string{"arrive", "switched", "pass"}, events, "the write passed the gate after the switch")
		mu.Unlock()
		require.EqualValues(t, 2, count(t, b.ws, *begun.Target), "the held write is in the target")
		require.EqualValues(t, 1, count(t, b.ws, begun.Placement), "not in the source")
		got, err := b.ws.Get(ctx, id, r.doc.ID)
		require.NoError(t, err)
		require.Equal(t, "held", got.Title)

		// A switch needs a move under way at the generation it began at.
		err = b.ws.Cutover(ctx, id, func(ctx context.Context, tx *store.Tx, cur *workspace.Placement) error {
			_, err := b.ws.SwitchTx(ctx, tx, id, cur.Generation)
			return err
		})
		require.Equal(t, tenantd.ECONFLICT, tenantd.ErrorCode(err))
	})
}

// TestAbandonedMove begins a move and abandons it: the target is destroyed,
// the placement is as it was, and requests never left the source.
func TestAbandonedMove(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := setup(t, db)
		id := b.tenant(t, plans.Pro)
		_, _, err := b.ws.Upload(ctx, id, "stays", "in the silo")
		require.NoError(t, err)
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := b.ws.BeginMoveTx(ctx, tx, id, tenantd.IsolationSilo)
			require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err), "it is a silo already")
			_, err = b.ws.BeginMoveTx(ctx, tx, id, tenantd.IsolationPool)
			return err
		}))
		_, _, err = b.ws.Upload(ctx, id, "during", "the move that will not be")
		require.NoError(t, err)
		var cleanup func() error
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			var err error
			_, cleanup, err = b.ws.AbandonMoveTx(ctx, tx, id)
			return err
		}))
		require.NoError(t, cleanup())
		p, err := b.ws.Placement(ctx, id)
		require.NoError(t, err)
		require.Equal(t, tenantd.IsolationSilo, p.Isolation)
		require.Equal(t, 1, p.Generation)
		require.Nil(t, p.Target)
		u, err := b.ws.Usage(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 2, u.Documents)
		require.EqualValues(t, 2, count(t, b.ws, p.Placement))
	})
}

// TestReadOvertakenBySwitch switches a pool tenant to a silo and empties
// the pool's copy in the middle of a search, after the search read its
// placement — what a source grace of zero, or a read slower than the
// grace, allows. A pool's copy is emptied by deleting rows, so the search
// would find nothing and no error: the read sees that the placement moved
// under it and reads again at the new one.
func TestReadOvertakenBySwitch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := setup(t, db)
		id := b.tenant(t, plans.Starter)
		for i := range 3 {
			_, _, err := b.ws.Upload(ctx, id, fmt.Sprintf("doc %d", i), fmt.Sprintf("overtaken words %d", i))
			require.NoError(t, err)
		}
		m, err := b.ws.BeginMove(ctx, id, tenantd.IsolationSilo)
		require.NoError(t, err)
		for _, phase := range []func(context.Context, *workspace.Placement, workspace.MoveCursor) (workspace.MoveCursor, workspace.MoveStats, error){b.ws.CopyBatch, b.ws.VerifyBatch} {
			for cur := (workspace.MoveCursor{}); !cur.Done; {
				cur, _, err = phase(ctx, m, cur)
				require.NoError(t, err)
			}
		}
		require.NoError(t, b.ws.CatchUpAll(ctx, m))

		// Another replica does the switch and the destruction, so that
		// this Service's hook is the only thing that knows of it.
		mover := workspace.New(db, workspace.Config{DataDir: b.dataDir})
		t.Cleanup(func() { mover.Close() })
		var switched sync.Once
		reads := 0
		b.ws.SetSearchReadHook(func(ctx context.Context, _ uuid.UUID, _ workspace.Querier) error {
			reads++
			switched.Do(func() {
				res, err := mover.Switch(context.Background(), id, m.Generation, nil)
				require.NoError(t, err)
				require.Equal(t, tenantd.IsolationPool, res.From.Isolation)
				var cleanup func() error
				require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
					var err error
					_, cleanup, err = mover.DestroyAtTx(ctx, tx, res.From)
					return err
				}))
				require.NoError(t, cleanup())
				require.Zero(t, count(t, mover, res.From), "the pool's copy is empty")
			})
			return nil
		})
		hits, err := b.ws.Search(ctx, id, "overtaken", 10)
		require.NoError(t, err)
		require.Len(t, hits, 3, "every document found, at the new placement")
		require.Equal(t, 2, reads, "read once at the old placement, once at the new")
		p, err := b.ws.Placement(ctx, id)
		require.NoError(t, err)
		require.Equal(t, tenantd.IsolationSilo, p.Isolation)
	})
}
