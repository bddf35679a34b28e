package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestRulesReadTheInjectedClock runs a month of one server's time in
// milliseconds: transitions are stamped by the injected clock, and the
// sweeps, scheduled on it by gocron, expire an idempotency key after its
// 24 hours — and not before — as the fake clock is advanced, day by day,
// across 30 days.
func TestRulesReadTheInjectedClock(t *testing.T) {
	t.Parallel()
	start := time.Now().UTC().Truncate(time.Second)
	clock := clockwork.NewFakeClockAt(start)
	srv := servertest.StartWith(t, storetest.SQLite, []string{"TENANTD_SWEEP_INTERVAL=1h"}, []server.Option{server.WithClock(clock)})
	ctx := context.Background()
	sys := tenantd.SystemContext(ctx)

	a := activeTenant(t, srv, "clocked", "free")
	key := "suspend-" + a.SignUp.Tenant.ID.String()
	suspend := fmt.Sprintf(`mutation { suspendTenant(input: {tenantId: "%s", idempotencyKey: "%s"}) { transition { occurredAt } } }`, a.SignUp.Tenant.ID, key)
	var d struct {
		SuspendTenant struct {
			Transition struct{ OccurredAt time.Time }
		}
	}
	srv.MustDo(t, admin, suspend, nil, &d)
	require.Equal(t, start, d.SuspendTenant.Transition.OccurredAt.UTC(), "stamped by the injected clock")
	keys := func() int {
		n, err := srv.DB().Ent.IdempotencyKey.Query().Count(sys)
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 2, keys(), "the signup's key and the suspension's")

	for day := 1; day <= 30; day++ {
		// Wait for the scheduler to be waiting on the clock, then move a day.
		require.NoError(t, clock.BlockUntilContext(ctx, 1))
		clock.Advance(24 * time.Hour)
		if day == 1 {
			// 24 hours exactly: expires_at < now is not yet true.
			require.Equal(t, 2, keys(), "a key lives 24 hours")
			continue
		}
		require.Eventually(t, func() bool { return keys() == 0 }, 10*time.Second, time.Millisecond,
			"the sweep of day %d removed the expired keys", day)
	}
	require.Equal(t, 24*time.Hour, idempotency.TTL)
}
