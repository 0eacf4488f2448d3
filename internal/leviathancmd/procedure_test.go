package leviathancmd

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/bootpart"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/procedure"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

// TestFlasherProcedureOnQEMU flashes a flasher image through a procedure
// on a QEMU DUT: the worker writes it, boots it, waits for the kernel's
// "reboot: Power down" on the serial console while the image installs
// itself, and switches the DUT off.
func TestFlasherProcedureOnQEMU(t *testing.T) {
	needQEMU(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "flasher.img")
	testenv.CopyFile(t, testImage(t, false), img)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := bootpart.WriteFile(f, testimage.FlasherMarker, []byte("flasher run 1\n")); err != nil {
		t.Fatal(err)
	}
	f.Close()

	p, err := procedure.Parse("flasher.yaml", []byte(`device-types: [qemux86-64]
steps:
  - power-off
  - flash
  - power-on
  - wait-power-down: {serial: 'reboot: Power down', timeout: 5m}
  - power-off
`), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	q, err := qemukit.New(qemukit.Config{Name: "flasher", Dir: filepath.Join(dir, "dut"), DiskSize: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	w, err := worker.New(q, worker.WithProcedure(p, procedure.Devices{}), worker.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(startServer(t, w))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := c.Lease(ctx, "flasher test", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fi, _ := src.Stat()
	res, err := c.Flash(ctx, src, fi.Size(), "", nil)
	if err != nil {
		t.Fatalf("flash through the procedure: %v\nconsole:\n%s", err, q.Log().Tail(40))
	}
	t.Logf("flashed %d bytes in %v", res.ImageBytes, res.Duration)
	log := q.Log().Tail(10000)
	for _, want := range []string{"flasher: installing to internal storage", "reboot: Power down"} {
		if !strings.Contains(log, want) {
			t.Errorf("the console does not show %q:\n%s", want, log)
		}
	}
	if st, err := q.State(ctx); err != nil || st != dut.PowerOff {
		t.Errorf("after the procedure the DUT is %s (%v); want off", st, err)
	}
	disk, err := os.Open(q.DiskPath())
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	if b, err := bootpart.ReadFile(disk, testimage.InstalledMarker); err != nil || string(b) != "flasher run 1\n" {
		t.Errorf("the flasher did not record its install: %q, %v", b, err)
	}
	if _, err := bootpart.ReadFile(disk, testimage.FlasherMarker); err == nil {
		t.Errorf("the flasher marker is still on the disk: the image did not run as a flasher")
	}
}
