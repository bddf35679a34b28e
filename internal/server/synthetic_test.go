package server_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const syntheticFiguresQuery = `query($inc: Boolean) {
  tenants(first: 50) { totalCount edges { node { id synthetic } } }
  syntheticTenants: tenants(first: 50, where: {synthetic: true}) { totalCount edges { node { id synthetic } } }
  tenantStateCounts(includeSynthetic: $inc) { total states { state count } }
  activationFunnel(dropOffLimit: 50, includeSynthetic: $inc) { steps { name count } dropOff { step count tenants { tenant { id } } } }
  provisioningDurations(includeSynthetic: $inc) { count }
}`

type syntheticFigures struct {
	Tenants, SyntheticTenants struct {
		TotalCount int
		Edges      []struct {
			Node struct {
				ID        uuid.UUID
				Synthetic bool
			}
		}
	}
	TenantStateCounts struct {
		Total  int
		States []struct {
			State string
			Count int
		}
	}
	ActivationFunnel struct {
		Steps []struct {
			Name  string
			Count int
		}
		DropOff []struct {
			Step    string
			Count   int
			Tenants []struct{ Tenant struct{ ID uuid.UUID } }
		}
	}
	ProvisioningDurations struct{ Count int }
}

func (a syntheticFigures) state(s tenantd.State) int {
	for _, st := range a.TenantStateCounts.States {
		if st.State == string(s) {
			return st.Count
		}
	}
	return -1
}

// TestSyntheticTenantsLeftOutOfFigures: a load test's tenant (signUp
// synthetic: true with the admin token) and a readiness check's tombstone
// stay out of the tenant list, the state counts, the funnel and its
// drop-off lists, and the provisioning durations; the filters show them.
// Only an admin token may mark a signup synthetic.
func TestSyntheticTenantsLeftOutOfFigures(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			real := activate(t, srv, "real-"+string(k))

			// Not for anonymous callers nor tenant keys.
			in := signUpInput("sneaky-"+string(k), "free")
			in["synthetic"] = true
			r := srv.Do(t, "", signUpMutation, map[string]any{"in": in})
			require.Equal(t, "FORBIDDEN", r.Code())
			var own signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("owner-"+string(k), "free")}, &own)
			waitState(t, srv, own.SignUp.Tenant.ID, tenantd.StateActive)
			require.Equal(t, "FORBIDDEN", srv.Do(t, own.SignUp.APIKey, signUpMutation, map[string]any{"in": in}).Code())

			// A load test's tenant: ACTIVE, so it would be stuck at
			// PROVISIONED in the drop-off list.
			load := signUpInput("load-"+string(k), "starter")
			load["synthetic"] = true
			var l signUpAnswer
			srv.MustDo(t, admin, signUpMutation, map[string]any{"in": load}, &l)
			waitState(t, srv, l.SignUp.Tenant.ID, tenantd.StateActive)
			// A readiness run leaves a purged synthetic tenant.
			var c checksAnswer
			srv.MustDo(t, admin, runChecks, nil, &c)

			var def syntheticFigures
			srv.MustDo(t, admin, syntheticFiguresQuery, nil, &def)
			require.Equal(t, 2, def.Tenants.TotalCount, "the real tenants only")
			ids := map[uuid.UUID]bool{}
			for _, e := range def.Tenants.Edges {
				require.False(t, e.Node.Synthetic)
				ids[e.Node.ID] = true
			}
			require.True(t, ids[real])
			require.True(t, ids[own.SignUp.Tenant.ID])
			require.Equal(t, 2, def.SyntheticTenants.TotalCount, "where: {synthetic: true} lists the load tenant and the tombstone")
			for _, e := range def.SyntheticTenants.Edges {
				require.True(t, e.Node.Synthetic)
			}
			require.Equal(t, 2, def.TenantStateCounts.Total)
			require.Equal(t, 2, def.state(tenantd.StateActive))
			require.Equal(t, 0, def.state(tenantd.StatePurged), "the readiness tombstone is not counted")
			require.Equal(t, 2, def.ActivationFunnel.Steps[0].Count)
			for _, d := range def.ActivationFunnel.DropOff {
				for _, tn := range d.Tenants {
					require.NotEqual(t, l.SignUp.Tenant.ID, tn.Tenant.ID, "the load tenant is in no drop-off list")
				}
			}
			require.Equal(t, 1, def.ActivationFunnel.DropOff[1].Count, "the tenant that never uploaded, not the load tenant")
			require.Equal(t, 2, def.ProvisioningDurations.Count)

			// The load tenant's own key lists its own tenant.
			var mine struct{ Tenants struct{ TotalCount int } }
			srv.MustDo(t, l.SignUp.APIKey, `{ tenants { totalCount } }`, nil, &mine)
			require.Equal(t, 1, mine.Tenants.TotalCount)

			var all syntheticFigures
			srv.MustDo(t, admin, syntheticFiguresQuery, map[string]any{"inc": true}, &all)
			require.Equal(t, 4, all.TenantStateCounts.Total)
			require.Equal(t, 3, all.state(tenantd.StateActive), "%+v", all.TenantStateCounts.States)
			require.Equal(t, 1, all.state(tenantd.StatePurged))
			require.Equal(t, 3, all.ProvisioningDurations.Count, "the purge took the tombstone's operations")
			require.Equal(t, 4, all.ActivationFunnel.Steps[0].Count, "the funnel with the load tenant and the readiness tenant")
			listed := false
			for _, tn := range all.ActivationFunnel.DropOff[1].Tenants {
				listed = listed || tn.Tenant.ID == l.SignUp.Tenant.ID
			}
			require.True(t, listed, "the load tenant is stuck at PROVISIONED")
		})
	}
}
