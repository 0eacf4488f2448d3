package sdwire

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/iotest"
	"github.com/balena/leviathan-action/autokit/sdmux"
	"github.com/balena/leviathan-action/autokit/sdmux/sdmuxtest"
)

// newMux opens the SDWire over a recording. With IOTEST_RECORD=1 it uses
// the real /sys, SD_MUX_SERIAL and SD_MUX_DEVICE (the start of the card is
// overwritten) and rewrites the recording:
//
//	IOTEST_RECORD=1 SD_MUX_SERIAL=sd-wire_11 SD_MUX_DEVICE=/dev/disk/by-id/… go test -run TestConformance ./autokit/sdmux/sdwire
func newMux(t *testing.T, file string) (*sdmux.Storage, *Mux) {
	t.Helper()
	session := iotest.Session(t, "testdata/"+file)
	if iotest.Recording() {
		var cfg Config
		if err := envconf.Load(os.Getenv, "SD_MUX", &cfg); err != nil {
			t.Fatal(err)
		}
		s, m, err := New(cfg, WithOpener(session))
		if err != nil {
			t.Fatal(err)
		}
		return s, m
	}
	card := filepath.Join(t.TempDir(), "usb-Generic_SD_card-0:0")
	if err := os.WriteFile(card, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	s, m, err := New(Config{Serial: "sd-wire_11", Device: card, Timeout: time.Second}, WithOpener(session), WithSysfs(os.DirFS("testdata/sys")))
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func TestConformance(t *testing.T) {
	s, m := newMux(t, "conformance.json")
	if m.Node() != "/dev/bus/usb/001/005" && !iotest.Recording() {
		t.Errorf("Node = %s", m.Node())
	}
	sdmuxtest.Conformance(t, s)
}

func TestSwitchReadsBack(t *testing.T) {
	if iotest.Recording() {
		t.Skip("authored fault")
	}
	_, m := newMux(t, "stuck.json")
	err := m.Switch(t.Context(), sdmux.Host)
	if err == nil || !strings.Contains(err.Error(), "CBUS pins read 0xf0, CBUS0 should be 1") {
		t.Fatalf("Switch = %v", err)
	}
}

func TestFindListsSerials(t *testing.T) {
	_, err := Find(os.DirFS("testdata/sys"), "/dev", "sd-wire_99")
	if err == nil || !strings.Contains(err.Error(), `"sd-wire_11" (04e8:6001 at 1-2)`) || !strings.Contains(err.Error(), `"sd-wire_02" (0403:6015 at 1-3)`) || strings.Contains(err.Error(), "ABC123") {
		t.Fatalf("Find = %v", err)
	}
	_, err = Find(os.DirFS(t.TempDir()), "/dev", "sd-wire_99")
	if err == nil || !strings.Contains(err.Error(), "no FTDI") {
		t.Fatalf("Find with no devices = %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" when valid
	}{
		{Config{Serial: "sd-wire_11", Device: "/dev/disk/by-id/x", Timeout: time.Second}, ""},
		{Config{Device: "/dev/disk/by-id/x", Timeout: time.Second}, "SD_MUX_SERIAL"},
		{Config{Serial: "sd-wire_11", Timeout: time.Second}, "SD_MUX_DEVICE"},
		{Config{Serial: "sd-wire_11", Device: "/dev/disk/by-id/x"}, "SD_MUX_TIMEOUT"},
	} {
		err := tc.c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}
