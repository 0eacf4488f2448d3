package dnsmasq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/balena/leviathan-action/autokit/network/internal/dutfilter"
	"github.com/balena/leviathan-action/autokit/network/internal/netnslab"
)

// The isolation tests build a whole testbot in network namespaces, so its
// default route, firewall and forwarding are the test's own and no probe
// leaves the machine:
//
//	dut ── lvt-dut ┤ testbot ├ lvt-up ── upstream: the LAN's router (gateway, DNS
//	               │         │                     server, a LAN service) and the
//	               │         │                     "internet" behind it
//	               │         ├ lvt-docker0 (bridge) ── lvt-dock ── a container
//	               └ lo: an address routed to loopback
//
// The testbot runs a TCP service on all of its addresses (like the worker
// API), the container and the LAN router one each; the DUT must reach the
// internet only.
const (
	tbDUT      = "lvt-dut"
	tbSubnet   = "10.42.0.1/24"
	tbLinkLoc  = "fe80::1"
	dutLinkLoc = "fe80::2"
	tbUp       = "192.168.77.2/24"
	lanRouter  = "192.168.77.1"
	internet   = "203.0.113.10"
	tbDocker0  = "172.17.0.1/16"
	container  = "172.17.0.2"
	tbLoopback = "10.99.0.1/32"
	checkName  = "dut-check.test."
)

// world is a testbot, a DUT and what surrounds them, built by newWorld.
type world struct {
	tb, dut, up, dock string // namespaces
	peer              string // the DUT's interface
	// targets are the TCP services, by name, and their host:port.
	targets map[string]string
}

// newWorld builds the namespaces. A docker world's testbot has the
// Docker Engine's iptables FORWARD chain (policy DROP, jump to an empty
// DOCKER-USER); every testbot forwards, as a Docker host does.
func newWorld(t *testing.T, docker bool) *world {
	t.Helper()
	tools := []string{"dnsmasq", "busybox", "nft"}
	if docker {
		tools = append(tools, "iptables")
	}
	w := &world{targets: map[string]string{}}
	w.tb = netnslab.Namespace(t, tools...)
	w.dut = netnslab.Namespace(t)
	w.up = netnslab.Namespace(t)
	w.dock = netnslab.Namespace(t)
	w.peer = "lvt-d" + strings.TrimPrefix(w.dut, "lvt-ns") // unique: see dial

	in := func(ns string, args ...string) { sh(t, append([]string{"ip", "-n", ns}, args...)...) }
	netnslab.Wire(t, w.tb, tbDUT, w.dut, w.peer)
	in(w.tb, "address", "add", tbLinkLoc+"/64", "dev", tbDUT, "nodad")
	in(w.dut, "address", "add", dutLinkLoc+"/64", "dev", w.peer, "nodad")

	netnslab.Wire(t, w.tb, "lvt-up", w.up, "lan0")
	in(w.tb, "address", "add", tbUp, "dev", "lvt-up")
	in(w.up, "address", "add", lanRouter+"/24", "dev", "lan0")
	in(w.up, "address", "add", internet+"/32", "dev", "lo")
	in(w.tb, "route", "add", "default", "via", lanRouter)

	in(w.tb, "link", "add", "lvt-docker0", "type", "bridge")
	in(w.tb, "link", "set", "lvt-docker0", "up")
	in(w.tb, "address", "add", tbDocker0, "dev", "lvt-docker0")
	netnslab.Wire(t, w.tb, "lvt-dock", w.dock, "eth0")
	in(w.tb, "link", "set", "lvt-dock", "master", "lvt-docker0")
	in(w.dock, "address", "add", container+"/16", "dev", "eth0")
	in(w.dock, "route", "add", "default", "via", netip.MustParsePrefix(tbDocker0).Addr().String())

	in(w.tb, "address", "add", tbLoopback, "dev", "lo")

	sh(t, "ip", "netns", "exec", w.tb, "sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward")
	if docker {
		for _, r := range [][]string{
			{"-P", "FORWARD", "DROP"},
			{"-N", dutfilter.DockerUserChain},
			{"-A", "FORWARD", "-j", dutfilter.DockerUserChain},
			{"-A", dutfilter.DockerUserChain, "-j", "RETURN"},
		} {
			sh(t, append([]string{"ip", "netns", "exec", w.tb, "iptables", "-w"}, r...)...)
		}
	}

	port := func(a string) string { return a[strings.LastIndexByte(a, ':')+1:] }
	all := w.listen(t, w.tb, "[::]:0") // the worker API: every address
	for name, a := range map[string]string{
		"the testbot's DUT-side address":        netip.MustParsePrefix(tbSubnet).Addr().String(),
		"the testbot's upstream-facing address": netip.MustParsePrefix(tbUp).Addr().String(),
		"the testbot's docker0 address":         netip.MustParsePrefix(tbDocker0).Addr().String(),
		"the testbot's loopback-routed address": netip.MustParsePrefix(tbLoopback).Addr().String(),
		"the testbot's IPv6 link-local address": tbLinkLoc + "%" + w.peer,
	} {
		w.targets[name] = net.JoinHostPort(a, port(all))
	}
	w.targets["a container behind docker0"] = w.listen(t, w.dock, container+":0")
	w.targets["a LAN host (the router)"] = w.listen(t, w.up, lanRouter+":0")
	w.targets["the internet"] = w.listen(t, w.up, internet+":0")
	w.dnsServer(t)
	return w
}

// listen opens a TCP listener in namespace ns that accepts and closes
// connections until the test ends, and returns its address.
func (w *world) listen(t *testing.T, ns, addr string) string {
	t.Helper()
	var l net.Listener
	err := netnslab.Do(t, ns, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

// dnsServer answers checkName with the internet's address on the LAN
// router's port 53, over UDP and TCP.
func (w *world) dnsServer(t *testing.T) {
	t.Helper()
	h := dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && q.Question[0].Name == checkName && q.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: checkName, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(internet)})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		rw.WriteMsg(m)
	})
	addr := net.JoinHostPort(lanRouter, "53")
	var pc net.PacketConn
	var l net.Listener
	err := netnslab.Do(t, w.up, func() (err error) {
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			return err
		}
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
}

// dial connects from the DUT. The DUT's interface name is unique to the
// test because the net package caches interface names (for the link-local
// address's zone) process-wide.
func (w *world) dial(t *testing.T, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := netnslab.Do(t, w.dut, func() (err error) {
		c, err = net.DialTimeout(network, addr, 1500*time.Millisecond)
		return err
	})
	return c, err
}

// probe dials every target from the DUT at once and returns, by name,
// nil for those it reached and the error for the others.
func (w *world) probe(t *testing.T) map[string]error {
	var mu sync.Mutex
	got := map[string]error{}
	var wg sync.WaitGroup
	for name, addr := range w.targets {
		wg.Go(func() {
			c, err := w.dial(t, "tcp", addr)
			if err == nil {
				c.Close()
			}
			mu.Lock()
			got[name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return got
}

// timedOut says whether a dial failed by its timeout, as it does when a
// filter drops the SYN, not for another reason (no route, refused).
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// lookup asks the LAN router's DNS server for checkName from the DUT over
// network (udp or tcp).
func (w *world) lookup(t *testing.T, network string) (netip.Addr, error) {
	c, err := w.dial(t, network, net.JoinHostPort(lanRouter, "53"))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	q := new(dns.Msg)
	q.SetQuestion(checkName, dns.TypeA)
	cl := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := cl.ExchangeWithConn(q, &dns.Conn{Conn: c})
	if err != nil {
		return netip.Addr{}, err
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ip, _ := netip.AddrFromSlice(a.A)
			return ip.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no A record in %v", r)
}

// start starts the network inside the testbot's namespace; Close runs
// there too when the test ends.
func (w *world) start(t *testing.T, c Config) *Network {
	t.Helper()
	n, err := New(c, WithLogger(logger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := netnslab.Do(t, w.tb, func() error { return n.Start(ctx) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netnslab.Do(t, w.tb, n.Close); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// TestDUTIsolation checks that a DUT with a lease reaches the internet
// through NAT and nothing on or behind the testbot: not the testbot's
// service on any of its addresses, not a Docker network, not the LAN —
// with and without NAT, on a host with and without Docker's FORWARD
// drop — unless NETWORK_DUT_ALLOW opens it. DHCP, DNS to the upstream
// resolver and ping to the gateway keep working. Start replaces what a
// crashed run of an earlier version left; Close leaves nothing.
func TestDUTIsolation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		docker  bool
		nat     bool
		allow   string
		reach   []string // targets the DUT must reach; the others must drop
		skipped []string // targets not probed: unreachable without NAT anyway
	}{
		{name: "NAT on a Docker host", docker: true, nat: true, reach: []string{"the internet"}},
		{name: "NAT", nat: true, reach: []string{"the internet"}},
		{name: "no NAT", skipped: []string{"the internet", "a LAN host (the router)"}},
		{name: "NETWORK_DUT_ALLOW opens a LAN host", docker: true, nat: true, allow: lanRouter,
			reach: []string{"the internet", "a LAN host (the router)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.docker)
			for _, s := range tc.skipped {
				delete(w.targets, s)
			}
			w.crashedRun(t, tc.docker)
			c := Config{Interface: tbDUT, Subnet: tbSubnet, SSHPort: 22222, LeaseTime: time.Hour, StateDir: t.TempDir(),
				Timeout: time.Minute, Dnsmasq: "dnsmasq", NAT: tc.nat, DNS: lanRouter, DUTAllow: tc.allow}
			n := w.start(t, c)
			w.checkInPlace(t, tc.docker, tc.nat)
			dut := &netnslab.Lab{NS: w.dut, Peer: w.peer}
			dut.DHCPClient(t) // DHCP still answers
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := n.Address(ctx); err != nil {
				t.Fatal(err)
			}
			sh(t, "ip", "netns", "exec", w.dut, "busybox", "ping", "-c", "1", "-W", "3", netip.MustParsePrefix(tbSubnet).Addr().String())

			for name, err := range w.probe(t) {
				switch {
				case slices.Contains(tc.reach, name) && err != nil:
					t.Errorf("the DUT does not reach %s (%s): %v", name, w.targets[name], err)
				case !slices.Contains(tc.reach, name) && err == nil:
					t.Errorf("the DUT reaches %s (%s)", name, w.targets[name])
				case !slices.Contains(tc.reach, name) && !timedOut(err):
					t.Errorf("%s (%s): %v; want a timeout (dropped), not another error", name, w.targets[name], err)
				}
			}
			if tc.nat {
				for _, network := range []string{"udp", "tcp"} {
					if ip, err := w.lookup(t, network); err != nil || ip.String() != internet {
						t.Errorf("DNS over %s from the DUT to %s: %v, %v; want %s", network, lanRouter, ip, err, internet)
					}
				}
			}

			if err := netnslab.Do(t, w.tb, n.Close); err != nil {
				t.Fatal(err)
			}
			if out := w.inTestbot(t, "nft", "list", "tables"); strings.Contains(out, "leviathan") {
				t.Errorf("nftables after Close:\n%s", out)
			}
			if tc.docker {
				if out := w.inTestbot(t, "iptables", "-w", "-S", dutfilter.DockerUserChain); strings.Contains(out, "leviathan") {
					t.Errorf("iptables %s after Close:\n%s", dutfilter.DockerUserChain, out)
				}
			}
		})
	}
}

func (w *world) inTestbot(t *testing.T, args ...string) string {
	t.Helper()
	return sh(t, append([]string{"ip", "netns", "exec", w.tb}, args...)...)
}

// staleRule is the DOCKER-USER rule of an earlier version, which let
// everything from the DUT through.
var staleRule = []string{"-i", tbDUT, "-j", "ACCEPT", "-m", "comment", "--comment", "leviathan " + dutfilter.TableName(tbDUT)}

// crashedRun leaves in the testbot what an earlier version's crashed run
// did: its ip table, and its DOCKER-USER rule twice (two crashes).
func (w *world) crashedRun(t *testing.T, docker bool) {
	t.Helper()
	table := dutfilter.TableName(tbDUT)
	cmd := exec.Command("ip", "netns", "exec", w.tb, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("table ip %s {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tiifname %q accept\n\t}\n}\n", table, tbDUT))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("loading a stale table: %v\n%s", err, out)
	}
	if docker {
		for range 2 {
			w.inTestbot(t, append([]string{"iptables", "-w", "-I", dutfilter.DockerUserChain}, staleRule...)...)
		}
	}
}

// checkInPlace checks that Start replaced crashedRun's leftovers: one
// table, of family inet, and the DOCKER-USER rules once each, without the
// stale one.
func (w *world) checkInPlace(t *testing.T, docker, nat bool) {
	t.Helper()
	table := dutfilter.TableName(tbDUT)
	if out := w.inTestbot(t, "nft", "list", "tables"); strings.Count(out, "leviathan") != 1 || !strings.Contains(out, "table inet "+table+"\n") {
		t.Errorf("nftables tables after Start:\n%s", out)
	}
	if !docker {
		return
	}
	out := w.inTestbot(t, "iptables", "-w", "-S", dutfilter.DockerUserChain)
	var ours []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "leviathan "+table) {
			if slices.Contains(ours, line) {
				t.Errorf("iptables %s holds a rule twice: %s", dutfilter.DockerUserChain, line)
			}
			ours = append(ours, line)
		}
	}
	stale := fmt.Sprintf("-A %s -i %s -m comment --comment \"leviathan %s\" -j ACCEPT", dutfilter.DockerUserChain, tbDUT, table)
	if slices.Contains(ours, stale) || (nat && len(ours) == 0) || (!nat && len(ours) != 0) {
		t.Errorf("iptables %s after Start (NAT %v):\n%s", dutfilter.DockerUserChain, nat, out)
	}
}
