package usbsdmux

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/iotest"
	"github.com/balena/leviathan-action/autokit/sdmux"
	"github.com/balena/leviathan-action/autokit/sdmux/sdmuxtest"
)

// config is the wiring the recordings were authored for; the card is a
// regular file. With IOTEST_RECORD=1 the tests use SD_MUX_SG and
// SD_MUX_DEVICE instead (this overwrites the start of the card!) and
// rewrite the recordings:
//
//	IOTEST_RECORD=1 SD_MUX_SG=/dev/sg1 SD_MUX_DEVICE=/dev/disk/by-id/usb-LinuxAut_sdmux_HS-SD_MMC_…-0:0 \
//	  go test -run TestConformance ./autokit/sdmux/usbsdmux
func config(t *testing.T) Config {
	if iotest.Recording() {
		var c Config
		if err := envconf.Load(os.Getenv, "SD_MUX", &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	card := filepath.Join(t.TempDir(), "usb-LinuxAut_sdmux_HS-SD_MMC_000000000123-0:0")
	if err := os.WriteFile(card, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	return Config{SG: "/dev/sg1", Device: card, Timeout: 300 * time.Millisecond}
}

func TestConformance(t *testing.T) {
	s, _ := New(config(t), WithOpener(iotest.Session(t, "testdata/conformance.json")))
	sdmuxtest.Conformance(t, s)
}

func TestDeviceDoesNotAppear(t *testing.T) {
	if iotest.Recording() {
		t.Skip("authored fault")
	}
	cfg := config(t)
	cfg.Device += ".missing"
	s, _ := New(cfg, WithOpener(iotest.Session(t, "testdata/noappear.json")))
	_, err := s.Open(t.Context())
	if err == nil || !strings.Contains(err.Error(), "usbsdmux: "+cfg.Device+" did not appear within 300ms") {
		t.Fatalf("Open = %v", err)
	}
}

func TestSwitchReadsBack(t *testing.T) {
	if iotest.Recording() {
		t.Skip("authored fault")
	}
	_, m := New(config(t), WithOpener(iotest.Session(t, "testdata/stuck.json")))
	err := m.Switch(t.Context(), sdmux.Host)
	if err == nil || !strings.Contains(err.Error(), "output register reads 0x0b, want 0x00") {
		t.Fatalf("Switch = %v", err)
	}
}

func TestSettleHonoursContext(t *testing.T) {
	cfg := config(t)
	cfg.Settle = time.Hour
	p := &devio.Playback{Name: "settle"}
	full, _ := devio.Load("testdata/stuck.json")
	p.Ops = append(p.Ops, full.Ops[:3]...)
	p.Ops = append(p.Ops, devio.Op{Op: devio.OpClose, Path: "/dev/sg1"})
	_, m := New(cfg, WithOpener(p))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := m.Switch(ctx, sdmux.Host); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "left disconnected") {
		t.Fatalf("Switch = %v", err)
	}
	if err := p.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" when valid
	}{
		{Config{SG: "/dev/sg1", Device: "/dev/disk/by-id/x", Timeout: 10 * time.Second}, ""},
		{Config{Device: "/dev/disk/by-id/x", Timeout: time.Second}, "SD_MUX_SG"},
		{Config{SG: "/dev/sg1", Timeout: time.Second}, "SD_MUX_DEVICE"},
		{Config{SG: "/dev/sg1", Device: "/dev/disk/by-id/x"}, "SD_MUX_TIMEOUT"},
		{Config{SG: "/dev/sg1", Device: "/dev/disk/by-id/x", Timeout: time.Second, Settle: -time.Second}, "SD_MUX_SETTLE"},
	} {
		err := tc.c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
	if err := (Config{Device: "/dev/x", Timeout: time.Second}).Validate(); !errors.Is(err, errNoSG) {
		t.Errorf("Validate without SD_MUX_SG = %v, want errNoSG", err)
	}
}
