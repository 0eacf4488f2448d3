// Package ctxtime holds the project's waits: a context-aware sleep, so
// retry loops and backoffs do not each write their own, and the Clock
// that leases and heartbeats are measured by, so tests can drive it.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, and then returns ctx's error. d ≤ 0
// returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Clock is the time that leases, heartbeats and their waits are measured
// by. Tests pass a manual clock (autokit/worker/workertest.Clock) so that
// a lease expires when the test says, without sleeping; System is the
// real time.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop
	// cancels the call and reports whether it did so before f ran.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// System is the real time.
var System Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// WaitFor waits d on c, or until done closes; it reports whether d
// passed.
func WaitFor(c Clock, d time.Duration, done <-chan struct{}) bool {
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
