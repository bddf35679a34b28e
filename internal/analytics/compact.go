package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/funnelcount"
	"github.com/tenantd/tenantd/internal/store"
)

// compactPostgres merges the slots of each counter of one day ($1) into the
// counter's lowest slot. The rows are locked first, in (plan, metric,
// bucket, slot) order — RecordTx's order within its slot — so compaction
// cannot deadlock with RecordTx; it inserts nothing, so it never waits on a
// row a RecordTx is inserting. A RecordTx that waits on a deleted row
// inserts it anew once compaction commits: no increment is lost.
const compactPostgres = `
WITH locked AS (
	SELECT plan_key, metric, bucket, slot, count FROM funnel_counts
	WHERE day = $1
	ORDER BY plan_key, metric, bucket, slot
	FOR UPDATE
), sums AS (
	SELECT plan_key, metric, bucket, min(slot) AS keep, sum(count) AS n
	FROM locked
	GROUP BY plan_key, metric, bucket
	HAVING count(*) > 1
), kept AS (
	UPDATE funnel_counts f SET count = s.n
	FROM sums s
	WHERE f.day = $1 AND f.plan_key = s.plan_key AND f.metric = s.metric AND f.bucket = s.bucket
		AND f.slot = s.keep
)
DELETE FROM funnel_counts f
USING sums s
WHERE f.day = $1 AND f.plan_key = s.plan_key AND f.metric = s.metric AND f.bucket = s.bucket
	AND f.slot <> s.keep`

// compactSQLite does the same in two statements; SQLite transactions are
// serialized, so nothing changes in between.
var compactSQLite = []string{`
UPDATE funnel_counts SET count = (
	SELECT sum(o.count) FROM funnel_counts o
	WHERE o.day = funnel_counts.day AND o.plan_key = funnel_counts.plan_key
		AND o.metric = funnel_counts.metric AND o.bucket = funnel_counts.bucket)
WHERE day = ? AND slot = (
	SELECT min(o.slot) FROM funnel_counts o
	WHERE o.day = funnel_counts.day AND o.plan_key = funnel_counts.plan_key
		AND o.metric = funnel_counts.metric AND o.bucket = funnel_counts.bucket)
	AND EXISTS (
	SELECT 1 FROM funnel_counts o
	WHERE o.day = funnel_counts.day AND o.plan_key = funnel_counts.plan_key
		AND o.metric = funnel_counts.metric AND o.bucket = funnel_counts.bucket AND o.slot <> funnel_counts.slot)`, `
DELETE FROM funnel_counts
WHERE day = ? AND slot > (
	SELECT min(o.slot) FROM funnel_counts o
	WHERE o.day = funnel_counts.day AND o.plan_key = funnel_counts.plan_key
		AND o.metric = funnel_counts.metric AND o.bucket = funnel_counts.bucket)`,
}

// Compact merges the slots of every counter of the signup days before
// before into one row per counter, and returns how many rows it removed.
//
// RecordTx spreads each counter over 8 slots so that concurrent milestones
// seldom wait on one row; in steady state that multiplies the rows Compute
// sums by up to 8 (about 6 at a million tenants over 90 days), and Compute's
// time with them. Days whose tenants have mostly gone through the funnel
// are seldom written, so merging their slots costs nothing in contention
// and brings Compute back to its post-Rebuild speed. Run it periodically,
// for example hourly with before = yesterday 00:00 UTC.
//
// Each day is merged in its own short transaction, concurrently with
// RecordTx (which never deadlocks with it and loses no increment); the sums
// never change. Compact writes as the system (tenantd.SystemContext).
func Compact(ctx context.Context, db *store.DB, before time.Time) (removed int, err error) {
	ctx = tenantd.SystemContext(ctx)
	var days []struct {
		Day time.Time `json:"day"`
	}
	err = db.Ent.FunnelCount.Query().
		Where(funnelcount.DayLT(before), funnelcount.SlotNEQ(0)).
		GroupBy(funnelcount.FieldDay).
		Scan(ctx, &days)
	if err != nil {
		return 0, fmt.Errorf("compact funnel: list days: %w", err)
	}
	for _, d := range days {
		var n int64
		err := db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			if tx.IsPostgres() {
				res, err := tx.SQL.ExecContext(ctx, compactPostgres, d.Day)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			}
			for _, q := range compactSQLite {
				res, err := tx.SQL.ExecContext(ctx, q, d.Day.UTC())
				if err != nil {
					return err
				}
				if n, err = res.RowsAffected(); err != nil {
					return err
				}
			}
			return nil // n is the DELETE's, the last statement
		})
		if err != nil {
			return removed, fmt.Errorf("compact funnel day %s: %w", d.Day.UTC().Format(time.DateOnly), err)
		}
		removed += int(n)
	}
	return removed, nil
}
