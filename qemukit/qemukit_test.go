package qemukit

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// newTestDUT starts nothing; it skips when QEMU or OVMF is missing.
func newTestDUT(t *testing.T) *DUT {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
	}
	if _, _, err := FindFirmware(); err != nil {
		t.Skip(err)
	}
	d, err := New(Config{Name: t.Name(), Dir: t.TempDir(), DiskSize: 64 << 20, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("QEMU command line: %s", d.CommandLine())
		}
		d.Close()
	})
	return d
}

// TestEmptyDiskFirmware powers a DUT with an empty disk: the firmware must
// speak on the serial pty, QMP must answer, and power must cut cleanly.
func TestEmptyDiskFirmware(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU; skipped with -short")
	}
	d := newTestDUT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.State(ctx); st != dut.PowerOn {
		t.Fatalf("state = %s after On", st)
	}
	if _, err := d.Open(ctx); !errors.Is(err, dut.ErrPoweredOn) {
		t.Fatalf("Open while on = %v, want ErrPoweredOn", err)
	}
	addr, err := d.Address(ctx)
	if err != nil || addr.IP != GuestIP || addr.SSH == "" {
		t.Fatalf("Address = %+v, %v", addr, err)
	}
	// OVMF finds nothing to boot on an empty disk and says so on serial.
	if _, _, err := d.Log().Expect(ctx, 0, regexp.MustCompile(`BdsDxe|Boot|UEFI`)); err != nil {
		t.Fatal(err)
	}
	png, err := d.Screenshot(ctx)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("Screenshot: %d bytes, %v", len(png), err)
	}
	if err := d.Press(ctx, "ret"); err != nil {
		t.Fatal(err)
	}
	if err := d.Off(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.State(ctx); st != dut.PowerOff {
		t.Fatalf("state = %s after Off", st)
	}
	if _, err := d.Address(ctx); err == nil {
		t.Fatal("Address succeeded on a DUT that is off")
	}
	tgt, err := d.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.On(ctx); err == nil {
		t.Fatal("On succeeded while the disk is open for flashing")
	}
	if err := tgt.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without Dir succeeded")
	}
	if _, err := New(Config{Dir: t.TempDir(), Accel: "hvf"}); err == nil {
		t.Fatal("New with an unknown accelerator succeeded")
	}
	if _, err := New(Config{Dir: t.TempDir(), QEMU: "no-such-qemu"}); err == nil || !regexp.MustCompile(`apt-get install qemu-system-x86`).MatchString(err.Error()) {
		t.Fatalf("New with a missing QEMU = %v", err)
	}
}
