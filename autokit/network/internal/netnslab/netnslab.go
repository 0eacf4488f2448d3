// Package netnslab builds throw-away DUT networks for tests: a network
// namespace for the DUT, wired to the root namespace (the testbot) by a
// veth pair, and avahi-daemon inside it as the DUT's mDNS responder.
// For tests that need a testbot whose routes and firewall are their own,
// Namespace, Wire and Do build any topology of namespaces, the testbot's
// included, and run Go code (sockets, drivers) inside one. Everything is
// removed when the test ends, also when it fails.
//
// Limits: Linux; needs root (tests skip, saying so, when not root or when
// a tool is missing); each lab takes a random 10.240.0.0/12 /24 and
// assumes the host does not route that range elsewhere. Do keeps an OS
// thread per call until the test ends.
package netnslab

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Lab is a DUT's network namespace wired to the root namespace.
type Lab struct {
	NS     string // the DUT's namespace
	Host   string // the veth end in the root namespace: the testbot's interface
	Peer   string // the veth end in NS: the DUT's interface
	MAC    string // Peer's MAC address
	Subnet string // the lab's /24 with the testbot's address, .1, e.g. 10.247.3.1/24
}

// packages says what to install for each tool.
var packages = map[string]string{
	"ip":           "iproute2",
	"dnsmasq":      "dnsmasq-base",
	"busybox":      "busybox",
	"avahi-daemon": "avahi-daemon",
	"nft":          "nftables",
	"iptables":     "iptables",
}

// NeedRoot skips the test unless it runs as root and finds ip and the
// tools named.
func NeedRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and veth pairs")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			pkg := packages[tool]
			if pkg == "" {
				pkg = tool
			}
			t.Skipf("needs %s (apt-get install %s): %v", tool, pkg, err)
		}
	}
}

// Run runs a command and fails the test if it fails.
func Run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// New creates the namespace and the veth pair, both ends up and without
// addresses. It skips the test as NeedRoot does.
func New(t *testing.T, tools ...string) *Lab {
	t.Helper()
	NeedRoot(t, tools...)
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	l := &Lab{
		NS:     "lvt-ns" + id,
		Host:   "lvt-n" + id,
		Peer:   "lvt-d" + id,
		MAC:    fmt.Sprintf("02:4c:56:%02x:%02x:%02x", b[0], b[1], b[2]),
		Subnet: fmt.Sprintf("10.%d.%d.1/24", 240+b[1]%16, b[2]),
	}
	Run(t, "ip", "netns", "add", l.NS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.NS).Run() })
	Run(t, "ip", "link", "add", l.Host, "type", "veth", "peer", "name", l.Peer)
	// Deleting one end deletes the other, wherever it is.
	t.Cleanup(func() { exec.Command("ip", "link", "del", l.Host).Run() })
	Run(t, "ip", "link", "set", l.Peer, "netns", l.NS)
	Run(t, "ip", "-n", l.NS, "link", "set", l.Peer, "address", l.MAC)
	Run(t, "ip", "-n", l.NS, "link", "set", "lo", "up")
	Run(t, "ip", "-n", l.NS, "link", "set", l.Peer, "up")
	Run(t, "ip", "link", "set", l.Host, "up")
	return l
}

// Addr is the lab's address ending in host (1 is the testbot's), with
// the prefix length.
func (l *Lab) Addr(host byte) netip.Prefix {
	a := netip.MustParsePrefix(l.Subnet).Addr().As4()
	a[3] = host
	return netip.PrefixFrom(netip.AddrFrom4(a), 24)
}

// AddHostAddr gives the testbot's end the address ending in .1.
func (l *Lab) AddHostAddr(t *testing.T) {
	t.Helper()
	Run(t, "ip", "address", "add", l.Addr(1).String(), "dev", l.Host)
}

// AddDUTAddr gives the DUT's end a static address, as a DUT that asks no
// DHCP server has.
func (l *Lab) AddDUTAddr(t *testing.T, a netip.Prefix) {
	t.Helper()
	Run(t, "ip", "-n", l.NS, "address", "add", a.String(), "dev", l.Peer)
}

// Avahi runs avahi-daemon in the namespace, publishing hostName.local
// with Peer's addresses, and returns once avahi reports that the name is
// established (it has probed for conflicts). avahi's output goes to
// t.Logf prefixed with "avahi: "; the daemon is killed when the test
// ends. It runs in a mount namespace of its own with a tmpfs on /run, so
// its pid file and socket (/run/avahi-daemon) never meet another
// avahi's.
func (l *Lab) Avahi(t *testing.T, hostName string) {
	t.Helper()
	NeedRoot(t, "avahi-daemon")
	conf := filepath.Join(t.TempDir(), "avahi-daemon.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[server]
host-name=%s
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=%s
enable-dbus=no

[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
`, hostName, l.Peer)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// ip netns exec gives the command a mount namespace of its own, with
	// mounts that do not propagate back, so the tmpfs stays private.
	args := []string{"ip", "netns", "exec", l.NS, "sh", "-c",
		`mount -t tmpfs tmpfs /run && exec avahi-daemon --file="$1" --no-drop-root --no-chroot --no-rlimits`, "sh", conf}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	exited := make(chan struct{})
	ready := make(chan struct{})
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(pr)
		isReady := false
		for sc.Scan() {
			t.Logf("avahi: %s", sc.Text())
			if !isReady && strings.Contains(sc.Text(), "Server startup complete") {
				isReady = true
				close(ready)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		<-logDone // no t.Logf after the test ends
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("avahi-daemon exited at start (%v); command: %s", cmd.ProcessState, strings.Join(args, " "))
	case <-ctx.Done():
		t.Fatalf("avahi-daemon did not report startup complete; command: %s", strings.Join(args, " "))
	}
}

// DHCPClient runs busybox's DHCP client on Peer until it has a lease; its
// script gives Peer the leased address and a default route through the
// router the server named, as a DUT's OS does.
func (l *Lab) DHCPClient(t *testing.T) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "udhcpc.sh")
	err := os.WriteFile(script, []byte(`#!/bin/sh
case "$1" in
bound|renew)
	ip address add "$ip/$mask" dev "$interface"
	for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
	;;
esac
exit 0
`), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.NS,
		"busybox", "udhcpc", "-i", l.Peer, "-f", "-q", "-n", "-t", "10", "-T", "1", "-s", script).CombinedOutput()
	t.Logf("udhcpc:\n%s", out)
	if err != nil {
		t.Fatalf("udhcpc in %s: %v", l.NS, err)
	}
}

// Namespace creates an empty network namespace with lo up, named
// lvt-ns<6 hex digits>, deleted when the test ends. It skips the test as
// NeedRoot does.
func Namespace(t *testing.T, tools ...string) string {
	t.Helper()
	NeedRoot(t, tools...)
	b := make([]byte, 3)
	rand.Read(b)
	ns := "lvt-ns" + hex.EncodeToString(b)
	Run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// Wire connects namespaces a and b by a veth pair whose ends are ifA in a
// and ifB in b, both up and without addresses. The pair goes with the
// namespaces.
func Wire(t *testing.T, a, ifA, b, ifB string) {
	t.Helper()
	Run(t, "ip", "-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b)
	Run(t, "ip", "-n", a, "link", "set", ifA, "up")
	Run(t, "ip", "-n", b, "link", "set", ifB, "up")
}

// Do runs f on an OS thread that has entered the network namespace ns and
// returns f's error. What f does there stays there: sockets it opens
// belong to ns for good, commands it starts run in ns. The thread is kept
// until the test's cleanups that were registered after Do have run, so a
// child started with Pdeathsig (dnsmasq) lives on after Do returns.
// Goroutines f starts run elsewhere; f must not call t.Fatal.
func Do(t *testing.T, ns string, f func() error) error {
	t.Helper()
	release := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, left in ns, ends with the goroutine.
		runtime.LockOSThread()
		h, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			errc <- fmt.Errorf("netnslab: %w", err)
			return
		}
		err = unix.Setns(int(h.Fd()), unix.CLONE_NEWNET)
		h.Close()
		if err != nil {
			errc <- fmt.Errorf("netnslab: entering network namespace %s: %w", ns, err)
			return
		}
		errc <- f()
		<-release
	}()
	t.Cleanup(func() { close(release) })
	return <-errc
}
