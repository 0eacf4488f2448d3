package networktest_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/networktest"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit"
)

// TestQemuKitConformance runs the network contract against a powered QEMU
// DUT with an empty disk: its address is user-mode networking's (the
// guest's fixed address, a forwarded loopback port for SSH), known as soon
// as QEMU runs, whether or not an OS answers there.
func TestQemuKitConformance(t *testing.T) {
	testenv.NeedQEMU(t)
	d, err := qemukit.New(qemukit.Config{Name: "network-conformance", Dir: t.TempDir(), DiskSize: 64 << 20, Logger: slog.New(slog.DiscardHandler)})
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
	networktest.ConformanceWith(t, d, networktest.Options{
		CallTimeout: time.Minute,
	})
}
