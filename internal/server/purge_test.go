package server_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestPurgeIsAnOperation: a purge is a PURGE operation whose steps destroy
// the workspace (the silo file too), revoke the keys, delete the mail and
// fire purge with the certificate; asked for twice at once it runs once,
// and asked again after it is a refusal that changes nothing.
func TestPurgeIsAnOperation(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			a := activeTenant(t, srv, "purged-"+string(k), "pro")
			id := a.SignUp.Tenant.ID
			ctx := context.Background()
			sys := tenantd.SystemContext(ctx)
			ws, err := srv.DB().Ent.Workspace.Query().Where(workspace.TenantID(id)).Only(sys)
			require.NoError(t, err)
			srv.MustDo(t, admin, `mutation($id: ID!) { suspendTenant(input: {tenantId: $id}) { tenant { state } } }`, map[string]any{"id": id}, nil)
			m := lifecycle.New(lifecycle.Config{DB: srv.DB()})
			_, err = m.Fire(sys, lifecycle.Request{TenantID: id, Event: tenantd.EventRequestDeletion, Actor: lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "test"}})
			require.NoError(t, err)

			actor := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "test"}
			var wg sync.WaitGroup
			ops := make([]*ent.Operation, 2)
			for i := range ops {
				wg.Add(1)
				go func() {
					defer wg.Done()
					op, err := srv.Purger().Start(sys, id, actor, "erasure request")
					require.NoError(t, err)
					ops[i] = op
				}()
			}
			wg.Wait()
			require.Equal(t, ops[0].ID, ops[1].ID, "one purge, however often it is asked for")
			op, err := srv.Purger().Purge(sys, id, actor, "erasure request")
			require.NoError(t, err)
			require.Equal(t, ops[0].ID, op.ID)
			require.Equal(t, tenantd.OpPurge, op.Kind)
			for _, s := range op.Steps {
				require.Equal(t, tenantd.StepSucceeded, s.Status, s.Name)
			}

			tn, err := srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			require.Equal(t, tenantd.StatePurged, tn.State)
			require.Empty(t, tn.Name)
			require.Nil(t, tn.Email)
			last, err := srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id), statetransition.Seq(tn.HistorySeq)).Only(sys)
			require.NoError(t, err)
			require.Equal(t, tenantd.EventPurge, last.Event)
			cert, _ := last.Metadata["purgeCertificate"].(map[string]any)
			require.Equal(t, op.ID.String(), cert["operation"])
			require.Equal(t, op.Result["certificateSha256"], last.Metadata["certificateSha256"])
			if k == storetest.SQLite {
				_, err := os.Stat(ws.Location)
				require.True(t, os.IsNotExist(err), "the silo file is gone")
			} else {
				var n int
				require.NoError(t, srv.DB().SQL.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, ws.Location).Scan(&n))
				require.Zero(t, n, "the silo schema is gone")
			}
			keys, err := tn.QueryAPIKeys().Where().All(sys)
			require.NoError(t, err)
			for _, key := range keys {
				require.NotNil(t, key.RevokedAt)
			}

			rows, err := srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id)).All(sys)
			require.NoError(t, err)
			for _, r := range rows {
				require.Empty(t, r.Reason, "seq %d: the free text is erased", r.Seq)
			}
			rep, err := lifecycle.Verify(ctx, srv.DB().Ent, nil)
			require.NoError(t, err)
			require.True(t, rep.OK(), "the purged tenant's chain verifies: %v", rep.Break)

			_, err = srv.Purger().Start(sys, id, actor, "again")
			require.Equal(t, tenantd.EINVALIDTRANSITION, tenantd.ErrorCode(err), "a purged tenant is not purged again")
			n, err := srv.DB().Ent.Operation.Query().Count(sys)
			require.NoError(t, err)
			require.Equal(t, 1, n, "the one purge: the tenant's other operations are erased")
		})
	}
}
