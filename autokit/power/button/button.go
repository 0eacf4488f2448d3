package button

import (
	"context"
	"errors"
	"fmt"
	"github.com/balena/leviathan-action/internal/ctxtime"
	"log/slog"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// ErrUnknown is returned by State, without a sensor, before the first On or
// Off.
var ErrUnknown = errors.New("button: power state unknown until the first On or Off (no sensor)")

// Config is the timing and wiring of a button. The envconfig tags name the
// variables after the POWER_ prefix.
type Config struct {
	Channel  int           `envconfig:"CHANNEL" default:"0" desc:"relay channel wired across the button"`
	PressOn  time.Duration `envconfig:"PRESS_ON" default:"500ms" desc:"how long a press to turn on lasts"`
	PressOff time.Duration `envconfig:"PRESS_OFF" default:"5s" desc:"how long the button is held to force off"`
	Settle   time.Duration `envconfig:"SETTLE" default:"10s" desc:"with a sensor: how long the board may take to follow"`
}

// Sensor reads whether the board is powered.
type Sensor func(ctx context.Context) (dut.PowerState, error)

// Option configures a Driver.
type Option func(*Driver)

// WithSensor makes the driver read the board's state instead of trusting
// the last command.
func WithSensor(s Sensor) Option { return func(d *Driver) { d.sensor = s } }

// WithLogger logs each press at info level. Silent by default.
func WithLogger(l *slog.Logger) Option { return func(d *Driver) { d.log = l } }

// Driver presses a board's power button through a relay. It implements
// dut.Power.
type Driver struct {
	relay  dut.Relay
	cfg    Config
	sensor Sensor
	log    *slog.Logger

	mu   sync.Mutex     // one press at a time
	last dut.PowerState // last commanded; "" when unknown
}

var _ dut.Power = (*Driver)(nil)

// New returns a driver pressing relay r's channel cfg.Channel.
func New(r dut.Relay, cfg Config, opts ...Option) (*Driver, error) {
	if r == nil {
		return nil, errors.New("button: no relay to press the button with")
	}
	if cfg.Channel < 0 {
		return nil, fmt.Errorf("button: channel %d is negative", cfg.Channel)
	}
	if cfg.PressOn <= 0 || cfg.PressOff <= 0 {
		return nil, fmt.Errorf("button: press times must be positive (on %v, off %v)", cfg.PressOn, cfg.PressOff)
	}
	if cfg.PressOff <= cfg.PressOn {
		return nil, fmt.Errorf("button: the hold to turn off (%v) must be longer than the press to turn on (%v)", cfg.PressOff, cfg.PressOn)
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 10 * time.Second
	}
	d := &Driver{relay: r, cfg: cfg}
	for _, o := range opts {
		o(d)
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d, nil
}

// On implements dut.Power: a short press, unless the board is on already.
func (d *Driver) On(ctx context.Context) error {
	return d.to(ctx, dut.PowerOn, d.cfg.PressOn)
}

// Off implements dut.Power: a long hold, unless the board is off already.
func (d *Driver) Off(ctx context.Context) error {
	return d.to(ctx, dut.PowerOff, d.cfg.PressOff)
}

// State implements dut.Power: the sensor's reading, or without one the
// last commanded state.
func (d *Driver) State(ctx context.Context) (dut.PowerState, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("button: %w", err)
	}
	if d.sensor != nil {
		s, err := d.sensor(ctx)
		if err != nil {
			return "", fmt.Errorf("button: sensor: %w", err)
		}
		return s, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == "" {
		return "", ErrUnknown
	}
	return d.last, nil
}

func (d *Driver) to(ctx context.Context, want dut.PowerState, hold time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("button: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sensor == nil {
		if d.last == want {
			return nil
		}
		if err := d.press(ctx, hold); err != nil {
			d.last = ""
			return err
		}
		d.last = want
		return nil
	}
	s, err := d.sensor(ctx)
	if err != nil {
		return fmt.Errorf("button: sensor: %w", err)
	}
	if s == want {
		return nil
	}
	if err := d.press(ctx, hold); err != nil {
		return err
	}
	deadline := time.Now().Add(d.cfg.Settle)
	for {
		s, err := d.sensor(ctx)
		if err != nil {
			return fmt.Errorf("button: sensor: %w", err)
		}
		if s == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("button: pressed channel %d for %v but the sensor still says %s after %v", d.cfg.Channel, hold, s, d.cfg.Settle)
		}
		if err := ctxtime.Sleep(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("button: waiting for the board to turn %s: %w", want, err)
		}
	}
}

// press closes the relay for hold and always opens it again, even when
// ctx ends mid-press.
func (d *Driver) press(ctx context.Context, hold time.Duration) error {
	d.log.Info("pressing the power button", "channel", d.cfg.Channel, "for", hold)
	if err := d.relay.Set(ctx, d.cfg.Channel, true); err != nil {
		d.release(ctx)
		return fmt.Errorf("button: closing relay channel %d: %w", d.cfg.Channel, err)
	}
	held := ctxtime.Sleep(ctx, hold)
	if err := d.release(ctx); err != nil {
		return err
	}
	if held != nil {
		return fmt.Errorf("button: press cut short after less than %v: %w", hold, held)
	}
	return nil
}

func (d *Driver) release(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.relay.Set(rctx, d.cfg.Channel, false); err != nil {
		return fmt.Errorf("button: releasing relay channel %d: %w", d.cfg.Channel, err)
	}
	return nil
}
