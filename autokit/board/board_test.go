package board_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

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

func TestOpenFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // error; "" for success
	}{
		{"dummy power", map[string]string{"POWER": "dummy"}, ""},
		{"unknown power", map[string]string{"POWER": "zap"}, "tasmota"},
		{"no power", map[string]string{"SD_MUX": "blockdev", "SD_MUX_DEVICE": "/dev/null"}, "POWER"},
		{"unknown mux", map[string]string{"POWER": "dummy", "SD_MUX": "floppy"}, "usbsdmux"},
		{"missing serial device", map[string]string{"POWER": "dummy", "SERIAL": "/dev/does-not-exist"}, "/dev/does-not-exist"},
		{"bad baud", map[string]string{"POWER": "dummy", "SERIAL": "/dev/null", "SERIAL_BAUD": "fast"}, "SERIAL_BAUD"},
		{"unknown keyboard", map[string]string{"POWER": "dummy", "KEYBOARD": "ps2"}, "hidgadget"},
		{"video without a device", map[string]string{"POWER": "dummy", "VIDEO": "v4l2"}, "VIDEO_DEVICE"},
		{"network without an interface", map[string]string{"POWER": "dummy", "NETWORK": "dnsmasq"}, "NETWORK_INTERFACE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range append(board.Variables, "SD_MUX_DEVICE", "SERIAL_BAUD", "VIDEO_DEVICE", "NETWORK_INTERFACE") {
				t.Setenv(v, "")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			b, err := board.Open(context.Background(), "bot", nil)
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
