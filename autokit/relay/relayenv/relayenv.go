// Package relayenv builds the digital relay driver DIGITAL_RELAY names
// from its DIGITAL_RELAY_* variables, read through an injected getenv:
// DIGITAL_RELAY=hid (hidrelay: DIGITAL_RELAY_SERIAL, DIGITAL_RELAY_CHANNELS)
// or DIGITAL_RELAY=gpio (gpiorelay: DIGITAL_RELAY_CHIP, DIGITAL_RELAY_LINES,
// DIGITAL_RELAY_ACTIVE_LOW). It is separate from package relay so that the
// drivers can import relay.
package relayenv

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/relay"
	"github.com/balena/leviathan-action/autokit/relay/gpiorelay"
	"github.com/balena/leviathan-action/autokit/relay/hidrelay"
)

// Prefix is the prefix of every relay variable.
const Prefix = "DIGITAL_RELAY"

// ErrNotConfigured is returned by Open when DIGITAL_RELAY is not set.
var ErrNotConfigured = errors.New("relay: DIGITAL_RELAY is not set")

// Relay is an opened relay driver.
type Relay interface {
	relay.StateRelay
	io.Closer
}

var (
	_ Relay = (*hidrelay.Board)(nil)
	_ Relay = (*gpiorelay.Relay)(nil)
)

// Option passes what a driver needs besides its variables.
type Option func(*deps)

type deps struct {
	ctx context.Context // Open's, for the drivers' device search
	log *slog.Logger
}

// WithLogger gives the driver a logger. It is silent by default.
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.log = l } }

// Driver is one entry of the table.
type Driver = envconf.Driver[Relay, deps]

var family = envconf.Family[Relay, deps]{Package: "relay", Prefix: Prefix, NotConfigured: ErrNotConfigured,
	Drivers: []Driver{
		envconf.Entry("gpio", "relays on the lines of a GPIO chip (a relay HAT)",
			func(c gpiorelay.Config, d deps) (Relay, error) {
				var o []gpiorelay.Option
				if d.log != nil {
					o = append(o, gpiorelay.WithLogger(d.log))
				}
				r, err := gpiorelay.Open(d.ctx, c, o...)
				if err != nil {
					return nil, err
				}
				return r, nil
			}),
		envconf.Entry("hid", "a 1–8 channel USB HID relay board (dcttech USBRelayN, 16c0:05df)",
			func(c hidrelay.Config, d deps) (Relay, error) {
				var o []hidrelay.Option
				if d.log != nil {
					o = append(o, hidrelay.WithLogger(d.log))
				}
				b, err := hidrelay.Open(d.ctx, c, o...)
				if err != nil {
					return nil, err
				}
				return b, nil
			}),
	}}

// Drivers lists the drivers Open knows, sorted by name.
func Drivers() []Driver { return family.Drivers }

// Names lists the driver names, sorted.
func Names() []string { return family.Names() }

// Open opens the relay DIGITAL_RELAY names, configured from the
// DIGITAL_RELAY_* variables getenv returns. It fails with
// ErrNotConfigured when DIGITAL_RELAY is empty, and with an error naming
// the variable when one is missing or malformed.
func Open(ctx context.Context, getenv func(string) string, opts ...Option) (Relay, error) {
	d := deps{ctx: ctx}
	for _, o := range opts {
		o(&d)
	}
	return family.Open(getenv, d)
}

// Usage writes, for each driver, the variables it reads with their
// defaults and descriptions.
func Usage(w io.Writer) error { return family.Usage(w) }
