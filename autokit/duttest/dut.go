package duttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
)

// DUT is a fake device under test. Its storage is a file in a temporary
// directory, its console a dut.Capture the test writes into (Print), its
// network points at an address the test sets (typically an SSHServer), its
// screen shows a 2×2 PNG and its keyboard records presses. It is safe for
// concurrent use.
type DUT struct {
	name string
	disk string
	log  dut.Capture

	mu        sync.Mutex
	state     dut.PowerState
	powerOns  int
	open      bool
	input     bytes.Buffer
	addr      dut.Address
	presses   [][]string
	onPowerOn func()
	powerErr  error
}

var (
	_ dut.DUT      = (*DUT)(nil)
	_ dut.Storage  = (*DUT)(nil)
	_ dut.Console  = (*DUT)(nil)
	_ dut.Network  = (*DUT)(nil)
	_ dut.Screen   = (*DUT)(nil)
	_ dut.Keyboard = (*DUT)(nil)
	_ dut.Target   = (*target)(nil)
	_ dut.Zeroed   = (*target)(nil)
)

// New returns a powered-off fake DUT named "fake" whose storage lives in
// tb.TempDir().
func New(tb testing.TB) *DUT {
	tb.Helper()
	return &DUT{
		name:  "fake",
		disk:  filepath.Join(tb.TempDir(), "disk.img"),
		state: dut.PowerOff,
		addr:  dut.Address{IP: "127.0.0.1", Gateway: "127.0.0.1"},
	}
}

// Name implements dut.DUT.
func (d *DUT) Name() string { return d.name }

// On implements dut.Power. It calls the OnPowerOn hook, if any, after
// switching on.
func (d *DUT) On(ctx context.Context) error {
	d.mu.Lock()
	if d.powerErr != nil {
		err := d.powerErr
		d.mu.Unlock()
		return err
	}
	if d.open {
		d.mu.Unlock()
		return errors.New("duttest: storage is still open by the testbot")
	}
	d.state = dut.PowerOn
	d.powerOns++
	hook := d.onPowerOn
	d.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

// Off implements dut.Power.
func (d *DUT) Off(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.powerErr != nil {
		return d.powerErr
	}
	d.state = dut.PowerOff
	return nil
}

// State implements dut.Power.
func (d *DUT) State(ctx context.Context) (dut.PowerState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.powerErr != nil {
		return "", d.powerErr
	}
	return d.state, nil
}

// PowerOns counts the calls to On that switched the DUT on.
func (d *DUT) PowerOns() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.powerOns
}

// OnPowerOn sets a hook called (without locks held) each time the DUT is
// switched on: print a boot log, a kernel panic, start a server.
func (d *DUT) OnPowerOn(hook func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.onPowerOn = hook
}

// FailPower makes every power call fail with err (nil to heal).
func (d *DUT) FailPower(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.powerErr = err
}

// Open implements dut.Storage: it truncates the disk file and returns it
// as a target that reads back zeros. It fails with dut.ErrPoweredOn while
// the DUT is on.
func (d *DUT) Open(ctx context.Context) (dut.Target, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == dut.PowerOn {
		return nil, dut.ErrPoweredOn
	}
	if d.open {
		return nil, errors.New("duttest: storage is already open")
	}
	f, err := os.OpenFile(d.disk, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("duttest: %w", err)
	}
	d.open = true
	return &target{File: f, d: d}, nil
}

// Disk is the path of the storage file.
func (d *DUT) Disk() string { return d.disk }

// target is the opened disk file; closing it hands it back to the DUT.
type target struct {
	*os.File
	d *DUT
}

// Zeroed implements dut.Zeroed: the file was just truncated.
func (t *target) Zeroed() bool { return true }

// Close closes the file and hands the medium back to the DUT.
func (t *target) Close() error {
	err := t.File.Close()
	t.d.mu.Lock()
	t.d.open = false
	t.d.mu.Unlock()
	return err
}

// Write implements dut.Console: it records console input (see Input).
func (d *DUT) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.input.Write(p)
}

// Input is everything written to the console so far.
func (d *DUT) Input() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.input.Bytes())
}

// Log implements dut.Console.
func (d *DUT) Log() *dut.Capture { return &d.log }

// Print appends s to the console output, as if the DUT printed it.
func (d *DUT) Print(s string) { d.log.Write([]byte(s)) }

// SetSSH points the DUT's network address at an SSH server (host:port).
func (d *DUT) SetSSH(hostport string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addr.SSH = hostport
}

// Address implements dut.Network.
func (d *DUT) Address(ctx context.Context) (dut.Address, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.addr.SSH == "" {
		return dut.Address{}, errors.New("duttest: no SSH address set (SetSSH)")
	}
	return d.addr, nil
}

// Screenshot implements dut.Screen with a 2×2 PNG (ScreenPNG).
func (d *DUT) Screenshot(ctx context.Context) ([]byte, error) {
	return slices.Clone(screenPNG), nil
}

// ScreenPNG is what the fake screen shows.
func ScreenPNG() []byte { return slices.Clone(screenPNG) }

var screenPNG = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	img.Set(1, 1, color.RGBA{B: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}()

// Press implements dut.Keyboard: it records the chord.
func (d *DUT) Press(ctx context.Context, chord ...string) error {
	if len(chord) == 0 {
		return errors.New("duttest: no keys to press")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.presses = append(d.presses, slices.Clone(chord))
	return nil
}

// Presses lists the chords pressed so far.
func (d *DUT) Presses() [][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([][]string, len(d.presses))
	for i, c := range d.presses {
		out[i] = slices.Clone(c)
	}
	return out
}
