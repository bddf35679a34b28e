package bench_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// BenchmarkPurge measures the purge rate: tenants with a provisioned
// workspace (pool: starter; silo: pro — a schema on PostgreSQL, a file on
// SQLite) and a few documents are deleted, then purged at once by an admin;
// the figure is tenants purged per second, from the first purgeTenant to
// the last tenant PURGED, by one server's workers.
// TENANTD_BENCH_PURGE_TENANTS sets how many (default 40 per plan).
func BenchmarkPurge(b *testing.B) {
	n := 40
	if v := os.Getenv("TENANTD_BENCH_PURGE_TENANTS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	for _, kind := range storetest.Kinds(b) {
		for _, plan := range []string{"starter", "pro"} {
			b.Run(fmt.Sprintf("%s/%s", kind, plan), func(b *testing.B) {
				srv := servertest.Start(b, kind, "TENANTD_SWEEP_INTERVAL=1h")
				for b.Loop() {
					ids, slugs := make([]uuid.UUID, n), make([]string, n)
					for i := range n {
						slugs[i] = fmt.Sprintf("purge-%s-%d-%s", plan, i, uuid.NewString()[:8])
						ids[i] = benchSignUp(b, srv, slugs[i], plan)
					}
					for i, id := range ids {
						waitActive(b, srv, id)
						srv.MustDo(b, servertest.AdminToken, `mutation($in: RequestTenantDeletionInput!) { requestTenantDeletion(input: $in) { purgeAfter } }`,
							map[string]any{"in": map[string]any{"tenantId": id, "confirmSlug": slugs[i]}}, nil)
					}
					t0 := time.Now()
					for i, id := range ids {
						srv.MustDo(b, servertest.AdminToken, `mutation($id: ID!, $s: String!) { purgeTenant(input: {tenantId: $id, confirmSlug: $s}) { operation { id } } }`,
							map[string]any{"id": id, "s": slugs[i]}, nil)
					}
					require.Eventually(b, func() bool {
						c, err := srv.DB().Ent.Tenant.Query().Where(tenant.IDIn(ids...), tenant.StateEQ(tenantd.StatePurged)).Count(sysCtx)
						return err == nil && c == n
					}, 10*time.Minute, 10*time.Millisecond)
					took := time.Since(t0)
					b.ReportMetric(float64(n)/took.Seconds(), "tenants/s")
					b.Logf("%s %s: %d tenants purged in %s (%.1f tenants/s)", kind, plan, n, took.Round(time.Millisecond), float64(n)/took.Seconds())
				}
			})
		}
	}
}

// benchSignUp signs a tenant up over GraphQL, with three documents once it
// is ACTIVE (the caller waits).
func benchSignUp(b *testing.B, srv *servertest.Server, slug, plan string) uuid.UUID {
	var a struct {
		SignUp struct {
			Tenant struct{ ID uuid.UUID }
			APIKey string
		}
	}
	srv.MustDo(b, "", `mutation($in: SignUpInput!) { signUp(input: $in) { tenant { id } apiKey } }`, map[string]any{"in": map[string]any{
		"name": "Bench " + slug, "slug": slug, "email": slug + "@bench.example", "plan": plan,
		"paymentMethod": "pm_card_visa", "idempotencyKey": uuid.NewString()}}, &a)
	id := a.SignUp.Tenant.ID
	waitActive(b, srv, id)
	for i := range 3 {
		srv.MustDo(b, a.SignUp.APIKey, `mutation($t: String!, $c: String!) { uploadDocument(input: {title: $t, content: $c}) { document { id } } }`,
			map[string]any{"t": fmt.Sprintf("doc %d", i), "c": "content to purge"}, nil)
	}
	return id
}

func waitActive(b *testing.B, srv *servertest.Server, id uuid.UUID) {
	require.Eventually(b, func() bool {
		t, err := srv.DB().Ent.Tenant.Get(sysCtx, id)
		return err == nil && t.State != tenantd.StatePending && t.State != tenantd.StateProvisioning
	}, time.Minute, 5*time.Millisecond)
}

// BenchmarkPurgeSweep measures the purge sweep over a million tenants,
// PostgreSQL only: with none due, a sweep is one index range read that
// finds nothing; with 10,000 due, one sweep starts all their purges (their
// PURGE operations and River jobs, 100 to a transaction), and the next one,
// with all of them under way, starts none. The tenants are bulk-loaded
// (loadTenants), an eighth of them PENDING_DELETION with a window that has
// not ended. The server's workers are off, so the purges stay QUEUED: the
// figures are the sweep's, not the purges' (BenchmarkPurge).
func BenchmarkPurgeSweep(b *testing.B) {
	if !hasPostgres(b) {
		b.Skip("PostgreSQL is switched off (TENANTD_TEST_POSTGRES=skip)")
	}
	srv := servertest.Start(b, storetest.Postgres, "TENANTD_SWEEP_INTERVAL=1h", "TENANTD_WORKERS=false")
	ctx := context.Background()
	loadTenants(b, srv, countTenants)
	require.NoError(b, lifecycle.Recount(ctx, srv.DB()))
	owner := storetest.Owner(b, srv.DB())
	_, err := owner.ExecContext(ctx, `UPDATE tenants SET purge_after = now() + interval '30 days' WHERE state = 'PENDING_DELETION'`)
	require.NoError(b, err)
	_, err = owner.ExecContext(ctx, `VACUUM ANALYZE tenants`)
	require.NoError(b, err)
	b.Logf("due query plan:\n%s", explain(b, srv,
		`SELECT id FROM tenants WHERE purge_after <= now() AND state = 'PENDING_DELETION' ORDER BY purge_after LIMIT 500`))

	b.Run("due_0", func(b *testing.B) {
		for b.Loop() {
			n, err := srv.Purger().SweepDue(ctx)
			require.NoError(b, err)
			require.Zero(b, n)
		}
		reportMs(b)
	})
	b.Run("due_10000", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			_, err := owner.ExecContext(ctx, `UPDATE tenants SET purge_after = now() - interval '1 hour'
				WHERE id IN (SELECT id FROM tenants WHERE state = 'PENDING_DELETION' AND purge_after > now() LIMIT 10000)`)
			require.NoError(b, err)
			b.StartTimer()
			t0 := time.Now()
			started, err := srv.Purger().SweepDue(ctx)
			took := time.Since(t0)
			require.NoError(b, err)
			require.Equal(b, 10_000, started)
			t1 := time.Now()
			again, err := srv.Purger().SweepDue(ctx)
			inFlight := time.Since(t1)
			require.NoError(b, err)
			require.Zero(b, again, "purges under way are not started again")
			b.ReportMetric(float64(started)/took.Seconds(), "purges_started/s")
			b.ReportMetric(ms(took), "sweep_ms")
			b.ReportMetric(ms(inFlight), "sweep_in_flight_ms")
			b.Logf("10,000 due of %d tenants: one sweep started their purges in %s (%.0f/s); the next sweep, all 10,000 under way, took %s",
				countTenants, took.Round(time.Millisecond), float64(started)/took.Seconds(), inFlight.Round(time.Millisecond))
			b.StopTimer()
			// The workers are off: the purges stay QUEUED; take them back
			// so the next round starts from the same place.
			_, err = owner.ExecContext(ctx, `DELETE FROM operations WHERE kind = 'PURGE'`)
			require.NoError(b, err)
			_, err = owner.ExecContext(ctx, `UPDATE tenants SET purge_after = now() + interval '30 days' WHERE state = 'PENDING_DELETION'`)
			require.NoError(b, err)
			b.StartTimer()
		}
	})
}
