package dummy

import (
	"context"
	"fmt"
	"sync"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Config is the dummy's configuration (POWER=dummy).
type Config struct {
	Initial string `envconfig:"INITIAL" default:"off" desc:"state at start: on or off"`
}

// Driver is an in-memory power switch. It implements dut.Power. It is safe
// for concurrent use.
type Driver struct {
	mu    sync.Mutex
	state dut.PowerState
	err   error
	calls int
}

var _ dut.Power = (*Driver)(nil)

// New returns a dummy that starts off.
func New() *Driver { return &Driver{state: dut.PowerOff} }

// FromConfig returns a dummy in cfg's initial state.
func FromConfig(cfg Config) (*Driver, error) {
	d := New()
	switch dut.PowerState(cfg.Initial) {
	case dut.PowerOn, dut.PowerOff:
		d.state = dut.PowerState(cfg.Initial)
	case "":
	default:
		return nil, fmt.Errorf("dummy: initial state %q is not on or off", cfg.Initial)
	}
	return d, nil
}

// Set changes the state as if someone flipped the switch by hand.
func (d *Driver) Set(s dut.PowerState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state = s
}

// SetError makes every later call fail with err (nil to stop).
func (d *Driver) SetError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = err
}

// Calls counts the On, Off and State calls so far.
func (d *Driver) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func (d *Driver) enter(ctx context.Context) error {
	d.calls++
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dummy: %w", err)
	}
	if d.err != nil {
		return fmt.Errorf("dummy: %w", d.err)
	}
	return nil
}

// On implements dut.Power.
func (d *Driver) On(ctx context.Context) error { return d.switchTo(ctx, dut.PowerOn) }

// Off implements dut.Power.
func (d *Driver) Off(ctx context.Context) error { return d.switchTo(ctx, dut.PowerOff) }

func (d *Driver) switchTo(ctx context.Context, s dut.PowerState) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx); err != nil {
		return err
	}
	d.state = s
	return nil
}

// State implements dut.Power.
func (d *Driver) State(ctx context.Context) (dut.PowerState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx); err != nil {
		return "", err
	}
	return d.state, nil
}
