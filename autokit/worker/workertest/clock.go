package workertest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/worker"
)

// Clock is a manual clock: Now stands still until Advance moves it, and
// functions scheduled with AfterFunc run when Advance passes their time.
// It implements worker.Clock and client.Clock. The zero value is not
// usable; use NewClock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	next    int
	pending map[int]timer
	changed chan struct{} // closed and replaced when pending changes
}

// timer is a function waiting for its time.
type timer struct {
	at time.Time
	f  func()
}

// NewClock returns a Clock that reads start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, pending: map[int]timer{}, changed: make(chan struct{})}
}

// Now is the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run in its own goroutine once the clock has
// advanced by d; stop cancels it and reports whether it had not run yet.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= 0 {
		go f()
		return func() bool { return false }
	}
	id := c.next
	c.next++
	c.pending[id] = timer{at: c.now.Add(d), f: f}
	c.signalLocked()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.pending[id]; !ok {
			return false
		}
		delete(c.pending, id)
		c.signalLocked()
		return true
	}
}

// Advance moves the clock forward by d and starts, in the order of their
// times, every function whose time has come.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []timer
	for id, t := range c.pending {
		if !t.at.After(c.now) {
			due = append(due, t)
			delete(c.pending, id)
		}
	}
	if len(due) > 0 {
		c.signalLocked()
	}
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		go t.f()
	}
}

// Waiting is how many scheduled functions have not run yet.
func (c *Clock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// WaitFor blocks until n functions are scheduled and waiting — the
// goroutines that wait on the clock (the worker's reaper, a KeepAlive)
// have come round again — or ctx ends.
func (c *Clock) WaitFor(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got, changed := len(c.pending), c.changed
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("workertest: %d functions wait on the clock, want %d: %w", got, n, ctx.Err())
		}
	}
}

// signalLocked wakes WaitFor. c.mu held.
func (c *Clock) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

var (
	_ worker.Clock = (*Clock)(nil)
	_ client.Clock = (*Clock)(nil)
)
