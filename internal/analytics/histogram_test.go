package analytics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBucketOf(t *testing.T) {
	require.Equal(t, MinBucket, bucketOf(-time.Hour))
	require.Equal(t, MinBucket, bucketOf(0))
	require.Equal(t, MinBucket, bucketOf(950*time.Microsecond))
	require.Equal(t, MinBucket+1, bucketOf(951*time.Microsecond))
	require.Equal(t, -1, bucketOf(999_999*time.Microsecond))
	require.Equal(t, 1, bucketOf(time.Second))
	require.Equal(t, 1, bucketOf(1099999*time.Microsecond))
	require.Equal(t, 2, bucketOf(1100*time.Millisecond))
	require.Equal(t, 164, bucketOf(60*24*time.Hour), "the first scheme's open-ended bucket 163 is skipped")
	require.Equal(t, MaxBucket, bucketOf(365*24*time.Hour))
	require.Equal(t, MaxBucket, bucketOf(time.Duration(math.MaxInt64)))
	lo, _, ok := BucketBounds(MaxBucket)
	require.True(t, ok)
	require.InDelta(t, 202.6, lo.Hours()/24, 0.5, "the last bucket starts at about 200 days")
	_, hi, _ := BucketBounds(MinBucket)
	require.Equal(t, 951*time.Microsecond, hi)

	// Every bucket of the scheme is 10% wide and bucketOf agrees with
	// BucketBounds at both edges.
	seen := 0
	for i := MinBucket; i <= MaxBucket; i++ {
		if i == legacySubSecond || i == legacyTop {
			continue
		}
		lo, hi, ok := BucketBounds(i)
		require.True(t, ok, "bucket %d", i)
		seen++
		require.Equal(t, i, bucketOf(lo), "bucket %d starts at %s", i, lo)
		if i < MaxBucket {
			require.Equal(t, i, bucketOf(hi-time.Microsecond), "bucket %d ends before %s", i, hi)
			if i > MinBucket {
				require.InEpsilon(t, 1.1, hi.Seconds()/lo.Seconds(), 1e-3, "bucket %d is 10%% wide", i)
			}
		}
	}
	require.Equal(t, len(buckets), seen)
	for _, i := range []int{MinBucket - 1, MaxBucket + 1} {
		_, _, ok := BucketBounds(i)
		require.False(t, ok, "bucket %d", i)
	}
	// Buckets 1 to 162 keep the first scheme's bounds: 1.1^(i-1) s.
	for i := 1; i <= 162; i++ {
		lo, _, _ := BucketBounds(i)
		require.Equal(t, int64(math.Round(math.Pow(1.1, float64(i-1))*1e6)), lo.Microseconds(), "bucket %d", i)
	}
}

// TestQuantileWithin10Percent checks the estimate against the true
// nearest-rank percentile at every scale, from sub-second provisioning
// runs (57 to 150 ms) to days.
func TestQuantileWithin10Percent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	scales := []struct {
		name   string
		lo, hi time.Duration
	}{
		{"milliseconds", 2 * time.Millisecond, 40 * time.Millisecond},
		{"sub-second provisioning", 57 * time.Millisecond, 150 * time.Millisecond},
		{"under a second", 100 * time.Millisecond, 999 * time.Millisecond},
		{"seconds", time.Second, 50 * time.Second},
		{"hours", time.Hour, 20 * time.Hour},
		{"days", 24 * time.Hour, 95 * 24 * time.Hour},
		{"everything", time.Millisecond, 150 * 24 * time.Hour},
	}
	for _, sc := range scales {
		for _, n := range []int{1, 2, 3, 10, 99, 1000} {
			h := histogram{}
			ds := make([]float64, n)
			for i := range ds {
				s := math.Exp(math.Log(sc.lo.Seconds()) + rng.Float64()*(math.Log(sc.hi.Seconds())-math.Log(sc.lo.Seconds())))
				d := time.Duration(s*1e6) * time.Microsecond
				ds[i] = d.Seconds()
				h[bucketOf(d)]++
			}
			slices.Sort(ds)
			for _, p := range []float64{0.5, 0.9, 0.99, 1} {
				got, ok := h.quantile(p)
				require.True(t, ok)
				want := ds[int(math.Ceil(p*float64(n)))-1]
				require.InEpsilon(t, want, got, 0.1, "%s n=%d p=%v", sc.name, n, p)
			}
		}
	}
	// The runs of the report: 57 to 150 ms came out as a median of 500 ms.
	h := histogram{}
	for _, ms := range []int{57, 61, 66, 72, 80, 88, 95, 110, 130, 150} {
		h[bucketOf(time.Duration(ms)*time.Millisecond)]++
	}
	med, _ := h.quantile(0.5)
	p90, _ := h.quantile(0.9)
	require.InEpsilon(t, 0.080, med, 0.1)
	require.InEpsilon(t, 0.130, p90, 0.1)

	_, ok := histogram{}.quantile(0.5)
	require.False(t, ok)
}

// TestQuantileReadsLegacyBuckets: rows of the first scheme still count,
// with their bounds.
func TestQuantileReadsLegacyBuckets(t *testing.T) {
	h := histogram{legacySubSecond: 3, 1: 1}
	got, ok := h.quantile(1)
	require.True(t, ok)
	require.InEpsilon(t, 1.0, got, 0.1)
	got, _ = h.quantile(0.5)
	require.Less(t, got, 1.0)
	h = histogram{legacyTop: 1}
	got, _ = h.quantile(0.5)
	require.InDelta(t, 58.8, got/86400, 0.1)
}
