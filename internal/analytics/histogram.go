package analytics

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Duration histograms have log-scale buckets 10% wide from about a
// millisecond up to about 200 days. A bucket is stored as its index (the
// FunnelCount bucket column); bucket index i covers [1.1^e, 1.1^(e+1))
// seconds where
//
//	i in [MinBucket+1, -1]: e = i        (≈1 ms up to 1 s)
//	i in [1, 162]:          e = i − 1    (1 s up to ≈58.8 days)
//	i in [164, MaxBucket]:  e = i − 2    (≈58.8 days up to ≈203 days)
//
// Bucket MinBucket is [0, 1.1^-73 s ≈ 951 µs) (negative durations count
// there too) and bucket MaxBucket starts at 1.1^175 s (about 203 days) and
// is open-ended.
//
// Indices 1 to 162 mean what they meant in the first scheme, which had
// only them plus two coarse buckets: 0 was [0, 1 s) and 163 was open-ended
// from 58.8 days. Those two indices are never written any more; rows kept
// from the first scheme are still read with their old bounds (a median in
// old bucket 0 is only known to be under a second), and Rebuild
// re-buckets them exactly from the Activation table (RebuildLegacy does it
// when such rows exist).
const (
	MinBucket = -74
	MaxBucket = 177

	// legacySubSecond and legacyTop are the first scheme's coarse buckets.
	legacySubSecond = 0
	legacyTop       = 163
)

// bucketExp is the exponent of the lower bound of bucket i (see MinBucket);
// ok is false for MinBucket and the legacy indices, whose bounds are not a
// power of 1.1, and for indices out of range.
func bucketExp(i int) (e int, ok bool) {
	switch {
	case i > MinBucket && i < 0:
		return i, true
	case i >= 1 && i <= 162:
		return i - 1, true
	case i >= 164 && i <= MaxBucket:
		return i - 2, true
	}
	return 0, false
}

// bucket is one bucket of the current scheme: its index and lower bound in
// whole microseconds (1.1^e seconds rounded to the microsecond). Integer
// bounds make Go (bucketOf) and SQL (width_bucket over the same array, see
// bucketArraySQL) put every duration into the same bucket, which
// floating-point logarithms would not guarantee at the edges.
type bucket struct {
	index   int
	lowerUS int64
}

// buckets is the current scheme in increasing order of bounds.
var buckets = func() []bucket {
	bs := []bucket{{index: MinBucket, lowerUS: 0}}
	for i := MinBucket + 1; i <= MaxBucket; i++ {
		if e, ok := bucketExp(i); ok {
			bs = append(bs, bucket{index: i, lowerUS: int64(math.Round(math.Pow(1.1, float64(e)) * 1e6))})
		}
	}
	return bs
}()

// position is the place of each current bucket index in buckets.
var position = func() map[int]int {
	m := make(map[int]int, len(buckets))
	for p, b := range buckets {
		m[b.index] = p
	}
	return m
}()

// bucketOf returns the histogram bucket of duration d.
func bucketOf(d time.Duration) int {
	us := d.Microseconds()
	// The first bucket whose lower bound is above us, minus one.
	p := sort.Search(len(buckets), func(p int) bool { return buckets[p].lowerUS > us }) - 1
	if p < 0 {
		return MinBucket // negative durations
	}
	return buckets[p].index
}

// BucketBounds returns the bounds [lo, hi) of histogram bucket i, and false
// when i is no bucket. The last bucket (MaxBucket) and the first scheme's
// top bucket are open-ended: their hi is the largest time.Duration.
func BucketBounds(i int) (lo, hi time.Duration, ok bool) {
	switch i {
	case legacySubSecond:
		return 0, time.Second, true
	case legacyTop:
		lo := time.Duration(math.Round(math.Pow(1.1, 162)*1e6)) * time.Microsecond
		return lo, time.Duration(math.MaxInt64), true
	}
	p, ok := position[i]
	if !ok {
		return 0, 0, false
	}
	lo = time.Duration(buckets[p].lowerUS) * time.Microsecond
	if p == len(buckets)-1 {
		return lo, time.Duration(math.MaxInt64), true
	}
	return lo, time.Duration(buckets[p+1].lowerUS) * time.Microsecond, true
}

// bucketArraySQL is the lower bounds of the buckets after the first, in
// microseconds, as a PostgreSQL bigint[] literal, and bucketIndexSQL the
// bucket indices as an int[] literal: bucketIndexSQL[width_bucket(us,
// bucketArraySQL) + 1] is bucketOf.
var bucketArraySQL, bucketIndexSQL = func() (string, string) {
	bounds := make([]string, 0, len(buckets)-1)
	idx := make([]string, 0, len(buckets))
	for p, b := range buckets {
		if p > 0 {
			bounds = append(bounds, strconv.FormatInt(b.lowerUS, 10))
		}
		idx = append(idx, strconv.Itoa(b.index))
	}
	return "'{" + strings.Join(bounds, ",") + "}'::bigint[]", "'{" + strings.Join(idx, ",") + "}'::int[]"
}()

// bucketSQL is the SQL expression of the bucket of a duration expression
// in microseconds (bigint).
func bucketSQL(us string) string {
	return "(" + bucketIndexSQL + ")[width_bucket(" + us + ", " + bucketArraySQL + ") + 1]"
}

// histogram counts durations per bucket index.
type histogram map[int]int64

// quantile estimates the p-quantile (0 < p ≤ 1) in seconds: the value of
// rank ⌈p·n⌉ in the sorted durations (the nearest-rank definition), found
// in its bucket by geometric interpolation between the bucket's bounds
// (linear in MinBucket, whose lower bound is 0). The estimate lies in the
// same bucket as the true value, so it is within 10% of it from about a
// millisecond on (within 1 ms below). In an open-ended bucket it is the
// bucket's lower bound. Rows of the first scheme's coarse buckets are read
// with their bounds, ordered by lower then upper bound. ok is false when
// the histogram is empty.
func (h histogram) quantile(p float64) (seconds float64, ok bool) {
	type span struct {
		lo, hi time.Duration
		n      int64
	}
	var spans []span
	var n int64
	for i, c := range h {
		lo, hi, ok := BucketBounds(i)
		if !ok || c <= 0 {
			continue
		}
		spans = append(spans, span{lo, hi, c})
		n += c
	}
	if n == 0 {
		return 0, false
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Or(cmp.Compare(a.lo, b.lo), cmp.Compare(a.hi, b.hi)) })
	rank := math.Ceil(p * float64(n))
	var cum int64
	for _, s := range spans {
		if float64(cum+s.n) < rank {
			cum += s.n
			continue
		}
		if s.hi == time.Duration(math.MaxInt64) {
			return s.lo.Seconds(), true
		}
		// The rank's place in the bucket, its samples spread evenly.
		frac := (rank - float64(cum) - 0.5) / float64(s.n)
		frac = max(0, min(1, frac))
		lo, hi := s.lo.Seconds(), s.hi.Seconds()
		if lo == 0 {
			return hi * frac, true
		}
		return lo * math.Pow(hi/lo, frac), true
	}
	// Unreachable: rank ≤ n.
	return 0, false
}
