package networktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/dnsmasq"
	"github.com/balena/leviathan-action/autokit/network/internal/netnslab"
	"github.com/balena/leviathan-action/autokit/network/networktest"
)

// dnsmasqNetwork starts the dnsmasq driver on the testbot's end of a lab
// (root: a network namespace and a veth pair), stopped when the test ends.
func dnsmasqNetwork(t *testing.T, l *netnslab.Lab) *dnsmasq.Network {
	t.Helper()
	n, err := dnsmasq.New(dnsmasq.Config{Interface: l.Host, Subnet: l.Subnet, SSHPort: 22222, DUTMAC: l.MAC,
		LeaseTime: time.Hour, StateDir: t.TempDir(), Timeout: time.Minute, Dnsmasq: "dnsmasq"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// TestDnsmasqConformance runs the suite against dnsmasq serving a DUT in
// a network namespace that took its lease with busybox's udhcpc.
func TestDnsmasqConformance(t *testing.T) {
	l := netnslab.New(t, "dnsmasq", "busybox", "nft")
	n := dnsmasqNetwork(t, l)
	l.DHCPClient(t)
	networktest.Conformance(t, n)
}

// TestDnsmasqNoLease runs the suite against dnsmasq before the DUT asked
// for an address.
func TestDnsmasqNoLease(t *testing.T) {
	l := netnslab.New(t, "dnsmasq", "busybox", "nft")
	networktest.ConformanceWith(t, dnsmasqNetwork(t, l), networktest.Options{Unreachable: "the DUT asked for no lease"})
}
