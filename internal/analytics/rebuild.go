package analytics

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/activation"
	"github.com/tenantd/tenantd/ent/funnelcount"
	"github.com/tenantd/tenantd/internal/store"
)

// Rebuild recomputes every FunnelCount counter from the Activation table, in
// one transaction: after a bulk load, to repair the rollup, or after the
// activation window changed. The counters come out as RecordTx would have
// left them had every tenant's milestones been recorded in funnel order,
// except that each counter is in slot 0 (Compute sums the slots; later
// RecordTx calls spread into the other slots again).
//
// On PostgreSQL the counter table is locked meanwhile (writers of counters
// wait, readers do not) and the aggregation runs in SQL, one pass over the
// activations with grouping sets: about a second per million tenants. On
// SQLite it runs in Go.
func Rebuild(ctx context.Context, db *store.DB, window time.Duration) error {
	ctx = tenantd.SystemContext(ctx)
	return db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		if tx.IsPostgres() {
			return rebuildPostgres(ctx, tx, window)
		}
		return rebuildGo(ctx, tx, window)
	})
}

// rebuildSQL aggregates the activations into the counters. The inner query
// gives, per activation, its cohort day, which steps it reached, whether it
// activated ($1: the window in microseconds) and the bucket of each step's
// duration (bucketSQL is bucketOf). The grouping
// sets count, in one pass, the steps per (day, plan) and each duration
// histogram per (day, plan, bucket); GROUPING(bp, bu, bq) tells the sets
// apart (7: no bucket, 3: bp, 5: bu, 6: bq). The lateral VALUES unpivots
// those few rows into counter rows.
var rebuildSQL = `
INSERT INTO funnel_counts (day, plan_key, metric, bucket, slot, count)
SELECT g.day, g.plan_key, m.metric, m.bucket, 0, m.n
FROM (
	SELECT day, plan_key, bp, bu, bq, GROUPING(bp, bu, bq) AS gs,
		count(*) AS n_signed_up,
		count(*) FILTER (WHERE p) AS n_provisioned,
		count(*) FILTER (WHERE u) AS n_first_upload,
		count(*) FILTER (WHERE q) AS n_first_query,
		count(*) FILTER (WHERE act) AS n_activated,
		count(bp) AS n_bp, count(bu) AS n_bu, count(bq) AS n_bq
	FROM (
		SELECT date_trunc('day', signed_up_at, 'UTC') AS day, plan_key,
			provisioned_at IS NOT NULL AS p,
			first_upload_at IS NOT NULL AS u,
			first_query_at IS NOT NULL AS q,
			COALESCE((extract(epoch FROM first_query_at - signed_up_at) * 1000000)::bigint <= $1, false) AS act,
			` + bucketSQL("(extract(epoch FROM provisioned_at - signed_up_at) * 1000000)::bigint") + ` AS bp,
			` + bucketSQL("(extract(epoch FROM first_upload_at - provisioned_at) * 1000000)::bigint") + ` AS bu,
			` + bucketSQL("(extract(epoch FROM first_query_at - first_upload_at) * 1000000)::bigint") + ` AS bq
		FROM activations
	) a
	GROUP BY GROUPING SETS ((day, plan_key), (day, plan_key, bp), (day, plan_key, bu), (day, plan_key, bq))
) g
CROSS JOIN LATERAL (VALUES
	('step:signed_up', 0, CASE WHEN g.gs = 7 THEN g.n_signed_up ELSE 0 END),
	('step:provisioned', 0, CASE WHEN g.gs = 7 THEN g.n_provisioned ELSE 0 END),
	('step:first_upload', 0, CASE WHEN g.gs = 7 THEN g.n_first_upload ELSE 0 END),
	('step:first_query', 0, CASE WHEN g.gs = 7 THEN g.n_first_query ELSE 0 END),
	('activated', 0, CASE WHEN g.gs = 7 THEN g.n_activated ELSE 0 END),
	('dur:signed_up->provisioned', g.bp, CASE WHEN g.gs = 3 THEN g.n_bp ELSE 0 END),
	('dur:provisioned->first_upload', g.bu, CASE WHEN g.gs = 5 THEN g.n_bu ELSE 0 END),
	('dur:first_upload->first_query', g.bq, CASE WHEN g.gs = 6 THEN g.n_bq ELSE 0 END)
) AS m(metric, bucket, n)
WHERE m.n > 0`

func rebuildPostgres(ctx context.Context, tx *store.Tx, window time.Duration) error {
	if _, err := tx.SQL.ExecContext(ctx, "LOCK TABLE funnel_counts IN EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("rebuild funnel: lock counters: %w", err)
	}
	if _, err := tx.SQL.ExecContext(ctx, "DELETE FROM funnel_counts"); err != nil {
		return fmt.Errorf("rebuild funnel: clear counters: %w", err)
	}
	if _, err := tx.SQL.ExecContext(ctx, rebuildSQL, window.Microseconds()); err != nil {
		return fmt.Errorf("rebuild funnel: %w", err)
	}
	return nil
}

// rebuildBatch is how many activations rebuildGo reads at a time, and
// insertBatch how many counter rows it writes per statement (6 parameters
// each, well under SQLite's limit).
const (
	rebuildBatch = 10_000
	insertBatch  = 1_000
)

// rebuildGo counts in Go, reading the activations in id order a batch at a
// time, with the same countersOf as RecordTx.
func rebuildGo(ctx context.Context, tx *store.Tx, window time.Duration) error {
	counts := map[counterKey]int64{}
	var after *uuid.UUID
	for {
		q := tx.Ent.Activation.Query().Order(activation.ByID()).Limit(rebuildBatch)
		if after != nil {
			q.Where(activation.IDGT(*after))
		}
		batch, err := q.All(ctx)
		if err != nil {
			return fmt.Errorf("rebuild funnel: read activations: %w", err)
		}
		for _, a := range batch {
			r := rowOf(a)
			for _, m := range Milestones {
				for _, k := range countersOf(r, m, window) {
					counts[k]++
				}
			}
		}
		if len(batch) < rebuildBatch {
			break
		}
		after = &batch[len(batch)-1].ID
	}
	if _, err := tx.Ent.FunnelCount.Delete().Exec(ctx); err != nil {
		return fmt.Errorf("rebuild funnel: clear counters: %w", err)
	}
	keys := make([]counterKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	for chunk := range slices.Chunk(keys, insertBatch) {
		builders := make([]*ent.FunnelCountCreate, len(chunk))
		for i, k := range chunk {
			builders[i] = tx.Ent.FunnelCount.Create().
				SetDay(k.Day).SetPlanKey(k.Plan).SetMetric(k.Metric).
				SetBucket(k.Bucket).SetSlot(0).SetCount(counts[k])
		}
		if err := tx.Ent.FunnelCount.CreateBulk(builders...).Exec(ctx); err != nil {
			return fmt.Errorf("rebuild funnel: write counters: %w", err)
		}
	}
	return nil
}

// RebuildLegacy runs Rebuild when the counters hold duration samples of the
// first histogram scheme, whose buckets were coarse under a second and above
// 58.8 days (see MinBucket), and reports whether it did. The server calls it
// at start: it costs one indexed look-up when there is nothing to re-bucket.
func RebuildLegacy(ctx context.Context, db *store.DB, window time.Duration) (rebuilt bool, err error) {
	ctx = tenantd.SystemContext(ctx)
	legacy, err := db.Ent.FunnelCount.Query().
		Where(funnelcount.MetricHasPrefix(durPrefix), funnelcount.BucketIn(legacySubSecond, legacyTop)).
		Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("look for legacy funnel buckets: %w", err)
	}
	if !legacy {
		return false, nil
	}
	return true, Rebuild(ctx, db, window)
}
