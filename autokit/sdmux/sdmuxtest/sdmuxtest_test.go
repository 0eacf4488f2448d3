package sdmuxtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/sdmux"
	"github.com/balena/leviathan-action/qemukit"
)

func TestFileBackedStorage(t *testing.T) {
	node := filepath.Join(t.TempDir(), "usb-Generic_SD_Reader-0:0")
	mux := &FakeMux{Node: node, Size: 1 << 20}
	s := &sdmux.Storage{Name: "test", Mux: mux, Device: node, Timeout: time.Second}
	Conformance(t, s)
	want := []sdmux.Side{sdmux.Host, sdmux.DUT, sdmux.Host, sdmux.DUT}
	if got := mux.Switches(); !slices.Equal(got, want) {
		t.Errorf("switches = %v, want %v", got, want)
	}
}

func TestDeviceDoesNotAppear(t *testing.T) {
	node := filepath.Join(t.TempDir(), "usb-LinuxAut_sdmux_HS-SD_MMC_000000001234-0:0")
	mux := &FakeMux{}
	s := &sdmux.Storage{Name: "usbsdmux", Mux: mux, Device: node, Timeout: 200 * time.Millisecond}
	_, err := s.Open(t.Context())
	if err == nil || !strings.Contains(err.Error(), node+" did not appear within 200ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open = %v", err)
	}
	if got := mux.Switches(); !slices.Equal(got, []sdmux.Side{sdmux.Host, sdmux.DUT}) {
		t.Errorf("switches = %v: a failed Open must hand the medium back to the DUT", got)
	}
}

func TestDeviceAppearsLate(t *testing.T) {
	node := filepath.Join(t.TempDir(), "late")
	time.AfterFunc(150*time.Millisecond, func() {
		os.WriteFile(node+".tmp", make([]byte, 4096), 0o644)
		os.Rename(node+".tmp", node)
	})
	s := &sdmux.Storage{Device: node, Timeout: 5 * time.Second}
	tg, err := s.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if c := tg.(*sdmux.Target).Capacity(); c != 4096 {
		t.Errorf("Capacity = %d, want 4096", c)
	}
	if tg.(dut.Zeroed).Zeroed() {
		t.Error("Zeroed = true for a card")
	}
}

type power dut.PowerState

func (p power) On(context.Context) error                      { return nil }
func (p power) Off(context.Context) error                     { return nil }
func (p power) State(context.Context) (dut.PowerState, error) { return dut.PowerState(p), nil }

func TestPoweredOn(t *testing.T) {
	node := filepath.Join(t.TempDir(), "card")
	mux := &FakeMux{Node: node, Size: 4096}
	s := &sdmux.Storage{Mux: mux, Device: node, Power: power(dut.PowerOn)}
	if _, err := s.Open(t.Context()); !errors.Is(err, dut.ErrPoweredOn) {
		t.Fatalf("Open while powered = %v", err)
	}
	if len(mux.Switches()) != 0 {
		t.Errorf("the mux switched while the DUT was powered: %v", mux.Switches())
	}
	s.Power = power(dut.PowerOff)
	tg, err := s.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tg.Close()
}

// TestQemuKit runs the suite against QemuKit's disk; it starts no QEMU but
// qemukit.New needs QEMU and OVMF installed.
func TestQemuKit(t *testing.T) {
	if testing.Short() {
		t.Skip("qemukit storage; skipped with -short")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
	}
	if _, _, err := qemukit.FindFirmware(); err != nil {
		t.Skip(err)
	}
	d, err := qemukit.New(qemukit.Config{Name: "sdmuxtest", Dir: t.TempDir(), DiskSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	Conformance(t, d)
}
