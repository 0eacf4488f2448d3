package worker

import "github.com/balena/leviathan-action/internal/ctxtime"

// Clock is the time leases are measured by: their expiry, heartbeats and
// the reaper's rounds. Tests pass a manual clock (workertest.Clock) so
// that a lease expires when the test says, without sleeping; the default
// is the system clock. It is client.Clock too (both are ctxtime.Clock),
// so one clock drives both ends.
type Clock = ctxtime.Clock

// WithClock measures leases by c instead of the system clock.
func WithClock(c Clock) Option {
	return func(w *Worker) {
		if c != nil {
			w.clock = c
		}
	}
}
