package hidrelay

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/iotest"
	"github.com/balena/leviathan-action/autokit/relay/relaytest"
)

// open opens the board serial over the recording file. With
// IOTEST_RECORD=1 it uses the real /sys and /dev and the board named by
// DIGITAL_RELAY_SERIAL instead, and rewrites the recording:
//
//	IOTEST_RECORD=1 DIGITAL_RELAY_SERIAL=ABCDE go test -run TestConformance ./autokit/relay/hidrelay
func open(t *testing.T, file, serial string) (*Board, error) {
	t.Helper()
	opts := []Option{WithOpener(iotest.Session(t, "testdata/"+file)), WithSysfs(os.DirFS("testdata/sys"))}
	if iotest.Recording() {
		serial = os.Getenv("DIGITAL_RELAY_SERIAL")
		opts = []Option{WithOpener(iotest.Session(t, "testdata/"+file))}
	}
	return Open(t.Context(), Config{Serial: serial}, opts...)
}

func TestScan(t *testing.T) {
	got, err := Scan(os.DirFS("testdata/sys"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Candidate{
		{Node: "hidraw0", Name: "www.dcttech.com USBRelay2", Channels: 2},
		{Node: "hidraw2", Name: "www.dcttech.com USBRelay2", Channels: 2},
		{Node: "hidraw3", Name: "www.dcttech.com USBRelay8", Channels: 8},
	}
	if len(got) != len(want) {
		t.Fatalf("Scan = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Scan[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestConformance(t *testing.T) {
	b, err := open(t, "conformance.json", "QWERT")
	if err != nil {
		t.Fatal(err)
	}
	if b.Path() != "/dev/hidraw2" && !iotest.Recording() {
		t.Errorf("opened %s, want /dev/hidraw2", b.Path())
	}
	relaytest.Conformance(t, b, b.Channels())
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNotFoundListsSerials(t *testing.T) {
	if iotest.Recording() {
		t.Skip("needs the authored sysfs tree")
	}
	_, err := open(t, "notfound.json", "NOPE1")
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("Open = %v, want a NotFoundError", err)
	}
	for _, s := range []string{`serial "NOPE1"`, `"HURTM" at /dev/hidraw0`, `"QWERT" at /dev/hidraw2`, "/dev/hidraw3: permission denied"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

func TestNoBoards(t *testing.T) {
	_, err := Open(t.Context(), Config{Serial: "HURTM"}, WithSysfs(os.DirFS(t.TempDir())), WithOpener(&devio.Playback{Name: "none"}))
	if err == nil || !strings.Contains(err.Error(), "no 16c0:05df board") {
		t.Fatalf("Open with no boards = %v", err)
	}
}

func TestSetFailsWhenRelayDoesNotSwitch(t *testing.T) {
	if iotest.Recording() {
		t.Skip("a fault that real hardware does not reproduce on demand")
	}
	b, err := open(t, "stuck.json", "HURTM")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Set(t.Context(), 1, true)
	if err == nil || !strings.Contains(err.Error(), "channel 1 did not close: state byte 0x00") {
		t.Fatalf("Set on a stuck relay = %v", err)
	}
}

func TestPower(t *testing.T) {
	b, err := open(t, "power.json", "HURTM")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()
	p := b.Power(1)
	var _ dut.Power = p
	if err := p.On(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := p.State(ctx); err != nil || s != dut.PowerOn {
		t.Fatalf("State after On = %s, %v", s, err)
	}
	if err := p.Off(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := p.State(ctx); err != nil || s != dut.PowerOff {
		t.Fatalf("State after Off = %s, %v", s, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" when valid
	}{
		{Config{Serial: "HURTM"}, ""},
		{Config{Serial: "HURTM", Channels: 8}, ""},
		{Config{}, "DIGITAL_RELAY_SERIAL is empty"},
		{Config{Serial: "HURTM", Channels: 9}, "DIGITAL_RELAY_CHANNELS=9"},
	} {
		err := tc.c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}
