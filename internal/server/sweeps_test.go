package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestSweepsRun checks that the scheduled sweeps run: an expired
// idempotency key disappears within a few sweep intervals.
func TestSweepsRun(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k, "TENANTD_SWEEP_INTERVAL=1s")
			sys := tenantd.SystemContext(context.Background())
			past := schema.Now().Add(-time.Hour)
			_, err := srv.DB().Ent.IdempotencyKey.Create().SetKeyHash("expired").SetScope("test").SetRequestHash("x").
				SetOwner("o").SetLockedUntil(past).SetExpiresAt(past).Save(sys)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				n, err := srv.DB().Ent.IdempotencyKey.Query().Count(sys)
				return err == nil && n == 0
			}, 10*time.Second, 100*time.Millisecond, "the expired key is swept")
		})
	}
}
