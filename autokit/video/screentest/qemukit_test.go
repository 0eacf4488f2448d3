package screentest_test

import (
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/video/screentest"
	"github.com/balena/leviathan-action/internal/testenv"
)

// TestQemuKitConformance runs the screen contract against a powered QEMU
// DUT with an empty disk (OVMF's screen is enough).
func TestQemuKitConformance(t *testing.T) {
	d := testenv.QemuDUT(t, "screen-conformance", true)
	screentest.ConformanceWith(t, d, screentest.Options{
		CallTimeout: time.Minute,
	})
}
