package powertest_test

import (
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/power/powertest"
	"github.com/balena/leviathan-action/internal/testenv"
)

// TestQemuKitConformance runs the power contract against a QEMU DUT with an
// empty disk (power needs no OS).
func TestQemuKitConformance(t *testing.T) {
	d := testenv.QemuDUT(t, "power-conformance", false)
	powertest.ConformanceWith(t, d, powertest.Options{
		CallTimeout: 2 * time.Minute,
	})
}
