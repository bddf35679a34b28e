// Package load drives a running tenantd over its public API — signups
// followed live to ACTIVE, thousands of held subscriptions — and reports
// latency percentiles and throughput. It backs `tenantd bench`.
package load

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Samples collects durations safely from many goroutines.
type Samples struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one duration.
func (s *Samples) Add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// Summary is the distribution of a set of samples.
type Summary struct {
	N                       int
	P50, P95, P99, Max, Avg time.Duration
}

// Summary computes the distribution so far.
func (s *Samples) Summary() Summary {
	s.mu.Lock()
	d := slices.Clone(s.d)
	s.mu.Unlock()
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	pick := func(q float64) time.Duration {
		i := int(q*float64(len(d))+0.5) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return Summary{N: len(d), P50: pick(.50), P95: pick(.95), P99: pick(.99), Max: d[len(d)-1], Avg: sum / time.Duration(len(d))}
}

func (s Summary) String() string {
	if s.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p95 %s  p99 %s  max %s  (n=%d)", ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max), s.N)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
