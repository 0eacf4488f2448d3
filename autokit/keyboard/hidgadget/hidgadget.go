package hidgadget

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/dut"
)

// Config is the wiring of one gadget keyboard.
type Config struct {
	// Device is the gadget's HID character device (KEYBOARD_DEVICE).
	Device string `envconfig:"DEVICE" default:"/dev/hidg0" desc:"the HID gadget's character device"`
	// Hold is how long keys stay down between the press and the release
	// report (KEYBOARD_HOLD).
	Hold time.Duration `envconfig:"HOLD" default:"20ms" desc:"how long keys stay down"`
}

// Gadget is an opened USB HID gadget keyboard.
type Gadget struct {
	path string
	hold time.Duration
	log  *slog.Logger

	mu  sync.Mutex
	dev devio.Device
}

var _ dut.Keyboard = (*Gadget)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	opener devio.Opener
	log    *slog.Logger
}

// WithOpener opens the device through o (a recording or a playback)
// instead of the real node.
func WithOpener(op devio.Opener) Option { return func(o *options) { o.opener = op } }

// WithLogger logs every chord; silent by default.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Open opens the gadget's device for writing. A missing or not permitted
// node fails here, with what to check.
func Open(cfg Config, opts ...Option) (*Gadget, error) {
	o := options{opener: devio.Host{}, log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	if cfg.Device == "" {
		cfg.Device = "/dev/hidg0"
	}
	if cfg.Hold < 0 {
		return nil, fmt.Errorf("hidgadget: KEYBOARD_HOLD=%v: must not be negative", cfg.Hold)
	}
	dev, err := o.opener.Open(cfg.Device, os.O_WRONLY)
	if err != nil {
		return nil, fmt.Errorf("hidgadget: opening %s: %w%s", cfg.Device, err, hint(err))
	}
	return &Gadget{path: cfg.Device, hold: cfg.Hold, log: o.log, dev: dev}, nil
}

func hint(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return " (no such gadget device: is a HID keyboard function configured in configfs and the gadget bound to a UDC?)"
	case errors.Is(err, fs.ErrPermission):
		return " (not permitted: run as root or give the testbot user access with a udev rule)"
	case errors.Is(err, syscall.ESHUTDOWN), errors.Is(err, syscall.EPIPE):
		return " (the USB host is not connected: is the gadget port cabled to the DUT and the DUT powered?)"
	}
	return ""
}

// Path is the device the gadget writes to.
func (g *Gadget) Path() string { return g.path }

// Press sends one report holding chord's keys down, waits the hold time,
// and sends the all-zero release report. The release is sent even when ctx
// ends during the hold. Press implements dut.Keyboard.
func (g *Gadget) Press(ctx context.Context, chord ...string) error {
	r, err := Report(chord...)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hidgadget: pressing %q: %w", chord, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dev == nil {
		return fmt.Errorf("hidgadget: %s is closed", g.path)
	}
	if err := g.write(r[:]); err != nil {
		return fmt.Errorf("hidgadget: pressing %q: %w", chord, err)
	}
	var held error
	if g.hold > 0 {
		t := time.NewTimer(g.hold)
		select {
		case <-ctx.Done():
			t.Stop()
			held = ctx.Err()
		case <-t.C:
		}
	}
	var release [8]byte
	if err := g.write(release[:]); err != nil {
		return fmt.Errorf("hidgadget: releasing %q: %w (keys may still be held down)", chord, err)
	}
	g.log.Debug("pressed", "chord", chord, "report", fmt.Sprintf("% x", r))
	if held != nil {
		return fmt.Errorf("hidgadget: pressing %q: released early: %w", chord, held)
	}
	return nil
}

func (g *Gadget) write(b []byte) error {
	n, err := g.dev.Write(b)
	if err != nil {
		return fmt.Errorf("writing to %s: %w%s", g.path, err, hint(err))
	}
	if n != len(b) {
		return fmt.Errorf("writing to %s: short write of %d of %d bytes", g.path, n, len(b))
	}
	return nil
}

// Close closes the device.
func (g *Gadget) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dev == nil {
		return nil
	}
	err := g.dev.Close()
	g.dev = nil
	if err != nil {
		return fmt.Errorf("hidgadget: closing %s: %w", g.path, err)
	}
	return nil
}
