package consoletest_test

import (
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/serialconsole/consoletest"
	"github.com/balena/leviathan-action/internal/testenv"
)

// TestQemuKitConformance runs the console contract against a QEMU DUT with
// an empty disk: OVMF prints on the serial line within seconds of power on.
// The far end of its line is the firmware, so the suite has no peer: Wake
// powers the DUT on and the Write check is skipped.
func TestQemuKitConformance(t *testing.T) {
	d := testenv.QemuDUT(t, "console-conformance", false)
	consoletest.ConformanceWith(t, d, consoletest.Options{Wake: d.On, Timeout: 2 * time.Minute})
}
