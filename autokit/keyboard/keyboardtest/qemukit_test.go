package keyboardtest_test

import (
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/keyboard/keyboardtest"
	"github.com/balena/leviathan-action/internal/testenv"
)

// TestQemuKitConformance runs the keyboard contract against a powered QEMU
// DUT with an empty disk (QMP send-key; OVMF ignores the keys).
func TestQemuKitConformance(t *testing.T) {
	d := testenv.QemuDUT(t, "keyboard-conformance", true)
	keyboardtest.ConformanceWith(t, d, keyboardtest.Options{CallTimeout: time.Minute})
}
