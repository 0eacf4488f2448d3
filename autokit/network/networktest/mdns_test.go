package networktest_test

import (
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/internal/netnslab"
	"github.com/balena/leviathan-action/autokit/network/networktest"
	"github.com/balena/leviathan-action/autokit/network/nmshared"
)

// mdnsNetwork is an nmshared network that was never started, with no
// lease file and NETWORK_MDNS_NAME set, on the testbot's end of a lab's
// veth pair; avahi in the DUT's namespace publishes leviathan-dut when
// avahi is true.
func mdnsNetwork(t *testing.T, avahi bool) *nmshared.Network {
	t.Helper()
	l := netnslab.New(t, "avahi-daemon")
	l.AddHostAddr(t)
	l.AddDUTAddr(t, l.Addr(200))
	if avahi {
		l.Avahi(t, "leviathan-dut")
	}
	n, err := nmshared.New(nmshared.Config{Interface: l.Host, Subnet: l.Addr(1).String(), SSHPort: 22222, LeaseDir: t.TempDir(), MDNSName: "leviathan-dut"})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMDNSConformance runs the suite against nmshared finding a DUT
// without a lease by mDNS (avahi-daemon in a network namespace).
func TestMDNSConformance(t *testing.T) {
	networktest.ConformanceWith(t, mdnsNetwork(t, true), networktest.Options{CallTimeout: 2 * time.Second})
}

// TestMDNSNoAnswer runs the suite against nmshared with neither a lease
// nor an mDNS responder.
func TestMDNSNoAnswer(t *testing.T) {
	networktest.ConformanceWith(t, mdnsNetwork(t, false), networktest.Options{Unreachable: "no lease and no avahi on the DUT"})
}
