package dnsmasq

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
// dnsmasq or busybox is missing.
func newLab(t *testing.T) *lab {
	t.Helper()
	l := netnslab.New(t, "dnsmasq", "busybox")
	return &lab{l}
}

// udhcpc runs busybox's DHCP client in the namespace; its script gives
// the DUT side the leased address.
func (l *lab) udhcpc(t *testing.T) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "udhcpc.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
case "$1" in
bound|renew) ip address add "$ip/$mask" dev "$interface" ;;
esac
exit 0
`), 0o755)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.NS,
		"busybox", "udhcpc", "-i", l.Peer, "-f", "-q", "-n", "-t", "10", "-T", "1", "-s", script).CombinedOutput()
	t.Logf("udhcpc:\n%s", out)
	if err != nil {
		t.Fatalf("udhcpc in %s: %v", l.NS, err)
	}
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
	l.udhcpc(t)

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

// TestNAT checks that NAT loads its own nftables table and removes it.
func TestNAT(t *testing.T) {
	l := newLab(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skipf("needs nft (apt-get install nftables): %v", err)
	}
	n := l.start(t, func(c *Config) { c.NAT = true })
	table := n.natName()
	out := sh(t, "nft", "list", "table", "ip", table)
	if !strings.Contains(out, "masquerade") {
		t.Errorf("table ip %s:\n%s", table, out)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("nft", "list", "table", "ip", table).Run(); err == nil {
		t.Errorf("table ip %s is still there after Close", table)
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
