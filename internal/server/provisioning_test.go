package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/keyset"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/provisioning"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

func waitState(t *testing.T, srv *servertest.Server, id uuid.UUID, want tenantd.State) {
	t.Helper()
	sys := tenantd.SystemContext(context.Background())
	require.Eventually(t, func() bool {
		tn, err := srv.DB().Ent.Tenant.Get(sys, id)
		return err == nil && tn.State == want
	}, 30*time.Second, 20*time.Millisecond, "tenant never reached %s", want)
}

// TestProvisioningIsIdempotent is the seed's readiness check 4: running the
// provisioning job of an ACTIVE tenant again, or a duplicate job, creates no
// second schema, key set or email.
func TestProvisioningIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("idem-prov", "pro")}, &a)
			id := a.SignUp.Tenant.ID
			waitState(t, srv, id, tenantd.StateActive)
			sys := tenantd.SystemContext(context.Background())
			snapshot := func() [5]int {
				w, _ := srv.DB().Ent.Workspace.Query().Where(workspace.TenantID(id)).Count(sys)
				ks, _ := srv.DB().Ent.KeySet.Query().Where(keyset.TenantID(id)).Count(sys)
				ob, _ := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id)).Count(sys)
				keys, _ := srv.DB().Ent.APIKey.Query().Where(apikey.TenantID(id)).Count(sys)
				schemas := 0
				if k == storetest.Postgres {
					require.NoError(t, srv.DB().SQL.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'ws_%'`).Scan(&schemas))
				} else {
					entries, _ := os.ReadDir(srv.DataDir() + "/workspaces")
					schemas = len(entries)
				}
				return [5]int{w, ks, ob, keys, schemas}
			}
			before := snapshot()
			require.Equal(t, [5]int{1, 1, 1, 1, 1}, before)

			// Run the job of the finished operation again, through River.
			op, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id)).Only(sys)
			require.NoError(t, err)
			var jobs []int64
			for range 2 {
				require.NoError(t, srv.DB().InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
					res, err := srv.River().InsertTx(ctx, tx.SQL, provisioning.Args{OperationID: op.ID}, nil)
					if err == nil {
						jobs = append(jobs, res.Job.ID)
					}
					return err
				}))
			}
			// And run every step's body again directly, as a resumed attempt would.
			require.NoError(t, srv.Provisioning().RerunSteps(context.Background(), op.ID))
			for _, id := range jobs { // wait until River has run both jobs
				require.Eventually(t, func() bool {
					j, err := srv.River().JobGet(context.Background(), id)
					return err == nil && j.State == rivertype.JobStateCompleted
				}, 30*time.Second, 5*time.Millisecond)
			}
			require.Equal(t, before, snapshot(), "no second workspace, schema, key set, key or email")
			tn, err := srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			require.Equal(t, tenantd.StateActive, tn.State)
			require.Equal(t, 3, tn.HistorySeq, "no extra transitions")
		})
	}
}

// TestTransactionalEnqueue injects a failure after the job insert and before
// commit: neither the tenant nor the job exist afterwards.
func TestTransactionalEnqueue(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			var fail atomic.Bool
			fail.Store(true)
			srv := servertest.StartWith(t, k, nil, []server.Option{server.WithProvisioningHooks(provisioning.Hooks{
				BeforeCommit: func() error {
					if fail.Load() {
						return errors.New("injected failure before commit")
					}
					return nil
				},
			})})
			r := srv.Do(t, "", signUpMutation, map[string]any{"in": signUpInput("rolled-back", "starter")})
			require.Equal(t, "INTERNAL", r.Code())
			sys := tenantd.SystemContext(context.Background())
			n, err := srv.DB().Ent.Tenant.Query().Count(sys)
			require.NoError(t, err)
			require.Zero(t, n, "no tenant")
			var jobs int
			require.NoError(t, srv.DB().SQL.QueryRow(`SELECT count(*) FROM river_job WHERE kind IN ('provision', 'operation')`).Scan(&jobs))
			require.Zero(t, jobs, "no job")
			ops, err := srv.DB().Ent.Operation.Query().Count(sys)
			require.NoError(t, err)
			require.Zero(t, ops, "no operation")

			// The same signup goes through once the fault is gone.
			fail.Store(false)
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("rolled-back", "starter")}, &a)
			waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
		})
	}
}

// TestProvisioningFailureAndRetry fails a step on every attempt: the tenant
// ends PROVISIONING_FAILED naming the step and the reason; retryProvisioning
// resumes at that step and does not redo the ones before.
func TestProvisioningFailureAndRetry(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			var broken atomic.Bool
			broken.Store(true)
			var workspaceRuns atomic.Int32
			srv := servertest.StartWith(t, k, nil, []server.Option{
				server.WithProvisioningMaxAttempts(2),
				server.WithProvisioningHooks(provisioning.Hooks{BeforeStep: func(step string, attempt int) error {
					if step == provisioning.StepCreateWorkspace {
						workspaceRuns.Add(1)
					}
					if step == provisioning.StepIssueKeys && broken.Load() {
						return fmt.Errorf("key service unavailable (attempt %d)", attempt)
					}
					return nil
				}}),
			})
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("flaky", "starter")}, &a)
			id := a.SignUp.Tenant.ID
			waitState(t, srv, id, tenantd.StateProvisioningFailed)

			var d struct {
				Tenant struct {
					State       string
					Transitions struct {
						Edges []struct {
							Node struct{ Event, Reason string }
						}
					}
				}
				Operation struct {
					Status string
					Error  struct{ Code, Message string }
					Steps  []struct{ Name, Status string }
				}
			}
			srv.MustDo(t, admin, `query($t: ID!, $o: ID!) {
				tenant(id: $t) { state transitions(last: 1) { edges { node { event reason } } } }
				operation(id: $o) { status error { code message } steps { name status } } }`,
				map[string]any{"t": id, "o": a.SignUp.Operation.ID}, &d)
			require.Equal(t, "FAILED", d.Operation.Status)
			require.Contains(t, d.Operation.Error.Message, "issue_keys")
			require.Contains(t, d.Operation.Error.Message, "key service unavailable")
			require.Equal(t, "fail", d.Tenant.Transitions.Edges[0].Node.Event)
			require.Contains(t, d.Tenant.Transitions.Edges[0].Node.Reason, "step issue_keys failed")
			require.Equal(t, "SUCCEEDED", d.Operation.Steps[0].Status)
			require.Equal(t, "FAILED", d.Operation.Steps[1].Status)
			require.EqualValues(t, 1, workspaceRuns.Load(), "the workspace step ran once")

			// A tenant key may not retry; an admin may.
			r := srv.Do(t, a.SignUp.APIKey, `mutation($id: ID!) { retryProvisioning(input: {tenantId: $id}) { tenant { state } } }`, map[string]any{"id": id})
			require.Equal(t, "FORBIDDEN", r.Code())
			broken.Store(false)
			var rr struct {
				RetryProvisioning struct {
					Tenant    struct{ State string }
					Operation struct {
						ID     uuid.UUID
						Status string
					}
				}
			}
			srv.MustDo(t, admin, `mutation($id: ID!) { retryProvisioning(input: {tenantId: $id, reason: "key service is back"}) {
				tenant { state } operation { id status } } }`, map[string]any{"id": id}, &rr)
			require.Equal(t, "PROVISIONING", rr.RetryProvisioning.Tenant.State)
			require.Equal(t, a.SignUp.Operation.ID, rr.RetryProvisioning.Operation.ID, "the same operation resumes")
			waitState(t, srv, id, tenantd.StateActive)
			require.EqualValues(t, 1, workspaceRuns.Load(), "the succeeded step was not run again")
			sys := tenantd.SystemContext(context.Background())
			op, err := srv.DB().Ent.Operation.Get(sys, a.SignUp.Operation.ID)
			require.NoError(t, err)
			require.Equal(t, tenantd.OpSucceeded, op.Status)
			require.Nil(t, op.ErrorMessage)
			n, err := srv.DB().Ent.Tenant.Query().Where(tenant.ID(id), tenant.StateEQ(tenantd.StateActive)).Count(sys)
			require.NoError(t, err)
			require.Equal(t, 1, n)

			// Retrying an ACTIVE tenant is an illegal transition.
			r = srv.Do(t, admin, `mutation($id: ID!) { retryProvisioning(input: {tenantId: $id}) { tenant { state } } }`, map[string]any{"id": id})
			require.Equal(t, "INVALID_TRANSITION", r.Code())
		})
	}
}
