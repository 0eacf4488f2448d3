package powertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Options tune Conformance for slow drivers.
type Options struct {
	// CallTimeout bounds each On, Off and State; 30 s when 0.
	CallTimeout time.Duration
	// Prompt bounds a call made with an already-cancelled context; 1 s
	// when 0.
	Prompt time.Duration
}

// Conformance checks that p keeps the contract of dut.Power. It runs its
// checks as subtests, in order, on the same p, and leaves p off.
func Conformance(t *testing.T, p dut.Power) {
	t.Helper()
	ConformanceWith(t, p, Options{})
}

// ConformanceWith is Conformance with options.
func ConformanceWith(t *testing.T, p dut.Power, o Options) {
	t.Helper()
	if o.CallTimeout == 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.Prompt == 0 {
		o.Prompt = time.Second
	}
	c := checker{p: p, o: o}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), o.CallTimeout)
		defer cancel()
		p.Off(ctx)
	})

	t.Run("OffWhenOff", func(t *testing.T) {
		c.off(t)
		c.off(t) // the DUT is surely off now: Off again must succeed
		c.want(t, dut.PowerOff)
	})
	t.Run("On", func(t *testing.T) {
		c.on(t)
		c.want(t, dut.PowerOn)
	})
	t.Run("OnWhenOn", func(t *testing.T) {
		c.on(t)
		c.want(t, dut.PowerOn)
	})
	t.Run("Off", func(t *testing.T) {
		c.off(t)
		c.want(t, dut.PowerOff)
	})
	t.Run("Cycle", func(t *testing.T) {
		for range 2 {
			c.on(t)
			c.want(t, dut.PowerOn)
			c.off(t)
			c.want(t, dut.PowerOff)
		}
	})
	t.Run("StateIsStable", func(t *testing.T) {
		// State only reads: asking twice changes nothing.
		c.want(t, dut.PowerOff)
		c.want(t, dut.PowerOff)
	})
	t.Run("CancelledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := []struct {
			name string
			call func() error
		}{
			{"On", func() error { return p.On(ctx) }},
			{"Off", func() error { return p.Off(ctx) }},
			{"State", func() error { _, err := p.State(ctx); return err }},
		}
		for _, k := range calls {
			start := time.Now()
			err := k.call()
			if d := time.Since(start); d > o.Prompt {
				t.Errorf("%s with a cancelled context took %v; want at most %v", k.name, d, o.Prompt)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context = %v; want an error wrapping context.Canceled", k.name, err)
			}
		}
		// A cancelled On must not have powered the DUT.
		c.want(t, dut.PowerOff)
	})
	t.Run("ExpiredDeadline", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		if err := p.On(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("On past its deadline = %v; want an error wrapping context.DeadlineExceeded", err)
		}
		c.want(t, dut.PowerOff)
	})
}

type checker struct {
	p dut.Power
	o Options
}

func (c checker) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.CallTimeout)
	t.Cleanup(cancel)
	return ctx
}

func (c checker) on(t *testing.T) {
	t.Helper()
	if err := c.p.On(c.ctx(t)); err != nil {
		t.Fatalf("On: %v", err)
	}
}

func (c checker) off(t *testing.T) {
	t.Helper()
	if err := c.p.Off(c.ctx(t)); err != nil {
		t.Fatalf("Off: %v", err)
	}
}

func (c checker) want(t *testing.T, want dut.PowerState) {
	t.Helper()
	got, err := c.p.State(c.ctx(t))
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	if got != want {
		t.Fatalf("State = %q; want %q", got, want)
	}
}
