package dnsmasq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/leases"
)

// lab is a DUT in a network namespace of its own, wired to the root
// namespace by a veth pair.
type lab struct {
	ns, host, peer string
	mac            string
	subnet         string
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and veth pairs")
	}
	for _, tool := range []string{"ip", "dnsmasq", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install iproute2 dnsmasq-base busybox): %v", tool, err)
		}
	}
}

// newLab creates the namespace and the veth pair, removed when the test
// ends (also when it fails).
func newLab(t *testing.T) *lab {
	t.Helper()
	needRoot(t)
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	l := &lab{
		ns:     "lvt-ns" + id,
		host:   "lvt-n" + id,
		peer:   "lvt-d" + id,
		mac:    fmt.Sprintf("02:4c:56:%02x:%02x:%02x", b[0], b[1], b[2]),
		subnet: fmt.Sprintf("10.250.%d.1/24", b[0]),
	}
	sh(t, "ip", "netns", "add", l.ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.ns).Run() })
	sh(t, "ip", "link", "add", l.host, "type", "veth", "peer", "name", l.peer)
	// Deleting one end deletes the other, wherever it is.
	t.Cleanup(func() { exec.Command("ip", "link", "del", l.host).Run() })
	sh(t, "ip", "link", "set", l.peer, "netns", l.ns)
	sh(t, "ip", "-n", l.ns, "link", "set", l.peer, "address", l.mac)
	sh(t, "ip", "-n", l.ns, "link", "set", "lo", "up")
	sh(t, "ip", "-n", l.ns, "link", "set", l.peer, "up")
	return l
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
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.ns,
		"busybox", "udhcpc", "-i", l.peer, "-f", "-q", "-n", "-t", "10", "-T", "1", "-s", script).CombinedOutput()
	t.Logf("udhcpc:\n%s", out)
	if err != nil {
		t.Fatalf("udhcpc in %s: %v", l.ns, err)
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
	c := Config{Interface: l.host, Subnet: l.subnet, SSHPort: 22222, LeaseTime: time.Hour, StateDir: t.TempDir(), Timeout: time.Minute, Dnsmasq: "dnsmasq"}
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
	n := l.start(t, func(c *Config) { c.DUTMAC = l.mac })
	l.udhcpc(t)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	a, err := n.Address(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := sh(t, "ip", "-n", l.ns, "-4", "-o", "address", "show", "dev", l.peer)
	if !strings.Contains(got, " "+a.IP+"/24 ") {
		t.Errorf("Address says %s, the DUT has:\n%s", a.IP, got)
	}
	host := netip.MustParsePrefix(l.subnet).Addr().String()
	if a.Gateway != host || a.SSH != a.IP+":22222" {
		t.Errorf("Address = %+v", a)
	}
	sh(t, "ip", "netns", "exec", l.ns, "busybox", "ping", "-c", "1", "-W", "3", a.Gateway)
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
	for _, want := range []string{n.LeaseFile(), l.host, "02:00:00:00:00:01"} {
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
