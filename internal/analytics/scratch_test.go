//go:build scratch

package analytics_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
)

const scratchURL = "postgres://postgres@127.0.0.1:5432/analytics_scratch?sslmode=disable"

func TestScratchLoad(t *testing.T) {
	ctx := context.Background()
	admin, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	require.NoError(t, err)
	_, _ = admin.Exec("DROP DATABASE IF EXISTS analytics_scratch WITH (FORCE)")
	_, err = admin.Exec("CREATE DATABASE analytics_scratch")
	require.NoError(t, err)
	db, err := store.Open(ctx, store.Options{DatabaseURL: scratchURL})
	require.NoError(t, err)
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, plans.Seed(ctx, db.Ent))
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	loadFunnel(t, db, 1_000_000, to.AddDate(0, 0, -90))
	start := time.Now()
	require.NoError(t, analytics.Rebuild(ctx, db, 168*time.Hour))
	t.Logf("rebuild %s", time.Since(start))
	_, err = db.SQL.Exec("VACUUM ANALYZE funnel_counts")
	require.NoError(t, err)
}

func TestScratchCompute(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DatabaseURL: scratchURL})
	require.NoError(t, err)
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	for _, q := range []analytics.Query{
		{From: to.AddDate(0, 0, -90), To: to, DropOffLimit: 20},
		{From: to.AddDate(0, 0, -30), To: to, Plan: "starter", DropOffLimit: 20},
	} {
		for range 3 {
			start := time.Now()
			_, err := analytics.Compute(ctx, db.Ent, q, 168*time.Hour)
			require.NoError(t, err)
			t.Logf("%s %s", q.Plan, time.Since(start))
		}
	}
}

func loadFunnel(b testing.TB, db *store.DB, n int, from time.Time) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	res, err := db.SQL.ExecContext(ctx, `
		WITH s AS (
			SELECT g, gen_random_uuid() AS id,
				$2::timestamptz + random() * (now() - $2::timestamptz) AS signed_up_at,
				random() AS rplan, random() AS rp, random() AS ru, random() AS rq,
				random() AS dp, random() AS du, random() AS dq
			FROM generate_series(0, $1::int - 1) AS g
		), d AS (
			SELECT g, id, signed_up_at,
				CASE WHEN rplan < 0.60 THEN 'free' WHEN rplan < 0.85 THEN 'starter'
					WHEN rplan < 0.97 THEN 'pro' ELSE 'enterprise' END AS plan_key,
				CASE WHEN rp < 0.97 THEN make_interval(secs => exp(ln(5) + dp * ln(600 / 5.0))) END AS dp,
				CASE WHEN ru < 0.75 THEN make_interval(secs => exp(ln(60) + du * ln(7 * 86400 / 60.0))) END AS du,
				CASE WHEN rq < 0.80 THEN make_interval(secs => exp(ln(30) + dq * ln(5 * 86400 / 30.0))) END AS dq
			FROM s
		), t AS (
			SELECT g, id, plan_key, signed_up_at,
				signed_up_at + dp AS p_at,
				signed_up_at + dp + du AS u_at,
				signed_up_at + dp + du + dq AS q_at
			FROM d
		), x AS MATERIALIZED (
			SELECT g, id, plan_key, signed_up_at,
				CASE WHEN p_at <= now() THEN p_at END AS p_at,
				CASE WHEN u_at <= now() THEN u_at END AS u_at,
				CASE WHEN q_at <= now() THEN q_at END AS q_at
			FROM t
		), tenants_in AS (
			INSERT INTO tenants (id, created_at, updated_at, name, slug, slug_hash, email, state,
				state_changed_at, plan_id, history_seq, history_head, synthetic)
			SELECT x.id, x.signed_up_at, x.signed_up_at, 'Funnel tenant ' || g, 'funnel-' || g,
				encode(sha256(convert_to('funnel-' || g, 'UTF8')), 'hex'), 'funnel-' || g || '@example.com',
				CASE WHEN x.p_at IS NULL THEN 'PROVISIONING' ELSE 'ACTIVE' END,
				coalesce(x.p_at, x.signed_up_at), p.id, 0, '', false
			FROM x JOIN plans p ON p.key = x.plan_key
		)
		INSERT INTO activations (id, plan_key, signed_up_at, provisioned_at, first_upload_at, first_query_at)
		SELECT id, plan_key, signed_up_at, p_at, u_at, q_at FROM x`,
		n, from)
	require.NoError(b, err)
	inserted, err := res.RowsAffected()
	require.NoError(b, err)
	require.EqualValues(b, n, inserted)
	var tenants int
	require.NoError(b, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM tenants`).Scan(&tenants))
	require.Equal(b, n, tenants)
	loaded := time.Since(start)
	_, err = db.SQL.ExecContext(ctx, `VACUUM ANALYZE tenants, activations`)
	require.NoError(b, err)
	b.Logf("loaded %d tenants and activations in %s, vacuumed in %s", n, loaded.Round(time.Millisecond),
		(time.Since(start) - loaded).Round(time.Millisecond))
}

func BenchmarkScratch(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DatabaseURL: scratchURL})
	require.NoError(b, err)
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	for name, q := range map[string]analytics.Query{
		"whole":        {From: to.AddDate(0, 0, -90), To: to, DropOffLimit: 20},
		"month":        {From: to.AddDate(0, 0, -30), To: to, Plan: "starter", DropOffLimit: 20},
		"whole_nodrop": {From: to.AddDate(0, 0, -90), To: to},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				_, err := analytics.Compute(ctx, db.Ent, q, 168*time.Hour)
				require.NoError(b, err)
			}
		})
	}
}
