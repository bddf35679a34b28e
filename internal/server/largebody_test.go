package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Large upload bodies are admitted by their size: four maximum-size ones at
// once, then the next waits until one is done (it is not even allocated:
// the body buffer is made only once admitted).
func TestLargeBodiesAreAdmittedBySize(t *testing.T) {
	l := newLargeBodies(10 << 20)
	ctx := context.Background()
	var releases []func()
	for range largeBodiesAtOnce {
		rel, err := l.acquire(ctx, 10<<20)
		require.NoError(t, err)
		releases = append(releases, rel)
	}
	require.False(t, l.sem.TryAcquire(10<<20), "a fifth maximum-size body is not admitted beside four")
	releases[0]()
	require.True(t, l.sem.TryAcquire(10<<20), "room again once one finished")
	l.sem.Release(10 << 20)
	// Small large bodies share the room: ten of a tenth each fit beside
	// the three left.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for range 10 {
		rel, err := l.acquire(short, 1<<20)
		require.NoError(t, err)
		defer rel()
	}
	for _, rel := range releases[1:] {
		rel()
	}
}
