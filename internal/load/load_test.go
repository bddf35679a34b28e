package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/load"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestLoadTool runs both load drivers briefly against a real server and
// checks that what they report adds up.
func TestLoadTool(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	ctx := context.Background()
	rep, err := load.Signups(ctx, load.SignupConfig{URL: srv.URL, Rate: 10, Duration: time.Second, Plan: "pro"})
	require.NoError(t, err)
	require.Equal(t, 10, rep.Started)
	require.Equal(t, 10, rep.Active, "errors: %v", rep.Errors)
	require.Equal(t, 10, rep.ToActive.N)
	require.LessOrEqual(t, rep.ToActive.P50, rep.ToActive.P99)
	require.Contains(t, rep.String(), "signup → ACTIVE")

	srep, err := load.Subscriptions(ctx, load.SubscriptionConfig{
		URL: srv.URL, Token: servertest.AdminToken, Subscriptions: 60, PerConnection: 25, Tenants: 3,
		Events: 6, EventInterval: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	require.Equal(t, 3, srep.Connections)
	require.Equal(t, 6*20, srep.Expected)
	require.Equal(t, srep.Expected, srep.Delivered, "every subscriber gets every event of its tenant")
	require.Positive(t, srep.HeapAfter)

	// With the admin token the load tenants are synthetic: out of the
	// tenant list, in where: {synthetic: true}. The run without a token
	// signed up real ones.
	rep, err = load.Signups(ctx, load.SignupConfig{URL: srv.URL, Rate: 5, Duration: time.Second, Plan: "free", Token: servertest.AdminToken})
	require.NoError(t, err)
	require.Equal(t, 5, rep.Active, "errors: %v", rep.Errors)
	var lists struct {
		Real, Synthetic struct{ TotalCount int }
	}
	srv.MustDo(t, servertest.AdminToken, `{ real: tenants { totalCount } synthetic: tenants(where: {synthetic: true}) { totalCount } }`, nil, &lists)
	require.Equal(t, 10, lists.Real.TotalCount)
	require.Equal(t, 5+3, lists.Synthetic.TotalCount, "the token run's signups and the subscription run's tenants")
}
