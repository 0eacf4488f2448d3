package networktest_test

import (
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/networktest"
	"github.com/balena/leviathan-action/internal/testenv"
)

// TestQemuKitConformance runs the network contract against a powered QEMU
// DUT with an empty disk: its address is user-mode networking's (the
// guest's fixed address, a forwarded loopback port for SSH), known as soon
// as QEMU runs, whether or not an OS answers there.
func TestQemuKitConformance(t *testing.T) {
	d := testenv.QemuDUT(t, "network-conformance", true)
	networktest.ConformanceWith(t, d, networktest.Options{
		CallTimeout: time.Minute,
	})
}
