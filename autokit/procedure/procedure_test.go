package procedure

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/hostcmd"
	"github.com/balena/leviathan-action/autokit/power/dummy"
	"github.com/balena/leviathan-action/autokit/sdmux"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func parse(t *testing.T, src string) *Procedure {
	t.Helper()
	p, err := Parse("test.yaml", []byte(src), env(map[string]string{"NETWORK_INTERFACE": "eth1"}))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writeImage(data string) FlashFunc {
	return func(ctx context.Context, t dut.Target) error {
		_, err := t.WriteAt([]byte(data), 0)
		return err
	}
}

type fakeMux struct{ sides []sdmux.Side }

func (m *fakeMux) Switch(ctx context.Context, to sdmux.Side) error {
	m.sides = append(m.sides, to)
	return nil
}

func TestSDMux(t *testing.T) {
	d := duttest.New(t)
	d.On(t.Context())
	p := parse(t, "device-types: [raspberrypi4-64]\nprocedure: sd-mux\n")
	if err := p.Run(t.Context(), Devices{Power: d, Storage: d, Flash: writeImage("image")}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(d.Disk()); string(b) != "image" {
		t.Errorf("disk holds %q", b)
	}
	if s, _ := d.State(t.Context()); s != dut.PowerOff {
		t.Errorf("DUT is %s after sd-mux, want off", s)
	}
}

func TestFlasherSerial(t *testing.T) {
	d := duttest.New(t)
	d.Print("old boot: reboot: Power down\n") // before power-on: must not count
	d.OnPowerOn(func() {
		go func() {
			time.Sleep(50 * time.Millisecond)
			d.Print("Installing balenaOS...\n[  42.0] reboot: Power down\n")
		}()
	})
	mux := &fakeMux{}
	p := parse(t, "device-types: [genericx86-64-ext]\nprocedure: flasher\npower-down:\n  serial: 'reboot: Power down'\n  timeout: 5s\n")
	if err := p.Run(t.Context(), Devices{Power: d, Storage: d, Console: d, Mux: mux, Flash: writeImage("flasher")}); err != nil {
		t.Fatal(err)
	}
	if d.PowerOns() != 1 {
		t.Errorf("%d power-ons, want 1", d.PowerOns())
	}
	if s, _ := d.State(t.Context()); s != dut.PowerOff {
		t.Errorf("DUT is %s, want off", s)
	}
	if len(mux.sides) != 1 || mux.sides[0] != sdmux.Host {
		t.Errorf("mux switched to %v, want [host] (flasher medium removed)", mux.sides)
	}
}

func TestFlasherTimeoutPowersOff(t *testing.T) {
	d := duttest.New(t)
	d.OnPowerOn(func() { d.Print("Installing...\n") })
	p := parse(t, "device-types: [x]\nprocedure: flasher\npower-down: {serial: 'Power down', timeout: 300ms}\n")
	err := p.Run(t.Context(), Devices{Power: d, Storage: d, Console: d, Mux: &fakeMux{}, Flash: writeImage("f")})
	var se *StepError
	var pe *PowerDownError
	if !errors.As(err, &se) || se.Step.Action != WaitPowerDown || !errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a power-down timeout", err)
	}
	if !strings.Contains(err.Error(), "Installing...") {
		t.Errorf("error lacks the console's last lines: %v", err)
	}
	if s, _ := d.State(t.Context()); s != dut.PowerOff {
		t.Errorf("DUT is %s after a failure, want off", s)
	}
}

func TestFlasherCarrier(t *testing.T) {
	d := duttest.New(t)
	var reads atomic.Int32
	carrier := func(iface string) (bool, error) {
		if iface != "eth1" {
			return false, errors.New("wrong interface " + iface)
		}
		n := reads.Add(1)
		return n >= 3 && n < 6, nil // down, up while installing, then down
	}
	p := parse(t, "device-types: [x]\nprocedure: flasher\npower-down: {carrier: '${NETWORK_INTERFACE}', timeout: 5s}\n")
	if err := p.Run(t.Context(), Devices{Power: d, Storage: d, Mux: &fakeMux{}, Flash: writeImage("f"), Carrier: carrier}); err != nil {
		t.Fatal(err)
	}
	if reads.Load() < 6 {
		t.Errorf("carrier read %d times; the power-down was not waited for", reads.Load())
	}
}

func TestUSBBoot(t *testing.T) {
	d := dummy.New()
	dev := filepath.Join(t.TempDir(), "mmcblk")
	f := &hostcmd.Fake{Reply: func(c hostcmd.Call) ([]byte, error) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.WriteFile(dev, nil, 0o644)
		}()
		return []byte("Second stage boot server done\n"), nil
	}}
	p := parse(t, "device-types: [raspberrypicm4-ioboard]\nprocedure: usb-boot\nusb-boot:\n  command: [rpiboot, -d, msd]\n  device: "+dev+"\n  timeout: 5s\n")
	err := p.Run(t.Context(), Devices{Power: d, Flash: writeImage("emmc"), Run: f.Run})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Lines(), "|"); got != "rpiboot -d msd" {
		t.Errorf("ran %q", got)
	}
	if b, _ := os.ReadFile(dev); string(b) != "emmc" {
		t.Errorf("device holds %q", b)
	}
	if s, _ := d.State(t.Context()); s != dut.PowerOff {
		t.Errorf("DUT is %s, want off", s)
	}
}

func TestUSBBootNoDevice(t *testing.T) {
	d := dummy.New()
	p := parse(t, "device-types: [x]\nprocedure: usb-boot\nusb-boot: {command: rpiboot, device: /nonexistent/lvt-dev, timeout: 300ms}\n")
	err := p.Run(t.Context(), Devices{Power: d, Flash: writeImage("x"), Run: (&hostcmd.Fake{}).Run})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/lvt-dev did not appear") {
		t.Fatalf("err = %v", err)
	}
	if s, _ := d.State(t.Context()); s != dut.PowerOff {
		t.Errorf("DUT is %s, want off", s)
	}
}

func TestFlashFailurePowersOff(t *testing.T) {
	d := duttest.New(t)
	boom := errors.New("boom")
	p := parse(t, "device-types: [x]\nsteps:\n  - power-off\n  - flash\n  - power-on\n")
	err := p.Run(t.Context(), Devices{Power: d, Storage: d, Flash: func(context.Context, dut.Target) error { return boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if d.PowerOns() != 0 {
		t.Error("powered on after a failed flash")
	}
	// The medium was closed: opening it again works.
	tg, err := d.Open(t.Context())
	if err != nil {
		t.Fatalf("the medium was left open: %v", err)
	}
	tg.Close()
}

func TestCustomStepsWithRelay(t *testing.T) {
	p := parse(t, `device-types: [x]
steps:
  - power-off
  - relay: {channel: 2, closed: true}
  - flash
  - sleep: {timeout: 10ms}
  - power-on
`)
	if len(p.Steps) != 5 || p.Steps[1].Channel != 2 || !p.Steps[1].Closed || p.Steps[1].Line != 4 {
		t.Fatalf("steps = %+v", p.Steps)
	}
	d := duttest.New(t)
	err := p.Run(t.Context(), Devices{Power: d, Storage: d, Flash: writeImage("x")})
	if err == nil || !strings.Contains(err.Error(), "relay needs a digital relay") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "empty"},
		{"device-types: [x]\nprocedure: sd-mux\ncolour: red\n", `test.yaml:3: unknown key "colour"`},
		{"procedure: sd-mux\n", "device-types is missing"},
		{"device-types: [x]\nprocedure: dd\n", `test.yaml:2: unknown procedure "dd"; one of: flasher, sd-mux, usb-boot`},
		{"device-types: [x]\n", "neither procedure"},
		{"device-types: [x]\nsteps:\n  - power-off\n  - flash\n  - power-on\n  - flash\n", "test.yaml:6: flash: no transition from state on"},
		{"device-types: [x]\nsteps:\n  - flash\n", "test.yaml:3: flash: no transition from state unknown"},
		{"device-types: [x]\nsteps:\n  - power-on\n", "test.yaml:3: power-on: no transition from state unknown"},
		{"device-types: [x]\nsteps:\n  - power-off\n  - reboot\n", `test.yaml:4: unknown action "reboot"`},
		{"device-types: [x]\nsteps:\n  - power-off\n", "never flashes"},
		{"device-types: [x]\nsteps:\n  - power-off\n  - flash: {speed: 9}\n", "test.yaml:4: flash takes no parameters"},
		{"device-types: [x]\nprocedure: flasher\npower-down: {serial: '(', timeout: 1m}\n", "test.yaml:3: wait-power-down.serial: error parsing regexp"},
		{"device-types: [x]\nprocedure: flasher\npower-down:\n  timeout: soon\n", "test.yaml:4: wait-power-down.timeout"},
		{"device-types: [x]\nprocedure: flasher\npower-down: {carrier: '${DUT_IFACE}'}\n", "test.yaml:3: wait-power-down.carrier: DUT_IFACE is not set"},
		{"device-types: [x]\nprocedure: usb-boot\n", "needs a usb-boot section"},
		{"device-types: [x]\nprocedure: usb-boot\nusb-boot: {command: rpiboot}\n", "usb-boot needs command"},
		{"device-types: [x]\nprocedure: sd-mux\npower-down: {serial: x}\n", "power-down applies to procedure flasher only"},
		{"device-types: [x]\nprocedure: sd-mux\nsteps: [flash]\n", "not both"},
		{"device-types: [x\n", "test.yaml:"},
	} {
		_, err := Parse("test.yaml", []byte(tc.src), env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n err = %v\nwant %q", tc.src, err, tc.want)
		}
	}
}

func TestLoadDir(t *testing.T) {
	fsys := fstest.MapFS{
		"p/rpi.yaml":    {Data: []byte("device-types: [raspberrypi4-64, raspberrypi3]\nprocedure: sd-mux\n")},
		"p/nuc.yml":     {Data: []byte("device-types: [intel-nuc]\nprocedure: flasher\n")},
		"p/README.md":   {Data: []byte("not a procedure")},
		"dup/a.yaml":    {Data: []byte("device-types: [x]\nprocedure: sd-mux\n")},
		"dup/b.yaml":    {Data: []byte("device-types: [x]\nprocedure: flasher\n")},
		"broken/a.yaml": {Data: []byte("device-types: [x]\nprocedure: nope\n")},
	}
	s, err := LoadDir(fsys, "p", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.For("intel-nuc"); err != nil || p.Name != "flasher" || p.Steps[3].Serial.String() != DefaultPowerDownMessage {
		t.Errorf("For(intel-nuc) = %+v, %v", p, err)
	}
	if _, err := s.For("beaglebone"); err == nil || !strings.Contains(err.Error(), "known: intel-nuc, raspberrypi3, raspberrypi4-64") {
		t.Errorf("unknown device type: %v", err)
	}
	if _, err := LoadDir(fsys, "dup", env(nil)); err == nil || !strings.Contains(err.Error(), "also claimed by dup/a.yaml") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := LoadDir(fsys, "broken", env(nil)); err == nil || !strings.Contains(err.Error(), "broken/a.yaml:2") {
		t.Errorf("broken: %v", err)
	}
}

func TestNoTransitionAtRun(t *testing.T) {
	p := &Procedure{File: "built.yaml", Steps: []Step{{Action: PowerOn}}}
	d := dummy.New()
	err := p.Run(t.Context(), Devices{Power: d})
	if err == nil || !strings.Contains(err.Error(), "no transition from state unknown") {
		t.Fatalf("err = %v", err)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rpi := write("set/rpi.yaml", "device-types: [raspberrypi4-64]\nprocedure: sd-mux\n")
	write("set/nuc.yaml", "device-types: [intel-nuc]\nprocedure: flasher\n")
	set := filepath.Dir(rpi)
	for _, tc := range []struct {
		path, deviceType string
		want             string // the procedure's name, or a fragment of the error
		ok               bool
	}{
		{rpi, "", "sd-mux", true},
		{rpi, "raspberrypi4-64", "sd-mux", true},
		{rpi, "intel-nuc", `is for raspberrypi4-64, not for device type "intel-nuc"`, false},
		{set, "intel-nuc", "flasher", true},
		{set, "", "name the board's device type (DEVICE_TYPE, --device-type)", false},
		{set, "beaglebone", `no procedure for device type "beaglebone"; known: intel-nuc, raspberrypi4-64`, false},
		{filepath.Join(dir, "missing.yaml"), "", "no such file or directory", false},
		{write("bad.yaml", "device-types: [x]\nsteps: [power-on, flash]\n"), "", "bad.yaml:2", false},
	} {
		p, err := Find(tc.path, tc.deviceType, env(nil))
		switch {
		case tc.ok && (err != nil || p.Name != tc.want):
			t.Errorf("Find(%s, %q) = %v, %v; want %s", tc.path, tc.deviceType, p, err, tc.want)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Find(%s, %q) error = %v; want one containing %q", tc.path, tc.deviceType, err, tc.want)
		}
	}
}
