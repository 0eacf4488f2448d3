package networktest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/balena/leviathan-action/autokit/network/networktest"
	"github.com/balena/leviathan-action/autokit/network/nmshared"
)

// nmNetwork is an nmshared network that was never started (Address only
// reads NetworkManager's lease file) over a lease directory of the test's.
func nmNetwork(t *testing.T, leases string) *nmshared.Network {
	t.Helper()
	dir := t.TempDir()
	if leases != "" {
		if err := os.WriteFile(filepath.Join(dir, "dnsmasq-eth1.leases"), []byte(leases), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := nmshared.New(nmshared.Config{Interface: "eth1", Subnet: "10.42.0.1/24", SSHPort: 22222, LeaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNMSharedConformance runs the suite against nmshared with a DUT
// lease in the file, as NetworkManager's dnsmasq writes it.
func TestNMSharedConformance(t *testing.T) {
	n := nmNetwork(t, "1700000100 52:54:00:12:34:56 10.42.0.23 balena *\n")
	networktest.Conformance(t, n)
}

// TestNMSharedNoLease runs the suite against nmshared before the DUT took
// a lease.
func TestNMSharedNoLease(t *testing.T) {
	n := nmNetwork(t, "")
	networktest.ConformanceWith(t, n, networktest.Options{Unreachable: "no lease file yet"})
}
