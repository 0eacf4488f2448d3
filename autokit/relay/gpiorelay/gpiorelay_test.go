package gpiorelay

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/iotest"
	"github.com/balena/leviathan-action/autokit/relay/relaytest"
)

// cfg is the wiring the recordings were authored for. With IOTEST_RECORD=1
// the tests use DIGITAL_RELAY_CHIP, DIGITAL_RELAY_LINES and
// DIGITAL_RELAY_ACTIVE_LOW instead and rewrite the recordings:
//
//	IOTEST_RECORD=1 DIGITAL_RELAY_CHIP=/dev/gpiochip0 DIGITAL_RELAY_LINES=17,27 \
//	  go test -run TestConformance ./autokit/relay/gpiorelay
func cfg(t *testing.T, activeLow bool) Config {
	if iotest.Recording() {
		var c Config
		if err := envconf.Load(os.Getenv, "DIGITAL_RELAY", &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	return Config{Chip: "/dev/gpiochip0", Lines: []int{17, 27}, ActiveLow: activeLow}
}

// TestLayout checks the hand-encoded offsets against x/sys's mirror of
// struct gpio_v2_line_request.
func TestLayout(t *testing.T) {
	var r unix.GPIOV2LineRequest
	var v unix.GPIOV2LineValues
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(request)", unsafe.Sizeof(r), requestSize},
		{"consumer", unsafe.Offsetof(r.Consumer), offConsumer},
		{"config", unsafe.Offsetof(r.Config), offConfigFlags},
		{"config.num_attrs", unsafe.Offsetof(r.Config) + unsafe.Offsetof(r.Config.Num_attrs), offConfigNumAttrs},
		{"config.attrs", unsafe.Offsetof(r.Config) + unsafe.Offsetof(r.Config.Attrs), offConfigAttrs},
		{"num_lines", unsafe.Offsetof(r.Num_lines), offNumLines},
		{"fd", unsafe.Offsetof(r.Fd), offFD},
		{"sizeof(values)", unsafe.Sizeof(v), valuesSize},
		{"GET_LINE", unix.GPIO_V2_GET_LINE_IOCTL, getLineIoctl},
		{"GET_VALUES", unix.GPIO_V2_LINE_GET_VALUES_IOCTL, getValuesIoctl},
		{"SET_VALUES", unix.GPIO_V2_LINE_SET_VALUES_IOCTL, setValuesIoctl},
		{"OUTPUT_VALUES", unix.GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES, attrOutputValues},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, x/sys has %d", c.name, c.want, c.got)
		}
	}
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		file      string
		activeLow bool
	}{{"conformance.json", false}, {"activelow.json", true}} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := Open(t.Context(), cfg(t, tc.activeLow), WithOpener(iotest.Session(t, "testdata/"+tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			relaytest.Conformance(t, r, r.Channels())
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStateBeforeSet(t *testing.T) {
	r, err := Open(t.Context(), cfg(t, false), WithOpener(&devio.Playback{Name: "state", Ops: []devio.Op{
		{Op: devio.OpOpen, Path: "/dev/gpiochip0", Flag: os.O_RDWR},
		{Op: devio.OpClose, Path: "/dev/gpiochip0"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.State(t.Context(), 1); err == nil || !strings.Contains(err.Error(), "channel 1 (/dev/gpiochip0 line 17) is unknown") {
		t.Errorf("State before Set = %v", err)
	}
}

func TestFaults(t *testing.T) {
	if iotest.Recording() {
		t.Skip("faults are authored, not recorded")
	}
	t.Run("busy line", func(t *testing.T) {
		r, err := Open(t.Context(), cfg(t, false), WithOpener(iotest.Session(t, "testdata/busy.json")))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		err = r.Set(t.Context(), 1, true)
		if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "requesting /dev/gpiochip0 line 17 as an output") {
			t.Errorf("Set on a busy line = %v", err)
		}
	})
	t.Run("missing chip", func(t *testing.T) {
		_, err := Open(t.Context(), cfg(t, false), WithOpener(iotest.Session(t, "testdata/nochip.json")))
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "/dev/gpiochip0") {
			t.Errorf("Open of a missing chip = %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" when valid
	}{
		{Config{Chip: "/dev/gpiochip0", Lines: []int{17, 27}, ActiveLow: true}, ""},
		{Config{Chip: "/dev/gpiochip0"}, "DIGITAL_RELAY_LINES is empty"},
		{Config{Chip: "/dev/gpiochip0", Lines: []int{17, 17}}, "distinct"},
		{Config{Chip: "/dev/gpiochip0", Lines: []int{-1}}, "not negative"},
		{Config{Lines: []int{17}}, "DIGITAL_RELAY_CHIP is empty"},
	} {
		err := tc.c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}
