package screentest_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/video/screentest"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit"
)

// TestQemuKitConformance runs the screen contract against a powered QEMU
// DUT with an empty disk (OVMF's screen is enough).
func TestQemuKitConformance(t *testing.T) {
	testenv.NeedQEMU(t)
	d, err := qemukit.New(qemukit.Config{Name: "screen-conformance", Dir: t.TempDir(), DiskSize: 64 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("QEMU command line: %s", d.CommandLine())
		}
		d.Close()
	})
	if err := d.On(t.Context()); err != nil {
		t.Fatal(err)
	}
	screentest.ConformanceWith(t, d, screentest.Options{
		CallTimeout: time.Minute,
	})
}
