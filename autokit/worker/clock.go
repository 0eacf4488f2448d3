package worker

import "time"

// Clock is the time leases are measured by: their expiry, heartbeats and
// the reaper's rounds. Tests pass a manual clock (workertest.Clock) so
// that a lease expires when the test says, without sleeping; the default
// is the system clock. client.Clock has the same methods, so one clock can
// drive both ends.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop
	// cancels the call and reports whether it did so before f ran.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// WithClock measures leases by c instead of the system clock.
func WithClock(c Clock) Option {
	return func(w *Worker) {
		if c != nil {
			w.clock = c
		}
	}
}

// systemClock is the real time.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// waitFor waits d on c, or until done closes; it reports whether d
// passed.
func waitFor(c Clock, d time.Duration, done <-chan struct{}) bool {
	fired := make(chan struct{})
	stop := c.AfterFunc(d, func() { close(fired) })
	select {
	case <-fired:
		return true
	case <-done:
		stop()
		return false
	}
}

var _ Clock = systemClock{}
