package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
var Variables = []string{power.Prefix, sdmuxenv.Prefix, serialconsole.Prefix, network.Prefix,
	video.Prefix, keyboard.Prefix, relayenv.Prefix}

// Configured reports whether the environment getenv reads configures any
// hardware.
func Configured(getenv func(string) string) bool {
	for _, v := range Variables {
		if getenv(v) != "" {
			return true
		}
	}
	return false
}

// Open builds the board the environment getenv reads describes (os.Getenv
// for the process's): DIGITAL_RELAY first (a button-mode POWER may press
// it), then POWER (required), SD_MUX (refusing to switch while powered),
// SERIAL, KEYBOARD, VIDEO and NETWORK (started: its DHCP server runs until
// Close), each through its family's loader. Errors name the variable at
// fault. On error every device opened so far is closed again.
func Open(ctx context.Context, name string, getenv func(string) string, log *slog.Logger) (b *Board, err error) {
	o := &opener{getenv: getenv, log: log}
	o.p.Describe = map[dut.Capability]string{}
	defer func() {
		if err != nil {
			o.closeAll()
		}
	}()
	for _, open := range []func(context.Context) error{
		o.relay, o.power, o.storage, o.console, o.keyboard, o.video, o.network,
	} {
		if err := open(ctx); err != nil {
			return nil, err
		}
	}
	return New(name, o.p)
}

// opener builds Parts one family at a time.
type opener struct {
	getenv func(string) string
	log    *slog.Logger
	p      Parts
}

// set reports whether the family variable prefix names a driver.
func (o *opener) set(prefix string) bool { return strings.TrimSpace(o.getenv(prefix)) != "" }

// describe records how capability c was configured, for Check.
func (o *opener) describe(c dut.Capability, prefix, detail string) {
	o.p.Describe[c] = prefix + "=" + o.getenv(prefix) + detail
}

func (o *opener) closeAll() {
	for _, c := range o.p.Closers {
		c.Close()
	}
}

func (o *opener) relay(ctx context.Context) error {
	if !o.set(relayenv.Prefix) {
		return nil
	}
	r, err := relayenv.Open(ctx, o.getenv, relayenv.WithLogger(o.log))
	if err != nil {
		return err
	}
	o.p.Relay = r
	o.p.Closers = append(o.p.Closers, r)
	o.describe(dut.CapRelay, relayenv.Prefix, "")
	return nil
}

// power opens POWER, which every board needs, through the relay when
// there is one.
func (o *opener) power(context.Context) error {
	opts := []power.Option{power.WithLogger(o.log)}
	if o.p.Relay != nil {
		opts = append(opts, power.WithRelay(o.p.Relay))
	}
	pw, err := power.Open(o.getenv, opts...)
	if err != nil {
		return err
	}
	o.p.Power = pw
	o.describe(dut.CapPower, power.Prefix, "")
	return nil
}

func (o *opener) storage(context.Context) error {
	if !o.set(sdmuxenv.Prefix) {
		return nil
	}
	st, err := sdmuxenv.Open(o.getenv, sdmuxenv.WithLogger(o.log))
	if err != nil {
		return err
	}
	st.Power = o.p.Power
	o.p.Storage = st
	o.describe(dut.CapStorage, sdmuxenv.Prefix, " "+st.Device)
	return nil
}

func (o *opener) console(context.Context) error {
	if !o.set(serialconsole.Prefix) {
		return nil
	}
	var opts []serialconsole.Option
	if o.log != nil {
		opts = append(opts, serialconsole.WithLogger(o.log))
	}
	c := &console{}
	port, err := serialconsole.OpenEnv(o.getenv, &c.capture, opts...)
	if err != nil {
		return err
	}
	c.port = port
	o.p.Console = c
	o.p.Closers = append(o.p.Closers, port)
	o.describe(dut.CapConsole, serialconsole.Prefix, "")
	return nil
}

func (o *opener) keyboard(context.Context) error {
	if !o.set(keyboard.Prefix) {
		return nil
	}
	k, err := keyboard.Open(o.getenv, keyboard.WithLogger(o.log))
	if err != nil {
		return err
	}
	o.p.Keyboard = k
	o.p.Closers = append(o.p.Closers, k)
	o.describe(dut.CapKeyboard, keyboard.Prefix, "")
	return nil
}

func (o *opener) video(context.Context) error {
	if !o.set(video.Prefix) {
		return nil
	}
	v, err := video.Open(o.getenv, video.WithLogger(o.log))
	if err != nil {
		return err
	}
	o.p.Screen = v
	o.describe(dut.CapScreen, video.Prefix, "")
	return nil
}

// network opens NETWORK and starts it: its DHCP server runs until Close.
func (o *opener) network(ctx context.Context) error {
	if !o.set(network.Prefix) {
		return nil
	}
	n, err := network.Open(o.getenv, network.WithLogger(o.log))
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	o.p.Network = n
	o.p.Closers = append(o.p.Closers, n)
	o.describe(dut.CapNetwork, network.Prefix, "")
	return nil
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
