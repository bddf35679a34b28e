package analytics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/ent/funnelcount"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// durationScales are signup → provisioned times, one cohort day each: the
// sub-second provisioning runs of issue 12 (57–150 ms, which came out as a
// median of 500 ms with the first scheme), seconds, hours and days.
var durationScales = []struct {
	name string
	ds   []time.Duration
}{
	{"sub-second", ms(57, 61, 66, 72, 80, 88, 95, 110, 130, 150)},
	{"seconds", ms(1200, 1900, 2500, 3100, 4400, 5200, 7000, 9100, 12000, 30000)},
	{"hours", hours(1, 1.5, 2, 3, 4.5, 6, 8, 11, 15, 23)},
	{"days", hours(24, 30, 50, 72, 100, 150, 240, 500, 1500, 2200)},
}

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

func hours(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Hour))
	}
	return out
}

// TestFunnelDurationsAtEveryScale: the funnel's median and 90th percentile
// of signup → provisioned are within 10% of the true values at every scale,
// as RecordTx counts them and after Rebuild (in SQL on PostgreSQL, in Go on
// SQLite).
func TestFunnelDurationsAtEveryScale(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := lifecycle.New(lifecycle.Config{DB: db})
		for day, sc := range durationScales {
			signup := base.AddDate(0, 0, day).Add(time.Hour)
			for i, d := range sc.ds {
				at := signup.Add(time.Duration(i) * time.Minute)
				id := createTenant(t, db, m, plans.Free, false, at)
				require.True(t, record(t, db, id, analytics.Provisioned, at.Add(d), window))
			}
		}
		check := func(when string) {
			for day, sc := range durationScales {
				q := analytics.Query{From: base.AddDate(0, 0, day), To: base.AddDate(0, 0, day+1)}
				f, err := analytics.Compute(sysCtx, db.Ent, q, window)
				require.NoError(t, err)
				step := f.Steps[1]
				require.Equal(t, len(sc.ds), step.Count)
				secs := make([]float64, len(sc.ds))
				for i, d := range sc.ds {
					secs[i] = d.Seconds()
				}
				require.NotNil(t, step.MedianSecondsFromPrevious)
				require.InEpsilon(t, nearestRank(secs, 0.5), *step.MedianSecondsFromPrevious, 0.1, "%s median %s", when, sc.name)
				require.InEpsilon(t, nearestRank(secs, 0.9), *step.P90SecondsFromPrevious, 0.1, "%s p90 %s", when, sc.name)
			}
		}
		check("recorded")
		before := counters(t, db)
		require.NoError(t, analytics.Rebuild(sysCtx, db, window))
		require.Equal(t, before, counters(t, db), "Rebuild buckets as RecordTx does")
		check("rebuilt")
	})
}

// TestRebuildLegacyBuckets: counters of the first histogram scheme (every
// sub-second sample in bucket 0) are re-bucketed at start; without them
// RebuildLegacy does nothing.
func TestRebuildLegacyBuckets(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := lifecycle.New(lifecycle.Config{DB: db})
		signup := base.Add(time.Hour)
		for i, d := range durationScales[0].ds {
			at := signup.Add(time.Duration(i) * time.Minute)
			id := createTenant(t, db, m, plans.Free, false, at)
			require.True(t, record(t, db, id, analytics.Provisioned, at.Add(d), window))
		}
		rebuilt, err := analytics.RebuildLegacy(sysCtx, db, window)
		require.NoError(t, err)
		require.False(t, rebuilt)
		want := counters(t, db)

		// What the first scheme stored: the ten samples in bucket 0.
		_, err = db.Ent.FunnelCount.Delete().Where(funnelcount.MetricHasPrefix("dur:")).Exec(sysCtx)
		require.NoError(t, err)
		require.NoError(t, db.Ent.FunnelCount.Create().SetDay(base).SetPlanKey(plans.Free).
			SetMetric("dur:signed_up->provisioned").SetBucket(0).SetSlot(3).SetCount(10).Exec(sysCtx))
		q := analytics.Query{From: base, To: base.AddDate(0, 0, 1)}
		f, err := analytics.Compute(sysCtx, db.Ent, q, window)
		require.NoError(t, err)
		require.Greater(t, *f.Steps[1].MedianSecondsFromPrevious, 0.3, "the first scheme only knew it was under a second")

		rebuilt, err = analytics.RebuildLegacy(sysCtx, db, window)
		require.NoError(t, err)
		require.True(t, rebuilt)
		require.Equal(t, want, counters(t, db))
		f, err = analytics.Compute(sysCtx, db.Ent, q, window)
		require.NoError(t, err)
		require.InEpsilon(t, 0.080, *f.Steps[1].MedianSecondsFromPrevious, 0.1)
	})
}
