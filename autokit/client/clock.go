package client

import "github.com/balena/leviathan-action/internal/ctxtime"

// Clock is the time KeepAlive measures its heartbeats by. Tests pass a
// manual clock (workertest.Clock) to drive heartbeats without sleeping;
// the default is the system clock. It is worker.Clock too (both are
// ctxtime.Clock), so one clock drives both ends.
type Clock = ctxtime.Clock

// WithClock measures KeepAlive's intervals by c instead of the system
// clock.
func WithClock(c Clock) Option {
	return func(cl *Client) {
		if c != nil {
			cl.clock = c
		}
	}
}
