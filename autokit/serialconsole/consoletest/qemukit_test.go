package consoletest_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/serialconsole/consoletest"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit"
)

// TestQemuKitConformance runs the console contract against a QEMU DUT with
// an empty disk: OVMF prints on the serial line within seconds of power on.
// The far end of its line is the firmware, so the suite has no peer: Wake
// powers the DUT on and the Write check is skipped.
func TestQemuKitConformance(t *testing.T) {
	testenv.NeedQEMU(t)
	d, err := qemukit.New(qemukit.Config{Name: "console-conformance", Dir: t.TempDir(), DiskSize: 64 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("QEMU command line: %s", d.CommandLine())
			t.Logf("console-conformance: last console lines:\n%s", d.Log().Tail(20))
		}
		d.Close()
	})
	consoletest.ConformanceWith(t, d, consoletest.Options{Wake: d.On, Timeout: 2 * time.Minute})
}
