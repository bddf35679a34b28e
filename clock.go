package tenantd

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// Clock is the one source of the time for every rule that reads it —
// retention windows, period ends, key and link expiry, sweeps, campaign
// steps, the activation window. It is passed in at wiring (server.WithClock),
// so a rule about 30 days is tested by advancing a fake clock
// (clockwork.NewFakeClock) in milliseconds. Measurements of how long
// something took (request durations, readiness timings) and River's own
// scheduling use the real time.
type Clock = clockwork.Clock

// RealClock returns the clock of the wall time.
func RealClock() Clock { return clockwork.NewRealClock() }

// ClockOr returns c, or the real clock if c is nil.
func ClockOr(c Clock) Clock {
	if c == nil {
		return RealClock()
	}
	return c
}

// Now returns c's time as tenantd stores it: UTC, to the microsecond (what
// both PostgreSQL and SQLite keep).
func Now(c Clock) time.Time { return c.Now().UTC().Truncate(time.Microsecond) }
