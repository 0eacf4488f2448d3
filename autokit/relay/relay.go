package relay

import (
	"context"
	"fmt"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Stater is implemented by relays that can report a channel's state.
type Stater interface {
	// State reports whether channel is closed.
	State(ctx context.Context, channel int) (closed bool, err error)
}

// StateRelay is a relay that can report its state: what Power needs.
type StateRelay interface {
	dut.Relay
	Stater
}

// PowerConfig is the wiring of a supply through a relay channel. The
// envconfig tags name the variables after the POWER_ prefix.
type PowerConfig struct {
	Channel        int  `envconfig:"CHANNEL" required:"true" desc:"relay channel (1-based) the board's supply runs through"`
	NormallyClosed bool `envconfig:"NORMALLY_CLOSED" default:"false" desc:"the supply is wired through the normally-closed contact: an open relay powers the board"`
}

// NewPower returns the Power for cfg over r, which must be able to read
// its channels back (the HID and GPIO drivers can).
func NewPower(r dut.Relay, cfg PowerConfig) (Power, error) {
	if r == nil {
		return Power{}, fmt.Errorf("relay: POWER=relay needs the relay its supply runs through (configure DIGITAL_RELAY); none was given")
	}
	sr, ok := r.(StateRelay)
	if !ok {
		return Power{}, fmt.Errorf("relay: POWER=relay needs a relay that reads its channels back; %T cannot", r)
	}
	if cfg.Channel < 1 {
		return Power{}, fmt.Errorf("relay: POWER_CHANNEL=%d: channels count from 1", cfg.Channel)
	}
	return Power{Relay: sr, Channel: cfg.Channel, Inverted: cfg.NormallyClosed}, nil
}

// Power powers a DUT through one relay channel: closing the relay powers the
// DUT, unless Inverted (the supply is wired through the normally-closed
// contact).
type Power struct {
	Relay    StateRelay
	Channel  int
	Inverted bool
}

var _ dut.Power = Power{}

// On implements dut.Power.
func (p Power) On(ctx context.Context) error {
	if err := p.Relay.Set(ctx, p.Channel, !p.Inverted); err != nil {
		return fmt.Errorf("relay: power on through channel %d: %w", p.Channel, err)
	}
	return nil
}

// Off implements dut.Power.
func (p Power) Off(ctx context.Context) error {
	if err := p.Relay.Set(ctx, p.Channel, p.Inverted); err != nil {
		return fmt.Errorf("relay: power off through channel %d: %w", p.Channel, err)
	}
	return nil
}

// State implements dut.Power from the relay's state.
func (p Power) State(ctx context.Context) (dut.PowerState, error) {
	closed, err := p.Relay.State(ctx, p.Channel)
	if err != nil {
		return "", fmt.Errorf("relay: power state of channel %d: %w", p.Channel, err)
	}
	if closed != p.Inverted {
		return dut.PowerOn, nil
	}
	return dut.PowerOff, nil
}

// CheckChannel returns an error naming the valid range when channel is not
// in 1..channels. prefix is the driver's package name.
func CheckChannel(prefix string, channel, channels int) error {
	if channel < 1 || channel > channels {
		return fmt.Errorf("%s: channel %d out of range: this relay has channels 1 to %d", prefix, channel, channels)
	}
	return nil
}
