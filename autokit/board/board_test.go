package board_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/balena/leviathan-action/autokit/board"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/power/dummy"
	"github.com/balena/leviathan-action/autokit/sdmux"
	"github.com/balena/leviathan-action/autokit/worker"
)

func TestBoardOffersOnlyItsParts(t *testing.T) {
	fake := duttest.New(t) // its storage stands in for a mux
	b, err := board.New("rpi4-01", board.Parts{Power: dummy.New(), Storage: fake})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dut.Capabilities(b), []dut.Capability{dut.CapPower, dut.CapStorage}; !slices.Equal(got, want) {
		t.Errorf("Capabilities = %v, want %v", got, want)
	}
	if _, ok := dut.As[dut.Screen](b, dut.CapScreen); ok {
		t.Error("a board without a screen offers one")
	}
	if _, err := b.Screenshot(context.Background()); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Screenshot without a screen = %v, want ErrUnsupported", err)
	}
	ctx := context.Background()
	if err := b.On(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ctx); !errors.Is(err, dut.ErrPoweredOn) {
		t.Errorf("Open while powered = %v, want ErrPoweredOn", err)
	}
	if _, err := board.New("x", board.Parts{}); err == nil || !strings.Contains(err.Error(), "POWER") {
		t.Errorf("a board without power: %v", err)
	}
}

func TestWorkerServesABoard(t *testing.T) {
	b, err := board.New("rpi4-01", board.Parts{Power: dummy.New()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(b)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	c, _ := client.New(srv.URL)
	ctx := context.Background()
	ct, err := c.Contract(ctx)
	if err != nil || !slices.Equal(ct.Capabilities, []dut.Capability{dut.CapPower}) {
		t.Fatalf("contract %+v, %v", ct, err)
	}
	if _, err := c.Lease(ctx, "t", 0); err != nil {
		t.Fatal(err)
	}
	var ce *client.Error
	if _, err := c.Screenshot(ctx); !errors.As(err, &ce) || ce.Status != http.StatusNotImplemented {
		t.Errorf("screenshot of a board without a screen: %v, want 501", err)
	}
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.PowerState(ctx); st != dut.PowerOn {
		t.Errorf("power state %s after on", st)
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOpenFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // error; "" for success
	}{
		{"dummy power", map[string]string{"POWER": "dummy"}, ""},
		{"unknown power", map[string]string{"POWER": "zap"}, `unknown POWER="zap"; one of: button, dli, dummy`},
		{"no power", map[string]string{"SD_MUX": "blockdev", "SD_MUX_DEVICE": "/dev/null"}, "POWER is not set"},
		{"power missing a variable", map[string]string{"POWER": "tasmota"}, "POWER_URL is required"},
		{"power with a bad value", map[string]string{"POWER": "tasmota", "POWER_URL": "http://p", "POWER_CHANNEL": "one"}, `POWER_CHANNEL="one" is not an integer`},
		{"button without a relay", map[string]string{"POWER": "button"}, "configure DIGITAL_RELAY"},
		{"unknown mux", map[string]string{"POWER": "dummy", "SD_MUX": "floppy"}, `unknown SD_MUX="floppy"; one of: blockdev, sdwire, usbsdmux`},
		{"mux without a device", map[string]string{"POWER": "dummy", "SD_MUX": "blockdev"}, "SD_MUX_DEVICE is empty"},
		{"mux with a bad timeout", map[string]string{"POWER": "dummy", "SD_MUX": "blockdev", "SD_MUX_DEVICE": "/dev/x", "SD_MUX_TIMEOUT": "soon"}, `SD_MUX_TIMEOUT="soon" is not a duration`},
		{"usbsdmux without sg", map[string]string{"POWER": "dummy", "SD_MUX": "usbsdmux", "SD_MUX_DEVICE": "/dev/x"}, "SD_MUX_SG is empty"},
		{"sdwire without a serial", map[string]string{"POWER": "dummy", "SD_MUX": "sdwire"}, "SD_MUX_SERIAL is empty"},
		{"unknown relay", map[string]string{"POWER": "dummy", "DIGITAL_RELAY": "usb"}, `unknown DIGITAL_RELAY="usb"; one of: gpio, hid`},
		{"hid relay without a serial", map[string]string{"POWER": "dummy", "DIGITAL_RELAY": "hid"}, "DIGITAL_RELAY_SERIAL is required"},
		{"hid relay with 9 channels", map[string]string{"POWER": "dummy", "DIGITAL_RELAY": "hid", "DIGITAL_RELAY_SERIAL": "HURTM", "DIGITAL_RELAY_CHANNELS": "9"}, "DIGITAL_RELAY_CHANNELS=9"},
		{"gpio relay without a chip", map[string]string{"POWER": "dummy", "DIGITAL_RELAY": "gpio"}, "DIGITAL_RELAY_CHIP is empty"},
		{"gpio relay with bad lines", map[string]string{"POWER": "dummy", "DIGITAL_RELAY": "gpio", "DIGITAL_RELAY_CHIP": "/dev/gpiochip0", "DIGITAL_RELAY_LINES": "17,x"}, `DIGITAL_RELAY_LINES="17,x"`},
		{"gpio relay with duplicate lines", map[string]string{"POWER": "dummy", "DIGITAL_RELAY": "gpio", "DIGITAL_RELAY_CHIP": "/dev/gpiochip0", "DIGITAL_RELAY_LINES": "17,17"}, "distinct"},
		{"missing serial device", map[string]string{"POWER": "dummy", "SERIAL": "/dev/does-not-exist"}, "/dev/does-not-exist"},
		{"bad baud", map[string]string{"POWER": "dummy", "SERIAL": "/dev/null", "SERIAL_BAUD": "fast"}, `SERIAL_BAUD="fast" is not an integer`},
		{"unknown keyboard", map[string]string{"POWER": "dummy", "KEYBOARD": "ps2"}, "hidgadget"},
		{"video without a device", map[string]string{"POWER": "dummy", "VIDEO": "v4l2"}, "VIDEO_DEVICE is required"},
		{"network without an interface", map[string]string{"POWER": "dummy", "NETWORK": "dnsmasq"}, "NETWORK_INTERFACE is required"},
		{"unknown network", map[string]string{"POWER": "dummy", "NETWORK": "dhcpd"}, `unknown NETWORK="dhcpd"; one of: dnsmasq, nmshared`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := board.Open(context.Background(), "bot", env(tc.env), nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				var out bytes.Buffer
				if err := b.Check(context.Background(), &out); err != nil || !strings.Contains(out.String(), "POWER=dummy") {
					t.Errorf("Check = %v\n%s", err, out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestOpenWholeBoard configures every family but the network (whose
// Start needs root) from an injected environment, with regular files and
// a pty standing in for the devices.
func TestOpenWholeBoard(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("VIDEO=v4l2 needs ffmpeg in PATH")
	}
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty available: %v", err)
	}
	defer master.Close()
	defer tty.Close()
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b, err := board.Open(context.Background(), "rpi4-01", env(map[string]string{
		"DIGITAL_RELAY": "gpio", "DIGITAL_RELAY_CHIP": file("gpiochip0"), "DIGITAL_RELAY_LINES": "17, 27",
		"POWER": "relay", "POWER_CHANNEL": "2",
		"SD_MUX": "blockdev", "SD_MUX_DEVICE": "/dev/disk/by-id/usb-Generic-0:0",
		"SERIAL": tty.Name(), "SERIAL_BAUD": "9600",
		"KEYBOARD": "hidgadget", "KEYBOARD_DEVICE": file("hidg0"),
		"VIDEO": "v4l2", "VIDEO_DEVICE": file("video0"),
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := []dut.Capability{dut.CapPower, dut.CapStorage, dut.CapConsole, dut.CapScreen, dut.CapKeyboard, dut.CapRelay}
	if got := dut.Capabilities(b); !slices.Equal(got, want) {
		t.Errorf("Capabilities = %v, want %v", got, want)
	}
	if b.Mux() != nil {
		t.Error("a block device has a mux")
	}
	if b.Name() != "rpi4-01" {
		t.Errorf("Name = %q", b.Name())
	}
}

func TestConfigured(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"QEMU_MEMORY": "1024"}, false},
		{map[string]string{"SERIAL": "/dev/ttyUSB0"}, true},
		{map[string]string{"DIGITAL_RELAY": "hid"}, true},
	} {
		if got := board.Configured(env(tc.env)); got != tc.want {
			t.Errorf("Configured(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

type switchRecorder struct{ to []sdmux.Side }

func (s *switchRecorder) Switch(ctx context.Context, to sdmux.Side) error {
	s.to = append(s.to, to)
	return nil
}

func TestBoardMux(t *testing.T) {
	m := &switchRecorder{}
	for _, tc := range []struct {
		name    string
		storage dut.Storage
		want    sdmux.Mux
	}{
		{"a mux", &sdmux.Storage{Mux: m, Device: "/dev/disk/by-id/x"}, m},
		{"a card reader", &sdmux.Storage{Device: "/dev/disk/by-id/x"}, nil},
		{"no storage", nil, nil},
	} {
		b, err := board.New("b", board.Parts{Power: dummy.New(), Storage: tc.storage})
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Mux(); got != tc.want {
			t.Errorf("%s: Mux() = %v; want %v", tc.name, got, tc.want)
		}
	}
}
