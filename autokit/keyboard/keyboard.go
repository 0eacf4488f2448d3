package keyboard

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/iotest"
	"github.com/balena/leviathan-action/autokit/keyboard/hidgadget"
	"github.com/balena/leviathan-action/autokit/power"
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
	opener iotest.Opener
}

// WithLogger gives the driver a logger. It is silent by default.
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.log = l } }

// WithOpener opens device nodes through o (a recording or a playback).
func WithOpener(o iotest.Opener) Option { return func(d *deps) { d.opener = o } }

// Driver is one entry of the table.
type Driver struct {
	Name string
	Doc  string
	// Config returns a pointer to a new zero configuration struct with
	// envconfig tags.
	Config func() any
	open   func(cfg any, d deps) (Keyboard, error)
}

var drivers = [...]Driver{
	{
		Name:   "hidgadget",
		Doc:    "a USB HID gadget keyboard (/dev/hidgN on a USB-OTG board cabled to the DUT)",
		Config: func() any { return new(hidgadget.Config) },
		open: func(cfg any, d deps) (Keyboard, error) {
			var o []hidgadget.Option
			if d.log != nil {
				o = append(o, hidgadget.WithLogger(d.log))
			}
			if d.opener != nil {
				o = append(o, hidgadget.WithOpener(d.opener))
			}
			return hidgadget.Open(*cfg.(*hidgadget.Config), o...)
		},
	},
}

// Drivers lists the drivers Open knows, sorted by name.
func Drivers() []Driver { return drivers[:] }

// Names lists the driver names, sorted.
func Names() []string {
	n := make([]string, len(drivers))
	for i, d := range drivers {
		n[i] = d.Name
	}
	return n
}

// Open builds the driver KEYBOARD names, configured from the KEYBOARD_*
// variables getenv returns (os.Getenv for the process environment). It
// fails with ErrNotConfigured when KEYBOARD is empty, and with an error
// naming the variable when one is malformed.
func Open(getenv func(string) string, opts ...Option) (Keyboard, error) {
	name := strings.ToLower(strings.TrimSpace(getenv(Prefix)))
	if name == "" {
		return nil, fmt.Errorf("%w; one of: %s", ErrNotConfigured, strings.Join(Names(), ", "))
	}
	var drv *Driver
	for i := range drivers {
		if drivers[i].Name == name {
			drv = &drivers[i]
		}
	}
	if drv == nil {
		return nil, fmt.Errorf("keyboard: unknown KEYBOARD=%q; one of: %s", name, strings.Join(Names(), ", "))
	}
	cfg := drv.Config()
	if err := power.Load(getenv, Prefix, cfg); err != nil {
		return nil, fmt.Errorf("keyboard: KEYBOARD=%s: %w", name, err)
	}
	var d deps
	for _, o := range opts {
		o(&d)
	}
	k, err := drv.open(cfg, d)
	if err != nil {
		return nil, fmt.Errorf("keyboard: KEYBOARD=%s: %w", name, err)
	}
	return k, nil
}
