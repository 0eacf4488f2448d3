package keyboardtest_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/keyboard/keyboardtest"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit"
)

// TestQemuKitConformance runs the keyboard contract against a powered QEMU
// DUT with an empty disk (QMP send-key; OVMF ignores the keys).
func TestQemuKitConformance(t *testing.T) {
	testenv.NeedQEMU(t)
	d, err := qemukit.New(qemukit.Config{Name: "keyboard-conformance", Dir: t.TempDir(), DiskSize: 64 << 20, Logger: slog.New(slog.DiscardHandler)})
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
	keyboardtest.ConformanceWith(t, d, keyboardtest.Options{CallTimeout: time.Minute})
}
