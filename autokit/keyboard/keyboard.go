package keyboard

import (
	"errors"
	"io"
	"log/slog"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/keyboard/hidgadget"
)

// Prefix is the prefix of every keyboard variable.
const Prefix = "KEYBOARD"

// ErrNotConfigured is returned by Open when KEYBOARD is not set.
var ErrNotConfigured = errors.New("keyboard: KEYBOARD is not set")

// Keyboard is an opened keyboard driver.
type Keyboard interface {
	dut.Keyboard
	io.Closer
}

// Option passes what a driver needs besides its variables.
type Option func(*deps)

type deps struct {
	log    *slog.Logger
	opener devio.Opener
}

// WithLogger gives the driver a logger. It is silent by default.
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.log = l } }

// WithOpener opens device nodes through o (a recording or a playback).
func WithOpener(o devio.Opener) Option { return func(d *deps) { d.opener = o } }

// Driver is one entry of the table.
type Driver = envconf.Driver[Keyboard, deps]

var family = envconf.Family[Keyboard, deps]{Package: "keyboard", Prefix: Prefix, NotConfigured: ErrNotConfigured,
	Drivers: []Driver{
		envconf.Entry("hidgadget", "a USB HID gadget keyboard (/dev/hidgN on a USB-OTG board cabled to the DUT)",
			func(c hidgadget.Config, d deps) (Keyboard, error) {
				var o []hidgadget.Option
				if d.log != nil {
					o = append(o, hidgadget.WithLogger(d.log))
				}
				if d.opener != nil {
					o = append(o, hidgadget.WithOpener(d.opener))
				}
				return hidgadget.Open(c, o...)
			}),
	}}

// Drivers lists the drivers Open knows, sorted by name.
func Drivers() []Driver { return family.Drivers }

// Names lists the driver names, sorted.
func Names() []string { return family.Names() }

// Open builds the driver KEYBOARD names, configured from the KEYBOARD_*
// variables getenv returns (os.Getenv for the process environment). It
// fails with ErrNotConfigured when KEYBOARD is empty, and with an error
// naming the variable when one is malformed.
func Open(getenv func(string) string, opts ...Option) (Keyboard, error) {
	var d deps
	for _, o := range opts {
		o(&d)
	}
	return family.Open(getenv, d)
}

// Usage writes, for each driver, the variables it reads with their
// defaults and descriptions.
func Usage(w io.Writer) error { return family.Usage(w) }
