package analytics

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NumBuckets is the number of buckets of a duration histogram. Bucket 0 is
// [0, 1s) (negative durations count there too); bucket i ≥ 1 is
// [1.1^(i-1), 1.1^i) seconds; the last bucket, NumBuckets-1, starts at
// 1.1^162 s (about 58.8 days) and is open-ended.
const NumBuckets = 164

// bucketLowerUS holds the lower bound of each bucket in whole microseconds:
// 1.1^(i-1) seconds rounded to the microsecond. Integer bounds make Go
// (bucketOf) and SQL (width_bucket over the same array, see bucketArraySQL)
// put every duration into the same bucket, which floating-point logarithms
// would not guarantee at the edges.
var bucketLowerUS = func() [NumBuckets]int64 {
	var b [NumBuckets]int64
	for i := 1; i < NumBuckets; i++ {
		b[i] = int64(math.Round(math.Pow(1.1, float64(i-1)) * 1e6))
	}
	return b
}()

// bucketOf returns the histogram bucket of duration d.
func bucketOf(d time.Duration) int {
	us := d.Microseconds()
	// The first bucket whose lower bound is above us, minus one.
	i := sort.Search(NumBuckets, func(i int) bool { return bucketLowerUS[i] > us }) - 1
	if i < 0 {
		return 0 // negative durations
	}
	return i
}

// BucketBounds returns the bounds [lo, hi) of histogram bucket i, which must
// be in [0, NumBuckets). The last bucket is open-ended: its hi is the
// largest time.Duration.
func BucketBounds(i int) (lo, hi time.Duration) {
	lo = time.Duration(bucketLowerUS[i]) * time.Microsecond
	if i == NumBuckets-1 {
		return lo, time.Duration(math.MaxInt64)
	}
	return lo, time.Duration(bucketLowerUS[i+1]) * time.Microsecond
}

// bucketArraySQL is the lower bounds of buckets 1 and up in microseconds as
// a PostgreSQL bigint[] literal: width_bucket(us, bucketArraySQL) is
// bucketOf.
var bucketArraySQL = func() string {
	parts := make([]string, 0, NumBuckets-1)
	for _, b := range bucketLowerUS[1:] {
		parts = append(parts, strconv.FormatInt(b, 10))
	}
	return "'{" + strings.Join(parts, ",") + "}'::bigint[]"
}()

// histogram counts durations per bucket.
type histogram [NumBuckets]int64

// quantile estimates the p-quantile (0 < p ≤ 1) in seconds: the value of
// rank ⌈p·n⌉ in the sorted durations (the nearest-rank definition), found
// in its bucket by linear interpolation between the bucket's bounds. The
// estimate lies in the same bucket as the true value, so it is within 10% of
// it (within 1 s in bucket 0). In the open-ended last bucket it is the
// bucket's lower bound. ok is false when the histogram is empty.
func (h *histogram) quantile(p float64) (seconds float64, ok bool) {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return 0, false
	}
	rank := p * float64(n)
	var cum int64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if float64(cum+c) >= rank {
			lo, hi := BucketBounds(i)
			if i == NumBuckets-1 {
				return lo.Seconds(), true
			}
			frac := (rank - float64(cum)) / float64(c)
			frac = max(0, min(1, frac))
			return lo.Seconds() + (hi-lo).Seconds()*frac, true
		}
		cum += c
	}
	// Unreachable: rank ≤ n.
	return 0, false
}
