package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/billingcall"
	"github.com/tenantd/tenantd/internal/gqlws"
	engine "github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

const moveProgressSubscription = `subscription($id: ID!) {
  operationProgress(id: $id) { status progress { done total phase rows rowsTotal bytes bytesTotal writePauseMs }
    steps { name status detail } error { code message } }
}`

type moveProgressMsg struct {
	OperationProgress struct {
		Status   string
		Progress struct {
			Done, Total                        int
			Phase                              *string
			Rows, RowsTotal, Bytes, BytesTotal *float64
			WritePauseMs                       *float64
		}
		Steps []struct{ Name, Status, Detail string }
		Error *struct{ Code, Message string }
	}
}

// traffic is a tenant's writer (uploads) and reader (searches and lists)
// running over GraphQL until stopped: what a customer does while its plan
// changes.
type traffic struct {
	t       *testing.T
	srv     *servertest.Server
	key     string
	floor   int // the documents a list must always count at least
	stop    chan struct{}
	wg      sync.WaitGroup
	failed  atomic.Int64
	reads   atomic.Int64
	mu      sync.Mutex
	acked   map[uuid.UUID]string // id → content of every acknowledged upload
	errs    []string
	counter atomic.Int64
}

func startTraffic(t *testing.T, srv *servertest.Server, key string, floor int) *traffic {
	tr := &traffic{t: t, srv: srv, key: key, floor: floor, stop: make(chan struct{}), acked: map[uuid.UUID]string{}}
	tr.wg.Add(2)
	go tr.write()
	go tr.read()
	return tr
}

func (tr *traffic) fail(format string, args ...any) {
	tr.failed.Add(1)
	tr.mu.Lock()
	if len(tr.errs) < 10 {
		tr.errs = append(tr.errs, fmt.Sprintf(format, args...))
	}
	tr.mu.Unlock()
}

func (tr *traffic) write() {
	defer tr.wg.Done()
	for {
		select {
		case <-tr.stop:
			return
		default:
		}
		i := tr.counter.Add(1)
		content := fmt.Sprintf("moving words written during the move %d", i)
		r := tr.srv.Do(tr.t, tr.key, uploadMutation, map[string]any{"t": fmt.Sprintf("live %d", i), "c": content})
		if len(r.Errors) > 0 {
			tr.fail("upload %d: %s %s", i, r.Code(), r.Errors[0].Message)
			continue
		}
		var u struct {
			UploadDocument struct{ Document struct{ ID uuid.UUID } }
		}
		r.Decode(tr.t, &u)
		tr.mu.Lock()
		tr.acked[u.UploadDocument.Document.ID] = content
		tr.mu.Unlock()
	}
}

func (tr *traffic) read() {
	defer tr.wg.Done()
	for {
		select {
		case <-tr.stop:
			return
		default:
		}
		r := tr.srv.Do(tr.t, tr.key, `{ searchDocuments(query: "moving", first: 5) { score } documents(first: 5) { totalCount } }`, nil)
		if len(r.Errors) > 0 {
			tr.fail("read: %s %s", r.Code(), r.Errors[0].Message)
			continue
		}
		var d struct {
			SearchDocuments []struct{ Score float64 }
			Documents       struct{ TotalCount int }
		}
		r.Decode(tr.t, &d)
		if d.Documents.TotalCount < tr.floor || len(d.SearchDocuments) == 0 {
			tr.fail("read saw %d documents and %d hits, want at least %d and some", d.Documents.TotalCount, len(d.SearchDocuments), tr.floor)
		}
		tr.reads.Add(1)
	}
}

// end stops the traffic and returns the acknowledged uploads.
func (tr *traffic) end() map[uuid.UUID]string {
	close(tr.stop)
	tr.wg.Wait()
	require.Zero(tr.t, tr.failed.Load(), "failed requests: %v", tr.errs)
	require.NotZero(tr.t, tr.reads.Load(), "the reader read")
	return tr.acked
}

// followMove subscribes to the operation and collects its messages until
// it completes; ready is closed once the subscription is in place.
func followMove(t *testing.T, url, token string, opID uuid.UUID, ready chan<- struct{}) <-chan []moveProgressMsg {
	out := make(chan []moveProgressMsg, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	c, err := gqlws.Dial(ctx, url+"/graphql", gqlws.Options{Token: token})
	require.NoError(t, err)
	sub, err := c.Subscribe(ctx, moveProgressSubscription, map[string]any{"id": opID})
	require.NoError(t, err)
	go func() {
		defer cancel()
		defer c.Close()
		var msgs []moveProgressMsg
		first := true
		for {
			data, err := sub.Next(ctx)
			if first {
				close(ready)
				first = false
			}
			if err != nil {
				if err != io.EOF {
					t.Errorf("operationProgress: %v", err)
				}
				out <- msgs
				return
			}
			var m moveProgressMsg
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("operationProgress message: %v", err)
			}
			msgs = append(msgs, m)
		}
	}()
	return out
}

// documentsAt returns every document of the workspace at p, with content.
func documentsAt(t *testing.T, ws *workspace.Service, p wsdriver.Placement) map[uuid.UUID]*wsdriver.Document {
	t.Helper()
	out := map[uuid.UUID]*wsdriver.Document{}
	require.NoError(t, ws.ViewAt(context.Background(), p, func(ctx context.Context, r wsdriver.Reader) error {
		for after := uuid.Nil; ; {
			docs, err := r.ScanDocuments(ctx, after, 500)
			if err != nil || len(docs) == 0 {
				return err
			}
			for _, d := range docs {
				require.NotContains(t, out, d.ID, "each document once")
				out[d.ID] = d
			}
			after = docs[len(docs)-1].ID
		}
	}))
	return out
}

// TestChangePlanMovesDataOnline moves a tenant's data pool → silo (upgrade
// to pro) and back (downgrade to starter, IMMEDIATE) on each store while a
// writer and a reader run the whole time: no request fails, no read sees
// fewer documents than there were, every acknowledged upload is in the new
// placement exactly once with its content, the old copy is gone, and
// operationProgress streams the phases with the write pause at the switch.
func TestChangePlanMovesDataOnline(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			gate := make(chan chan struct{}, 1)
			srv := servertest.StartWith(t, k, []string{"TENANTD_MOVE_SOURCE_GRACE=0s"}, []server.Option{server.WithOperationHooks(engine.Hooks{
				BeforeStep: func(kind tenantd.OperationKind, step string, _ int) error {
					if kind == tenantd.OpChangePlan && step == "prepare" {
						// Wait for the test's subscription.
						select {
						case ready := <-gate:
							<-ready
						case <-time.After(10 * time.Second):
						}
					}
					return nil
				}})})
			ctx := context.Background()
			sys := tenantd.SystemContext(ctx)
			ws := srv.Workspaces()
			a := activeTenant(t, srv, "mover-"+string(k), "starter")
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
			const preload = 600
			want := map[uuid.UUID]string{}
			for i := range preload {
				content := fmt.Sprintf("moving words before the move %d %s", i, uuid.NewString())
				d, _, err := ws.Upload(sys, id, fmt.Sprintf("doc %d", i), content)
				require.NoError(t, err)
				want[d.ID] = content
			}

			change := func(plan string, to tenantd.Isolation) {
				t.Helper()
				before, err := ws.Placement(ctx, id)
				require.NoError(t, err)
				ready := make(chan struct{})
				gate <- ready
				tr := startTraffic(t, srv, key, len(want))
				var d changePlanAnswer
				srv.MustDo(t, key, changePlanMutation, changePlanInput(id, plan, map[string]any{"effective": "IMMEDIATE"}), &d)
				require.NotNil(t, d.ChangePlan.Operation)
				msgs := followMove(t, srv.URL, servertest.AdminToken, d.ChangePlan.Operation.ID, ready)
				got := <-msgs
				op := finishedOp(t, srv, id, tenantd.OpChangePlan)
				for id, c := range tr.end() {
					want[id] = c
				}
				require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)

				// The progress stream: the move's phases, then DONE with the pause.
				// The hub sends each subscriber the newest state, so a busy
				// machine may skip a phase; the order never goes back.
				order := map[string]int{"COPY": 1, "VERIFY": 2, "CUTOVER": 3, "SWITCHED": 4, "DONE": 5}
				phases, at := map[string]bool{}, 0
				for _, m := range got {
					if p := m.OperationProgress.Progress.Phase; p != nil {
						require.Contains(t, order, *p)
						require.GreaterOrEqual(t, order[*p], at, "phases in order")
						phases[*p], at = true, order[*p]
					}
				}
				require.GreaterOrEqual(t, len(phases), 2, "the move's progress streamed: %v", phases)
				last := got[len(got)-1].OperationProgress
				require.Equal(t, "SUCCEEDED", last.Status)
				require.Equal(t, "DONE", *last.Progress.Phase)
				require.NotNil(t, last.Progress.WritePauseMs, "the write pause is reported")
				require.Equal(t, *last.Progress.RowsTotal, *last.Progress.Rows)
				t.Logf("%s → %s: %d messages, phases %v, writes held %.2f ms, %d uploads during the move",
					before.Isolation, to, len(got), phases, *last.Progress.WritePauseMs, len(want)-preload)

				p, err := ws.Placement(ctx, id)
				require.NoError(t, err)
				require.Equal(t, to, p.Isolation)
				require.Equal(t, before.Generation+1, p.Generation)
				require.Nil(t, p.Target)
				docs := documentsAt(t, ws, p.Placement)
				require.Len(t, docs, len(want), "every acknowledged upload, once, and nothing else")
				for id, content := range want {
					require.Contains(t, docs, id)
					require.Equal(t, content, docs[id].Content)
				}
				u, err := ws.Usage(sys, id)
				require.NoError(t, err)
				require.EqualValues(t, len(want), u.Documents, "the usage counters moved with the data")
				var left int64
				err = ws.ViewAt(ctx, ws.PlacementAt(id, before.Isolation), func(ctx context.Context, r wsdriver.Reader) error {
					c, err := r.Count(ctx)
					left = c.Documents
					return err
				})
				require.True(t, err != nil || left == 0, "the old copy is destroyed (a silo's schema or file is gone, a pool's rows deleted): %v, %d left", err, left)
				var tn struct {
					Tenant struct{ Plan struct{ Key string } }
				}
				srv.MustDo(t, key, fmt.Sprintf(`{ tenant(id: %q) { plan { key } } }`, id), nil, &tn)
				require.Equal(t, plan, tn.Tenant.Plan.Key)
			}
			change("pro", tenantd.IsolationSilo)
			change("starter", tenantd.IsolationPool)
		})
	}
}

// TestMoveVerificationFailure corrupts one row of the target during the
// copy: the operation FAILS naming the table, the row and the difference;
// the tenant stays on its plan and its source, intact; the target is
// removed; nothing was charged.
func TestMoveVerificationFailure(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k, "TENANTD_MOVE_SOURCE_GRACE=0s")
			ctx := context.Background()
			sys := tenantd.SystemContext(ctx)
			ws := srv.Workspaces()
			a := activeTenant(t, srv, "corrupt-"+string(k), "starter")
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
			for i := range 50 {
				_, _, err := ws.Upload(sys, id, fmt.Sprintf("doc %d", i), fmt.Sprintf("verified words %d", i))
				require.NoError(t, err)
			}
			var (
				once      sync.Once
				corrupted uuid.UUID
				target    wsdriver.Placement
			)
			ws.SetMoveHook(func(event string, p wsdriver.Placement) {
				if event != "copied" {
					return
				}
				once.Do(func() {
					target = p
					table := "documents"
					if k == storetest.Postgres {
						table = fmt.Sprintf("%q.documents", p.Location)
					}
					require.NoError(t, ws.WriteAt(ctx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error {
						q := tx.Querier()
						if err := q.QueryRowContext(ctx, "SELECT id FROM "+table+" ORDER BY id LIMIT 1").Scan(&corrupted); err != nil {
							return err
						}
						_, err := q.ExecContext(ctx, "UPDATE "+table+" SET content = 'corrupted' WHERE id = "+map[bool]string{true: "$1", false: "?"}[k == storetest.Postgres], corrupted)
						return err
					}))
				})
			})
			var d changePlanAnswer
			srv.MustDo(t, key, changePlanMutation, changePlanInput(id, "pro", nil), &d)
			op := finishedOp(t, srv, id, tenantd.OpChangePlan)
			require.Equal(t, tenantd.OpFailed, op.Status)
			require.NotNil(t, op.ErrorMessage)
			require.Contains(t, *op.ErrorMessage, "step verify failed")
			require.Contains(t, *op.ErrorMessage, fmt.Sprintf("table documents, row %s", corrupted))
			require.Contains(t, *op.ErrorMessage, "differs from the source")
			require.Equal(t, 1, op.Attempt, "a difference is not retried")

			p, err := ws.Placement(ctx, id)
			require.NoError(t, err)
			require.Equal(t, tenantd.IsolationPool, p.Isolation, "the tenant stays on its source")
			require.Equal(t, 1, p.Generation)
			require.Nil(t, p.Target)
			// An SQLite target's file is removed once the failure has
			// committed (a file is not part of the transaction): wait for
			// it. A PostgreSQL schema is dropped in the transaction.
			require.Eventually(t, func() bool {
				return ws.ViewAt(ctx, target, func(ctx context.Context, r wsdriver.Reader) error {
					_, err := r.Count(ctx)
					return err
				}) != nil
			}, 10*time.Second, 10*time.Millisecond, "the target is removed")
			docs := documentsAt(t, ws, p.Placement)
			require.Len(t, docs, 50)
			require.NotEqual(t, "corrupted", docs[corrupted].Content, "the source is intact")
			var tn struct {
				Tenant struct{ Plan struct{ Key string } }
			}
			srv.MustDo(t, key, fmt.Sprintf(`{ tenant(id: %q) { plan { key } } }`, id), nil, &tn)
			require.Equal(t, "starter", tn.Tenant.Plan.Key)
			n, err := srv.DB().Ent.BillingCall.Query().Where(billingcall.CallEQ(billingcall.CallChangePlan)).Count(sys)
			require.NoError(t, err)
			require.Zero(t, n, "nothing was charged: billing comes after the verification")
			srv.MustDo(t, key, uploadMutation, map[string]any{"t": "after", "c": "still writable"}, nil)
		})
	}
}

// TestMoveSeenByEveryReplica: two replicas on one PostgreSQL, the move run
// by the one with workers; the API-only replica routes its next requests to
// the new placement right after the switch.
func TestMoveSeenByEveryReplica(t *testing.T) {
	t.Parallel()
	url := storetest.NewPostgresDatabase(t)
	a := servertest.StartWith(t, storetest.Postgres, []string{"DATABASE_URL=" + url, "TENANTD_MOVE_SOURCE_GRACE=0s"}, nil)
	b := servertest.StartWith(t, storetest.Postgres, []string{"DATABASE_URL=" + url}, []server.Option{server.WithoutWorkers()})
	ctx := context.Background()
	sys := tenantd.SystemContext(ctx)
	s := activeTenant(t, a, "replicas-move", "starter")
	id, key := s.SignUp.Tenant.ID, s.SignUp.APIKey
	for i := range 20 {
		b.MustDo(t, key, uploadMutation, map[string]any{"t": fmt.Sprintf("doc %d", i), "c": "replica words"}, nil)
	}
	var d changePlanAnswer
	b.MustDo(t, key, changePlanMutation, changePlanInput(id, "pro", nil), &d)
	op := finishedOp(t, a, id, tenantd.OpChangePlan)
	require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)

	var u struct {
		UploadDocument struct{ Document struct{ ID uuid.UUID } }
	}
	b.MustDo(t, key, uploadMutation, map[string]any{"t": "after", "c": "replica words after"}, &u)
	var inSilo int
	require.NoError(t, b.DB().SQL.QueryRowContext(sys, fmt.Sprintf(`SELECT count(*) FROM %q.documents WHERE id = $1`, workspace.SchemaName(id)),
		u.UploadDocument.Document.ID).Scan(&inSilo))
	require.Equal(t, 1, inSilo, "the API-only replica wrote to the silo")
	var page struct {
		Documents struct{ TotalCount int }
	}
	b.MustDo(t, key, `{ documents(first: 1) { totalCount } }`, nil, &page)
	require.Equal(t, 21, page.Documents.TotalCount)
}
