package client

import "time"

// Clock is the time KeepAlive measures its heartbeats by. Tests pass a
// manual clock (workertest.Clock) to drive heartbeats without sleeping;
// the default is the system clock. worker.Clock has the same methods, so
// one clock can drive both ends.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop
	// cancels the call and reports whether it did so before f ran.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// WithClock measures KeepAlive's intervals by c instead of the system
// clock.
func WithClock(c Clock) Option {
	return func(cl *Client) {
		if c != nil {
			cl.clock = c
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
