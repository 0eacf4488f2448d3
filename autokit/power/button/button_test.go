package button

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/powertest"
)

// board is a relay wired across a board's power button: a press released
// before offHold turns an off board on; a hold of offHold or more forces
// an on board off (and leaves an off board off). A press on an on board
// does nothing (no soft power-off).
type board struct {
	offHold time.Duration

	mu      sync.Mutex
	on      bool
	closed  bool
	since   time.Time
	presses []time.Duration
	failSet error
}

var _ dut.Relay = (*board)(nil)

func (b *board) Set(ctx context.Context, ch int, closed bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failSet != nil {
		return b.failSet
	}
	if ch != 2 {
		return errors.New("board: button is wired to channel 2")
	}
	switch {
	case closed && !b.closed:
		b.closed, b.since = true, time.Now()
	case !closed && b.closed:
		b.closed = false
		held := time.Since(b.since)
		b.presses = append(b.presses, held)
		if held >= b.offHold {
			b.on = false
		} else if !b.on {
			b.on = true
		}
	}
	return nil
}

func (b *board) sense(ctx context.Context) (dut.PowerState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.on {
		return dut.PowerOn, nil
	}
	return dut.PowerOff, nil
}

var cfg = Config{Channel: 2, PressOn: 5 * time.Millisecond, PressOff: 40 * time.Millisecond, Settle: time.Second}

func TestConformance(t *testing.T) {
	t.Run("WithSensor", func(t *testing.T) {
		b := &board{offHold: 30 * time.Millisecond}
		d, err := New(b, cfg, WithSensor(b.sense))
		if err != nil {
			t.Fatal(err)
		}
		powertest.Conformance(t, d)
	})
	t.Run("LastCommanded", func(t *testing.T) {
		b := &board{offHold: 30 * time.Millisecond}
		d, err := New(b, cfg)
		if err != nil {
			t.Fatal(err)
		}
		powertest.Conformance(t, d)
		if s, _ := b.sense(context.Background()); s != dut.PowerOff {
			t.Fatal("board left on")
		}
	})
}

func TestNoSecondPressWhenOn(t *testing.T) {
	b := &board{offHold: 30 * time.Millisecond}
	d, _ := New(b, cfg, WithSensor(b.sense))
	ctx := context.Background()
	d.On(ctx)
	d.On(ctx)
	if len(b.presses) != 1 || b.presses[0] >= b.offHold {
		t.Fatalf("presses = %v; want one short press", b.presses)
	}
	d.Off(ctx)
	if len(b.presses) != 2 || b.presses[1] < cfg.PressOff {
		t.Fatalf("presses = %v; want a hold of %v", b.presses, cfg.PressOff)
	}
}

func TestUnknownWithoutSensor(t *testing.T) {
	d, _ := New(&board{offHold: time.Second}, cfg)
	if _, err := d.State(context.Background()); !errors.Is(err, ErrUnknown) {
		t.Fatalf("State = %v", err)
	}
}

func TestReleasedWhenCancelledMidPress(t *testing.T) {
	b := &board{offHold: 30 * time.Millisecond, on: true}
	d, _ := New(b, Config{Channel: 2, PressOn: 5 * time.Millisecond, PressOff: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := d.Off(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Off = %v", err)
	}
	if b.closed {
		t.Fatal("relay left closed")
	}
	if _, err := d.State(context.Background()); !errors.Is(err, ErrUnknown) {
		t.Fatalf("State after a cut-short press = %v; want ErrUnknown", err)
	}
}

func TestBoardDoesNotFollow(t *testing.T) {
	b := &board{offHold: time.Hour} // the hold is too short for this board
	b.on = true
	c := cfg
	c.Settle = 100 * time.Millisecond
	d, _ := New(b, c, WithSensor(b.sense))
	if err := d.Off(context.Background()); err == nil || !strings.Contains(err.Error(), "sensor still says on") {
		t.Fatalf("Off = %v", err)
	}
}

func TestRelayError(t *testing.T) {
	b := &board{offHold: time.Second, failSet: errors.New("hidraw: device gone")}
	d, _ := New(b, cfg)
	if err := d.On(context.Background()); err == nil || !strings.Contains(err.Error(), "device gone") {
		t.Fatalf("On = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(nil, cfg); err == nil {
		t.Error("accepted no relay")
	}
	if _, err := New(&board{}, Config{PressOn: time.Second, PressOff: time.Millisecond}); err == nil {
		t.Error("accepted a hold shorter than the press")
	}
}
