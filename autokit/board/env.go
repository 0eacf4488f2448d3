package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/keyboard"
	"github.com/balena/leviathan-action/autokit/network"
	"github.com/balena/leviathan-action/autokit/power"
	"github.com/balena/leviathan-action/autokit/relay/relayenv"
	"github.com/balena/leviathan-action/autokit/sdmux/sdmuxenv"
	"github.com/balena/leviathan-action/autokit/serialconsole"
	"github.com/balena/leviathan-action/autokit/video"
)

// Variables names the environment variables that select a driver family;
// any of them set means the testbot drives real hardware.
var Variables = []string{"POWER", "SD_MUX", "SERIAL", "NETWORK", "VIDEO", "KEYBOARD", "DIGITAL_RELAY"}

// Configured reports whether the environment configures any hardware.
func Configured(getenv func(string) string) bool {
	for _, v := range Variables {
		if getenv(v) != "" {
			return true
		}
	}
	return false
}

// Open builds the board the process environment describes: DIGITAL_RELAY
// first (a button-mode POWER may press it), then POWER (required), SD_MUX
// (refusing to switch while powered), SERIAL, KEYBOARD, VIDEO and NETWORK
// (started: its DHCP server runs until Close), each from its family's
// variables. On error every device opened so far is closed again.
func Open(ctx context.Context, name string, log *slog.Logger) (b *Board, err error) {
	var p Parts
	p.Describe = map[dut.Capability]string{}
	defer func() {
		if err != nil {
			for _, c := range p.Closers {
				c.Close()
			}
		}
	}()
	r, err := relayenv.Open(ctx, log)
	if err != nil {
		return nil, err
	}
	if r != nil {
		p.Relay = r
		p.Closers = append(p.Closers, r)
		p.Describe[dut.CapRelay] = "DIGITAL_RELAY=" + os.Getenv("DIGITAL_RELAY")
	}
	opts := []power.Option{power.WithLogger(log)}
	if r != nil {
		opts = append(opts, power.WithRelay(r))
	}
	if p.Power, err = power.Open(os.Getenv, opts...); err != nil {
		return nil, err
	}
	p.Describe[dut.CapPower] = "POWER=" + os.Getenv("POWER")
	st, err := sdmuxenv.Open(log)
	if err != nil {
		return nil, err
	}
	if st != nil {
		st.Power = p.Power
		p.Storage = st
		p.Describe[dut.CapStorage] = "SD_MUX=" + os.Getenv("SD_MUX") + " " + st.Device
	}
	if path := os.Getenv("SERIAL"); path != "" {
		c := &console{}
		port, err := serialconsole.OpenEnv(os.Getenv, &c.capture, serialconsole.WithLogger(log))
		if err != nil {
			return nil, err
		}
		c.port = port
		p.Console = c
		p.Closers = append(p.Closers, port)
		p.Describe[dut.CapConsole] = "SERIAL=" + path
	}
	if os.Getenv("KEYBOARD") != "" {
		k, err := keyboard.Open(os.Getenv, keyboard.WithLogger(log))
		if err != nil {
			return nil, err
		}
		p.Keyboard = k
		p.Closers = append(p.Closers, k)
		p.Describe[dut.CapKeyboard] = "KEYBOARD=" + os.Getenv("KEYBOARD")
	}
	if os.Getenv("VIDEO") != "" {
		v, err := video.Open(os.Getenv, video.WithLogger(log))
		if err != nil {
			return nil, err
		}
		p.Screen = v
		p.Describe[dut.CapScreen] = "VIDEO=" + os.Getenv("VIDEO")
	}
	if os.Getenv("NETWORK") != "" {
		n, err := network.Open(os.Getenv, log)
		if err != nil {
			return nil, err
		}
		if err := n.Start(ctx); err != nil {
			return nil, err
		}
		p.Network = n
		p.Closers = append(p.Closers, n)
		p.Describe[dut.CapNetwork] = "NETWORK=" + os.Getenv("NETWORK")
	}
	return New(name, p)
}

// console is a serial port with its capture.
type console struct {
	port    *serialconsole.Port
	capture dut.Capture
}

func (c *console) Write(p []byte) (int, error) { return c.port.Write(p) }
func (c *console) Log() *dut.Capture           { return &c.capture }

// Alive reports whether the port's reader still runs (the worker's health
// check reads it).
func (c *console) Alive() bool {
	select {
	case <-c.port.Done():
		return false
	default:
		return true
	}
}

// Check probes every configured device and writes one line per device to
// w; it returns an error naming each device that failed. Power state is
// read, relay channel 1 is read back, the console must be open, the video
// device must give a frame and the keyboard device be open; the network is
// started; the storage is listed but not switched (the DUT may be using
// it).
func (b *Board) Check(ctx context.Context, w io.Writer) error {
	var errs []error
	line := func(c dut.Capability, detail string, err error) {
		mark := "ok"
		if err != nil {
			mark = "FAILED: " + err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", c, err))
		}
		fmt.Fprintf(w, "%-8s %-50s %s\n", c, b.p.Describe[c]+detail, mark)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := b.p.Power.State(cctx)
	line(dut.CapPower, fmt.Sprintf(" (state %s)", st), err)
	if b.p.Storage != nil {
		line(dut.CapStorage, " (not switched by a check)", nil)
	}
	if c, ok := b.p.Console.(*console); ok {
		var err error
		if !c.Alive() {
			err = errors.New("the serial port closed")
		}
		line(dut.CapConsole, fmt.Sprintf(" (%d bytes captured)", c.capture.Len()), err)
	}
	if b.p.Keyboard != nil {
		line(dut.CapKeyboard, " (device open)", nil)
	}
	if b.p.Screen != nil {
		png, err := b.p.Screen.Screenshot(cctx)
		line(dut.CapScreen, fmt.Sprintf(" (a %d-byte frame)", len(png)), err)
	}
	if b.p.Network != nil {
		// The DHCP server runs; a DUT that is off has no lease, which is
		// no fault of the network.
		line(dut.CapNetwork, " (serving DHCP)", nil)
	}
	if r, ok := b.p.Relay.(interface {
		State(ctx context.Context, channel int) (bool, error)
	}); ok {
		closed, err := r.State(cctx, 1)
		line(dut.CapRelay, fmt.Sprintf(" (channel 1 closed=%v)", closed), err)
	}
	return errors.Join(errs...)
}
