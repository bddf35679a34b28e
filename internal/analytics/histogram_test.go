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
	require.Equal(t, 0, bucketOf(-time.Hour))
	require.Equal(t, 0, bucketOf(0))
	require.Equal(t, 0, bucketOf(999_999*time.Microsecond))
	require.Equal(t, 1, bucketOf(time.Second))
	require.Equal(t, 1, bucketOf(1099999*time.Microsecond))
	require.Equal(t, 2, bucketOf(1100*time.Millisecond))
	require.Equal(t, NumBuckets-1, bucketOf(365*24*time.Hour))
	require.Equal(t, NumBuckets-1, bucketOf(time.Duration(math.MaxInt64)))
	lo, _ := BucketBounds(NumBuckets - 1)
	require.InDelta(t, 58.8, lo.Hours()/24, 0.1, "the last bucket starts at about 60 days")

	for i := range NumBuckets {
		lo, hi := BucketBounds(i)
		require.Equal(t, i, bucketOf(lo), "bucket %d starts at %s", i, lo)
		if i < NumBuckets-1 {
			require.Equal(t, i, bucketOf(hi-time.Microsecond), "bucket %d ends before %s", i, hi)
			if i > 0 {
				require.InEpsilon(t, 1.1, hi.Seconds()/lo.Seconds(), 1e-5, "bucket %d is 10%% wide", i)
			}
		}
	}
}

func TestQuantileWithin10Percent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, n := range []int{1, 2, 3, 10, 99, 1000} {
		var h histogram
		ds := make([]float64, n)
		for i := range ds {
			// log-uniform from 1 s to 30 days
			s := math.Exp(rng.Float64() * math.Log(30*86400))
			ds[i] = s
			h[bucketOf(time.Duration(s*1e6)*time.Microsecond)]++
		}
		slices.Sort(ds)
		for _, p := range []float64{0.5, 0.9, 0.99, 1} {
			got, ok := h.quantile(p)
			require.True(t, ok)
			want := ds[int(math.Ceil(p*float64(n)))-1]
			require.InEpsilon(t, want, got, 0.1, "n=%d p=%v", n, p)
		}
	}
	var empty histogram
	_, ok := empty.quantile(0.5)
	require.False(t, ok)
}
