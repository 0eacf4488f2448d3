package dnsmasq

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/hostcmd"
	"github.com/balena/leviathan-action/autokit/network/internal/dutfilter"
)

func config(iface string) Config {
	return Config{Interface: iface, Subnet: "10.42.0.1/24", SSHPort: 22222, LeaseTime: time.Hour, StateDir: "/state", Timeout: time.Minute, Dnsmasq: "dnsmasq"}
}

func TestArgs(t *testing.T) {
	c := config("eth1")
	c.DNS = "1.1.1.1, 9.9.9.9"
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--interface=eth1", "--bind-interfaces", "--except-interface=lo",
		"--dhcp-authoritative",
		"--dhcp-range=10.42.0.2,10.42.0.254,255.255.255.0,3600",
		"--dhcp-option=option:router,10.42.0.1",
		"--dhcp-option=option:dns-server,1.1.1.1,9.9.9.9",
		"--dhcp-leasefile=/state/dnsmasq-eth1.leases",
		"--pid-file=/state/dnsmasq-eth1.pid",
		"--user=root", "--log-dhcp", "--log-facility=-",
	}
	if got := n.Args(); !slices.Equal(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
	c.DNS = ""
	n, _ = New(c)
	if !slices.Contains(n.Args(), "--dhcp-option=option:dns-server") {
		t.Errorf("without NETWORK_DNS the DUT must be told of no DNS server: %q", n.Args())
	}
}

func TestRange(t *testing.T) {
	for subnet, want := range map[string]string{
		"10.42.0.1/24":   "10.42.0.2-10.42.0.254",
		"10.42.0.254/24": "10.42.0.1-10.42.0.253",
		"192.168.7.9/29": "192.168.7.10-192.168.7.14",
		"172.16.0.1/16":  "172.16.0.2-172.16.255.254",
	} {
		c := config("eth1")
		c.Subnet = subnet
		n, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		first, last := n.Range()
		if got := first.String() + "-" + last.String(); got != want {
			t.Errorf("%s: range %s, want %s", subnet, got, want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Subnet = "10.42.0.1" }, "NETWORK_SUBNET"},
		{func(c *Config) { c.Subnet = "10.42.0.300/24" }, "NETWORK_SUBNET"},
		{func(c *Config) { c.Subnet = "fd00::1/64" }, "NETWORK_SUBNET"},
		{func(c *Config) { c.Subnet = "10.42.0.0/24" }, "network or broadcast"},
		{func(c *Config) { c.Subnet = "10.42.0.1/31" }, "prefix length"},
		{func(c *Config) { c.Interface = "" }, "NETWORK_INTERFACE"},
		{func(c *Config) { c.Interface = "../eth1" }, "NETWORK_INTERFACE"},
		{func(c *Config) { c.DUTMAC = "52:54" }, "NETWORK_DUT_MAC"},
		{func(c *Config) { c.DNS = "dns.example" }, "NETWORK_DNS"},
		{func(c *Config) { c.SSHPort = 0 }, "NETWORK_SSH_PORT"},
		{func(c *Config) { c.LeaseTime = time.Second }, "NETWORK_LEASE_TIME"},
		{func(c *Config) { c.MDNSName = "dut.example.com" }, "NETWORK_MDNS_NAME"},
		{func(c *Config) { c.DUTAllow = "registry.lan" }, "NETWORK_DUT_ALLOW"},
		{func(c *Config) { c.DUTAllow = "192.168.1.0/24,fd00::/64" }, "NETWORK_DUT_ALLOW"},
	} {
		c := config("eth1")
		tc.edit(&c)
		_, err := New(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "dnsmasq: ") {
			t.Errorf("%+v: err = %v, want one naming %s", c, err, tc.want)
		}
	}
}

func TestStartMissingInterface(t *testing.T) {
	f := &hostcmd.Fake{}
	n, err := New(config("lvt-absent0"), WithRunner(f.Run))
	if err != nil {
		t.Fatal(err)
	}
	n.cfg.StateDir = t.TempDir()
	err = n.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "NETWORK_INTERFACE=lvt-absent0") {
		t.Fatalf("err = %v, want one naming the interface", err)
	}
	if len(f.Calls) != 0 {
		t.Errorf("ran %q for a missing interface", f.Lines())
	}
}

func TestStartMissingDnsmasq(t *testing.T) {
	f := &hostcmd.Fake{}
	c := config("lo")
	c.Dnsmasq = "/nonexistent/dnsmasq"
	c.StateDir = t.TempDir()
	n, _ := New(c, WithRunner(f.Run))
	err := n.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "dnsmasq-base") {
		t.Fatalf("err = %v, want one saying what to install", err)
	}
	if len(f.Calls) != 0 {
		t.Errorf("ran %q without dnsmasq", f.Lines())
	}
}

// TestStartFailsUndoes checks that a failure after the host was changed
// undoes the change, with the exact commands.
func TestStartFailsUndoes(t *testing.T) {
	if _, err := exec.LookPath("true"); err != nil {
		t.Skip("needs true(1)")
	}
	boom := errors.New("boom")
	f := &hostcmd.Fake{Reply: func(c hostcmd.Call) ([]byte, error) {
		if c.String() == "ip link set dev lo up" {
			return nil, boom
		}
		return nil, nil
	}}
	c := config("lo")
	c.Subnet = "10.249.77.1/24" // not on lo, so Start adds it
	c.Dnsmasq = "true"
	c.StateDir = t.TempDir()
	n, _ := New(c, WithRunner(f.Run))
	if err := n.Start(t.Context()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	want := []string{
		"ip address add 10.249.77.1/24 dev lo",
		"ip link set dev lo up",
		"ip address del 10.249.77.1/24 dev lo",
	}
	if !slices.Equal(f.Lines(), want) {
		t.Errorf("commands:\n got %q\nwant %q", f.Lines(), want)
	}
}

func TestFilterConfig(t *testing.T) {
	c := config("lvt-n1")
	c.NAT = true
	c.DNS = "192.168.1.1"
	c.DUTAllow = " 192.168.1.20, 10.8.0.0/16 ,10.9.1.7/16"
	c.MDNSName = "balena"
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	f := n.filterConfig()
	want := dutfilter.Config{Interface: "lvt-n1", Host: netip.MustParsePrefix("10.42.0.1/24"), NAT: true, MDNS: true,
		Resolvers: []netip.Addr{netip.MustParseAddr("192.168.1.1")},
		Allow:     []netip.Prefix{netip.MustParsePrefix("192.168.1.20/32"), netip.MustParsePrefix("10.8.0.0/16"), netip.MustParsePrefix("10.9.0.0/16")}}
	if f.Interface != want.Interface || f.Host != want.Host || f.NAT != want.NAT || f.MDNS != want.MDNS ||
		!slices.Equal(f.Resolvers, want.Resolvers) || !slices.Equal(f.Allow, want.Allow) {
		t.Errorf("filterConfig = %+v\nwant %+v", f, want)
	}
	n, _ = New(config("eth1"))
	if f := n.filterConfig(); f.NAT || f.MDNS || len(f.Resolvers) != 0 || len(f.Allow) != 0 {
		t.Errorf("by default: %+v; want the testbot closed and no exceptions", f)
	}
}

func TestAddressNotStarted(t *testing.T) {
	n, _ := New(config("eth1"))
	if _, err := n.Address(context.Background()); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("err = %v", err)
	}
}

// TestDnsmasqExitsAtStart checks that Start reports dnsmasq's exit with
// its output and command line, and undoes what it did: the filter it
// loaded, the only change. A script stands in for dnsmasq; the interface
// is lo with an address it already has and the runner a fake, so nothing
// on the host changes.
func TestDnsmasqExitsAtStart(t *testing.T) {
	fake := t.TempDir() + "/dnsmasq"
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'dnsmasq: failed to create listening socket for port 67: Address in use' >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &hostcmd.Fake{Reply: func(c hostcmd.Call) ([]byte, error) {
		if c.Args[0] == "ip" && c.Args[1] == "-j" {
			return []byte("[]"), nil
		}
		return nil, nil
	}}
	c := config("lo")
	c.Subnet = "127.0.0.1/8"
	c.Dnsmasq = fake
	c.StateDir = t.TempDir()
	n, _ := New(c, WithRunner(f.Run))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := n.Start(ctx)
	var de *Error
	if !errors.As(err, &de) || !strings.Contains(de.Tail, "Address in use") || !strings.Contains(err.Error(), "--interface=lo") {
		t.Fatalf("err = %v, want an *Error with dnsmasq's output and command line", err)
	}
	want := []string{
		"ip link set dev lo up",
		"ip -j -4 route show table main", "nft -f -", "iptables -w -S DOCKER-USER",
		"nft delete table inet leviathan_lo",
	}
	if !slices.Equal(f.Lines(), want) {
		t.Errorf("commands %q, want %q (the address was already there)", f.Lines(), want)
	}
}
