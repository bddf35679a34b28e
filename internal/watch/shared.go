package watch

import (
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// shared lets the subscribers woken by one event share the reads they make
// for it: thousands watching one tenant cost one query per event, not one
// each. Keys name the event's delivery number, so every shared result was
// read after that event was delivered and cannot be stale for it.
type shared struct {
	group   singleflight.Group
	mu      sync.Mutex
	entries map[string]sharedEntry
	swept   time.Time
}

type sharedEntry struct {
	v   any
	err error
	at  time.Time
}

// sharedTTL is how long a result is kept for late subscribers of its event.
const sharedTTL = 5 * time.Second

func newShared() *shared { return &shared{entries: map[string]sharedEntry{}} }

// do returns the result of fn for key, running fn once for all callers.
func (s *shared) do(key string, fn func() (any, error)) (any, error) {
	s.mu.Lock()
	if e, ok := s.entries[key]; ok {
		s.mu.Unlock()
		return e.v, e.err
	}
	s.mu.Unlock()
	v, err, _ := s.group.Do(key, func() (any, error) {
		v, err := fn()
		now := time.Now()
		s.mu.Lock()
		s.entries[key] = sharedEntry{v: v, err: err, at: now}
		if now.Sub(s.swept) > sharedTTL {
			for k, e := range s.entries {
				if now.Sub(e.at) > sharedTTL {
					delete(s.entries, k)
				}
			}
			s.swept = now
		}
		s.mu.Unlock()
		return v, err
	})
	return v, err
}
