package dnsmasq

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/internal/dutfilter"
	"github.com/balena/leviathan-action/autokit/network/internal/netnslab"
	"github.com/balena/leviathan-action/autokit/network/leases"
)

// lab is a DUT in a network namespace of its own, wired to the root
// namespace by a veth pair (netnslab's).
type lab struct{ *netnslab.Lab }

func sh(t *testing.T, args ...string) string {
	t.Helper()
	return netnslab.Run(t, args...)
}

// newLab creates the namespace and the veth pair, removed when the test
// ends (also when it fails). It skips the test when not root or when ip,
// dnsmasq, busybox or nft (Start filters the DUT network) is missing.
func newLab(t *testing.T) *lab {
	t.Helper()
	l := netnslab.New(t, "dnsmasq", "busybox", "nft")
	return &lab{l}
}

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Logf("dnsmasq: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (l *lab) start(t *testing.T, edit func(*Config)) *Network {
	t.Helper()
	c := Config{Interface: l.Host, Subnet: l.Subnet, SSHPort: 22222, LeaseTime: time.Hour, StateDir: t.TempDir(), Timeout: time.Minute, Dnsmasq: "dnsmasq"}
	if edit != nil {
		edit(&c)
	}
	n, err := New(c, WithLogger(logger(t)))
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

// TestDHCPInNamespace serves DHCP to a DUT in a namespace and checks that
// Address reports the address the DUT took, and that the DUT reaches the
// testbot at the gateway address.
func TestDHCPInNamespace(t *testing.T) {
	l := newLab(t)
	n := l.start(t, func(c *Config) { c.DUTMAC = l.MAC })
	l.DHCPClient(t)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	a, err := n.Address(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := sh(t, "ip", "-n", l.NS, "-4", "-o", "address", "show", "dev", l.Peer)
	if !strings.Contains(got, " "+a.IP+"/24 ") {
		t.Errorf("Address says %s, the DUT has:\n%s", a.IP, got)
	}
	host := netip.MustParsePrefix(l.Subnet).Addr().String()
	if a.Gateway != host || a.SSH != a.IP+":22222" {
		t.Errorf("Address = %+v", a)
	}
	sh(t, "ip", "netns", "exec", l.NS, "busybox", "ping", "-c", "1", "-W", "3", a.Gateway)
}

// TestNAT checks NAT end to end on this host: a DUT with a DHCP lease
// reaches an "upstream" host in a second namespace that has no route back
// to the DUT network, so its replies arrive only when the testbot
// masquerades — and only when the host's FORWARD chain lets the DUT
// through, which on a host running the Docker Engine (policy DROP) takes
// the DOCKER-USER rules. The upstream host is on a network of its own, not
// behind this host's default route (which leaves the machine), so the
// filter would drop it: NETWORK_DUT_ALLOW opens it. Close removes the
// table and the rules. TestDUTIsolation checks the default route's way
// out, in a testbot of its own.
func TestNAT(t *testing.T) {
	l := newLab(t)
	up := netnslab.New(t)
	up.AddHostAddr(t)
	up.AddDUTAddr(t, up.Addr(2))
	upstream := up.Addr(2).Addr().String()

	n := l.start(t, func(c *Config) { c.NAT = true; c.DUTMAC = l.MAC; c.DUTAllow = up.Addr(0).Masked().String() })
	l.DHCPClient(t)
	table := dutfilter.TableName(l.Host)
	if out := sh(t, "nft", "list", "table", "inet", table); !strings.Contains(out, "masquerade") {
		t.Errorf("table inet %s:\n%s", table, out)
	}
	docker := exec.Command("iptables", "-w", "-S", dutfilter.DockerUserChain).Run() == nil
	if docker {
		out := sh(t, "iptables", "-w", "-S", dutfilter.DockerUserChain)
		if got, min := strings.Count(out, "leviathan "+table), 3; got < min || !strings.Contains(out, "-d "+up.Addr(0).Masked().String()) {
			t.Errorf("iptables %s does not hold the DUT's rules (%d, want at least %d, one for NETWORK_DUT_ALLOW):\n%s", dutfilter.DockerUserChain, got, min, out)
		}
	}
	sh(t, "ip", "netns", "exec", l.NS, "busybox", "ping", "-c", "2", "-W", "3", upstream)

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("nft", "list", "table", "inet", table).Run(); err == nil {
		t.Errorf("table inet %s is still there after Close", table)
	}
	if docker {
		if out := sh(t, "iptables", "-w", "-S", dutfilter.DockerUserChain); strings.Contains(out, "leviathan "+table) {
			t.Errorf("iptables %s still holds the DUT's rules after Close:\n%s", dutfilter.DockerUserChain, out)
		}
	}
	// Without NAT the upstream host's replies have nowhere to go.
	if out, err := exec.Command("ip", "netns", "exec", l.NS, "busybox", "ping", "-c", "1", "-W", "2", upstream).CombinedOutput(); err == nil {
		t.Errorf("the DUT still reaches %s after Close:\n%s", upstream, out)
	}
}

// TestNoLease checks the error when no DUT asks for an address.
func TestNoLease(t *testing.T) {
	l := newLab(t)
	n := l.start(t, func(c *Config) { c.DUTMAC = "02:00:00:00:00:01" })
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := n.Address(ctx)
	var we *leases.WaitError
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a lease wait error", err)
	}
	for _, want := range []string{n.LeaseFile(), l.Host, "02:00:00:00:00:01"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestDnsmasqDies checks that Address fails at once, with dnsmasq's
// output, when dnsmasq has exited.
func TestDnsmasqDies(t *testing.T) {
	l := newLab(t)
	n := l.start(t, nil)
	n.mu.Lock()
	n.cmd.Process.Kill()
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := n.Address(ctx)
	if err == nil || !strings.Contains(err.Error(), "dnsmasq exited") || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one saying dnsmasq exited", err)
	}
}

// TestMDNSFallback checks that a DUT with a static address, which asks
// for no lease, is found by the name its avahi publishes, with the same
// address shape as from a lease.
func TestMDNSFallback(t *testing.T) {
	l := newLab(t)
	n := l.start(t, func(c *Config) { c.DUTMAC = l.MAC; c.MDNSName = "leviathan-dut" })
	static := l.Addr(200)
	l.AddDUTAddr(t, static)
	l.Avahi(t, "leviathan-dut")

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second) // 3 s for the lease, 1 s for mDNS
	defer cancel()
	a, err := n.Address(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ip := static.Addr().String()
	if a.IP != ip || a.SSH != ip+":22222" || a.Gateway != netip.MustParsePrefix(l.Subnet).Addr().String() {
		t.Errorf("Address = %+v, want the DUT's static %s", a, ip)
	}
	if b, err := os.ReadFile(n.LeaseFile()); err == nil && len(b) > 0 {
		t.Errorf("the DUT took a lease after all:\n%s", b)
	}
}

// TestNoLeaseNoMDNS checks the error when neither the lease nor mDNS
// finds the DUT: it names both, and still wraps the lease wait's error
// and the deadline.
func TestNoLeaseNoMDNS(t *testing.T) {
	l := newLab(t)
	n := l.start(t, func(c *Config) { c.DUTMAC = "02:00:00:00:00:01"; c.MDNSName = "absent.local" })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := n.Address(ctx)
	t.Logf("Address: %v", err)
	var we *leases.WaitError
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping the lease wait error and context.DeadlineExceeded", err)
	}
	for _, want := range []string{"dnsmasq: ", "DHCP lease", "02:00:00:00:00:01", "no mDNS answer for absent.local on " + l.Host} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
