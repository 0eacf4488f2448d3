// Package board composes a DUT from separate drivers — a power switch, a
// storage mux, a serial adapter, a network, a capture card, a keyboard
// emulator, a relay — as a testbot owner wired them to a real board. The
// Board offers exactly the capabilities it was given (dut.Composed), so
// the worker serves it like QemuKit and suites skip what it lacks.
//
// Open builds a Board from an environment read through an injected getenv
// (POWER=…, SD_MUX=…, SERIAL=…, DIGITAL_RELAY=…, KEYBOARD=…, VIDEO=…,
// NETWORK=…), each family through its own loader (package envconf), so a
// test can configure a whole board from a map; Check probes every
// configured device for `leviathan worker --check`.
package board

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/sdmux"
)

// Parts are the drivers a Board is made of. Power is required; the others
// are optional and absent when nil.
type Parts struct {
	Power    dut.Power
	Storage  dut.Storage
	Console  dut.Console
	Network  dut.Network
	Screen   dut.Screen
	Keyboard dut.Keyboard
	Relay    dut.Relay
	// Closers release the drivers' devices, in order, on Close.
	Closers []io.Closer
	// Describe names each configured device for Check, by capability.
	Describe map[dut.Capability]string
}

// Board is a DUT made of Parts. It implements every capability interface
// and dut.Composed; use dut.As to reach a capability.
type Board struct {
	name string
	p    Parts
}

var (
	_ dut.DUT      = (*Board)(nil)
	_ dut.Composed = (*Board)(nil)
	_ dut.Storage  = (*Board)(nil)
	_ dut.Console  = (*Board)(nil)
	_ dut.Network  = (*Board)(nil)
	_ dut.Screen   = (*Board)(nil)
	_ dut.Keyboard = (*Board)(nil)
	_ dut.Relay    = (*Board)(nil)
)

// New returns the Board named name made of p.
func New(name string, p Parts) (*Board, error) {
	if name == "" {
		return nil, errors.New("board: a board needs a name")
	}
	if p.Power == nil {
		return nil, errors.New("board: a board needs power control (POWER=…)")
	}
	return &Board{name: name, p: p}, nil
}

// Has implements dut.Composed.
func (b *Board) Has(c dut.Capability) bool {
	switch c {
	case dut.CapPower:
		return b.p.Power != nil
	case dut.CapStorage:
		return b.p.Storage != nil
	case dut.CapConsole:
		return b.p.Console != nil
	case dut.CapNetwork:
		return b.p.Network != nil
	case dut.CapScreen:
		return b.p.Screen != nil
	case dut.CapKeyboard:
		return b.p.Keyboard != nil
	case dut.CapRelay:
		return b.p.Relay != nil
	}
	return false
}

// missing is the error of a capability the board was not given.
func (b *Board) missing(c dut.Capability) error {
	return fmt.Errorf("board %s: no %s is configured: %w", b.name, c, errors.ErrUnsupported)
}

// Name implements dut.DUT.
func (b *Board) Name() string { return b.name }

// On implements dut.Power.
func (b *Board) On(ctx context.Context) error { return b.p.Power.On(ctx) }

// Off implements dut.Power.
func (b *Board) Off(ctx context.Context) error { return b.p.Power.Off(ctx) }

// State implements dut.Power.
func (b *Board) State(ctx context.Context) (dut.PowerState, error) { return b.p.Power.State(ctx) }

// Open implements dut.Storage.
func (b *Board) Open(ctx context.Context) (dut.Target, error) {
	if b.p.Storage == nil {
		return nil, b.missing(dut.CapStorage)
	}
	if st, err := b.p.Power.State(ctx); err == nil && st == dut.PowerOn {
		return nil, dut.ErrPoweredOn
	}
	return b.p.Storage.Open(ctx)
}

// Mux is the storage mux behind Open, for flashing procedures that
// switch the card themselves (mux-host, mux-dut); nil when the storage
// has none (a card reader) or there is no storage.
func (b *Board) Mux() sdmux.Mux {
	if st, ok := b.p.Storage.(*sdmux.Storage); ok && st.Mux != nil {
		return st.Mux
	}
	return nil
}

// Write implements dut.Console.
func (b *Board) Write(p []byte) (int, error) {
	if b.p.Console == nil {
		return 0, b.missing(dut.CapConsole)
	}
	return b.p.Console.Write(p)
}

// Log implements dut.Console; nil without a console.
func (b *Board) Log() *dut.Capture {
	if b.p.Console == nil {
		return nil
	}
	return b.p.Console.Log()
}

// Address implements dut.Network.
func (b *Board) Address(ctx context.Context) (dut.Address, error) {
	if b.p.Network == nil {
		return dut.Address{}, b.missing(dut.CapNetwork)
	}
	return b.p.Network.Address(ctx)
}

// Screenshot implements dut.Screen.
func (b *Board) Screenshot(ctx context.Context) ([]byte, error) {
	if b.p.Screen == nil {
		return nil, b.missing(dut.CapScreen)
	}
	return b.p.Screen.Screenshot(ctx)
}

// Press implements dut.Keyboard.
func (b *Board) Press(ctx context.Context, chord ...string) error {
	if b.p.Keyboard == nil {
		return b.missing(dut.CapKeyboard)
	}
	return b.p.Keyboard.Press(ctx, chord...)
}

// Set implements dut.Relay.
func (b *Board) Set(ctx context.Context, channel int, closed bool) error {
	if b.p.Relay == nil {
		return b.missing(dut.CapRelay)
	}
	return b.p.Relay.Set(ctx, channel, closed)
}

// Close releases the drivers' devices.
func (b *Board) Close() error {
	var errs []error
	for _, c := range b.p.Closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
