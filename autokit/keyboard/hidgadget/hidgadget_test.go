package hidgadget

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/iotest"
)

// open opens the gadget over the recording file. With IOTEST_RECORD=1 it
// writes to the real device instead (KEYBOARD_DEVICE, /dev/hidg0 by
// default) and rewrites the recording:
//
//	IOTEST_RECORD=1 go test -run TestChords ./autokit/keyboard/hidgadget
func open(t *testing.T, file string) (*Gadget, error) {
	t.Helper()
	dev := "/dev/hidg0"
	if d := os.Getenv("KEYBOARD_DEVICE"); d != "" && iotest.Recording() {
		dev = d
	}
	return Open(Config{Device: dev}, WithOpener(iotest.Session(t, "testdata/"+file)))
}

func TestChords(t *testing.T) {
	g, err := open(t, "chords.json")
	if err != nil {
		t.Fatal(err)
	}
	g.hold = 0 // playback does not model time
	for _, chord := range [][]string{
		{"ctrl", "alt", "delete"},
		{"a"},
		{"shift", "a"},
		{"ret"},
		{"F12"}, // names are case-insensitive
		{"meta_l", "r"},
		{"alt_r", "spc"},
		{"up", "down", "left", "right"},
		{"ctrl", "ctrl_r", "1", "0", "1"}, // a repeated key is sent once
	} {
		if err := g.Press(t.Context(), chord...); err != nil {
			t.Fatalf("Press(%q): %v", chord, err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Press(t.Context(), "a"); err == nil {
		t.Error("Press after Close succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	if iotest.Recording() {
		t.Skip("the fault recordings are authored, not recorded")
	}
	for _, tc := range []struct {
		file string
		is   error
		want string
	}{
		{"missing.json", fs.ErrNotExist, "hidgadget: opening /dev/hidg0: open /dev/hidg0: no such file or directory (no such gadget device: is a HID keyboard function configured"},
		{"denied.json", fs.ErrPermission, "hidgadget: opening /dev/hidg0: open /dev/hidg0: permission denied (not permitted: run as root"},
	} {
		_, err := open(t, tc.file)
		if !errors.Is(err, tc.is) || err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: Open = %v, want %q", tc.file, err, tc.want)
		}
	}
}

func TestNoHost(t *testing.T) {
	if iotest.Recording() {
		t.Skip("the fault recordings are authored, not recorded")
	}
	g, err := open(t, "nohost.json")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.hold = 0
	err = g.Press(t.Context(), "ret")
	if !errors.Is(err, syscall.ESHUTDOWN) || !strings.Contains(err.Error(), "the USB host is not connected") {
		t.Fatalf("Press = %v", err)
	}
}

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		chord []string
		want  string
	}{
		{[]string{"ctrl", "alt", "delete"}, "05 00 4c 00 00 00 00 00"},
		{[]string{"kp_enter"}, "00 00 58 00 00 00 00 00"},
		{[]string{"sysrq"}, "00 00 46 00 00 00 00 00"},
		{[]string{"shift_r", "meta_r"}, "a0 00 00 00 00 00 00 00"},
		{[]string{"tab"}, "00 00 2b 00 00 00 00 00"},
		{[]string{"esc"}, "00 00 29 00 00 00 00 00"},
		{[]string{"f1"}, "00 00 3a 00 00 00 00 00"},
	} {
		r, err := Report(tc.chord...)
		if err != nil {
			t.Fatalf("Report(%q): %v", tc.chord, err)
		}
		if got := devio.Hex(r[:]).String(); got != tc.want && strings.ReplaceAll(got, "00*8", "") != tc.want {
			t.Errorf("Report(%q) = %s, want %s", tc.chord, got, tc.want)
		}
	}
}

func TestReportErrors(t *testing.T) {
	var uk *UnknownKeyError
	for _, tc := range []struct {
		chord []string
		want  string
	}{
		{[]string{"ctrl", "enter"}, `unknown key "enter" (keys use QEMU's QKeyCode names); did you mean ret, kp_enter?`},
		{[]string{"delet"}, `did you mean delete`},
		{[]string{"f13"}, `key "f13" (usage 0x68) is beyond a boot keyboard report's keys`},
		{[]string{"space"}, `did you mean spc`},
		{[]string{"kp_"}, `did you mean kp_0, kp_1`},
		{[]string{"a", "b", "c", "d", "e", "f", "g"}, `more than 6 keys`},
		{nil, "no keys"},
	} {
		_, err := Report(tc.chord...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "hidgadget: ") {
			t.Errorf("Report(%q) = %v, want %q", tc.chord, err, tc.want)
		}
	}
	if _, err := Report("contrl"); !errors.As(err, &uk) || len(uk.Suggest) == 0 || uk.Suggest[0] != "ctrl" {
		t.Errorf("Report(contrl) = %v", err)
	}
}

// TestNamesCovered checks every accepted name maps into the boot range.
func TestNamesCovered(t *testing.T) {
	for _, n := range Names() {
		if _, err := Report(n); err != nil {
			t.Errorf("Report(%q): %v", n, err)
		}
	}
	if len(Names()) < 100 {
		t.Errorf("only %d names", len(Names()))
	}
}

func TestPressCancelled(t *testing.T) {
	g := &Gadget{path: "/dev/hidg0"}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.Press(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Press with a cancelled context = %v", err)
	}
}
