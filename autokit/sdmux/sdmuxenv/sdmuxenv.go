// Package sdmuxenv builds the storage mux driver SD_MUX names from its
// SD_MUX_* variables, read through an injected getenv:
// SD_MUX=usbsdmux (SD_MUX_SG, SD_MUX_DEVICE, SD_MUX_TIMEOUT, SD_MUX_SETTLE),
// SD_MUX=sdwire (SD_MUX_SERIAL, SD_MUX_DEVICE, SD_MUX_TIMEOUT) or
// SD_MUX=blockdev (SD_MUX_DEVICE, SD_MUX_TIMEOUT); all take SD_MUX_DIRECT.
// It is separate from package sdmux so that the drivers can import sdmux.
package sdmuxenv

import (
	"errors"
	"io"
	"log/slog"

	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/sdmux"
	"github.com/balena/leviathan-action/autokit/sdmux/blockdev"
	"github.com/balena/leviathan-action/autokit/sdmux/sdwire"
	"github.com/balena/leviathan-action/autokit/sdmux/usbsdmux"
)

// Prefix is the prefix of every storage mux variable.
const Prefix = "SD_MUX"

// ErrNotConfigured is returned by Open when SD_MUX is not set.
var ErrNotConfigured = errors.New("sdmux: SD_MUX is not set")

// Option passes what a driver needs besides its variables.
type Option func(*deps)

type deps struct{ log *slog.Logger }

// WithLogger gives the driver a logger. It is silent by default.
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.log = l } }

// Driver is one entry of the table.
type Driver = envconf.Driver[*sdmux.Storage, deps]

var family = envconf.Family[*sdmux.Storage, deps]{Package: "sdmux", Prefix: Prefix, NotConfigured: ErrNotConfigured,
	Drivers: []Driver{
		envconf.Entry("blockdev", "a card reader or any block device always on the testbot (no mux)",
			func(c blockdev.Config, d deps) (*sdmux.Storage, error) {
				return blockdev.New(c, d.log), nil
			}),
		envconf.Entry("sdwire", "an SDWire: the card switched by an FTDI chip",
			func(c sdwire.Config, d deps) (*sdmux.Storage, error) {
				var o []sdwire.Option
				if d.log != nil {
					o = append(o, sdwire.WithLogger(d.log))
				}
				s, _, err := sdwire.New(c, o...)
				return s, err
			}),
		envconf.Entry("usbsdmux", "a Linux Automation USB-SD-Mux, switched over SCSI generic",
			func(c usbsdmux.Config, d deps) (*sdmux.Storage, error) {
				var o []usbsdmux.Option
				if d.log != nil {
					o = append(o, usbsdmux.WithLogger(d.log))
				}
				s, _ := usbsdmux.New(c, o...)
				return s, nil
			}),
	}}

// Drivers lists the drivers Open knows, sorted by name.
func Drivers() []Driver { return family.Drivers }

// Names lists the driver names, sorted.
func Names() []string { return family.Names() }

// Open builds the storage SD_MUX names, configured from the SD_MUX_*
// variables getenv returns. It fails with ErrNotConfigured when SD_MUX is
// empty, and with an error naming the variable when one is missing or
// malformed. Set the returned Storage's Power so that its Open refuses
// while the DUT is powered.
func Open(getenv func(string) string, opts ...Option) (*sdmux.Storage, error) {
	var d deps
	for _, o := range opts {
		o(&d)
	}
	return family.Open(getenv, d)
}

// Usage writes, for each driver, the variables it reads with their
// defaults and descriptions.
func Usage(w io.Writer) error { return family.Usage(w) }
