package dnsmasq

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/runner"
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
	f := &runner.Fake{}
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
	f := &runner.Fake{}
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
	f := &runner.Fake{Reply: func(c runner.Call) ([]byte, error) {
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

func TestNATScript(t *testing.T) {
	n, _ := New(config("lvt-n1"))
	s := n.NATScript()
	for _, want := range []string{"table ip leviathan_lvt_n1 {", `ip saddr 10.42.0.0/24 oifname != "lvt-n1" masquerade`, `iifname "lvt-n1" accept`} {
		if !strings.Contains(s, want) {
			t.Errorf("NAT script lacks %q:\n%s", want, s)
		}
	}
}

func TestAddressNotStarted(t *testing.T) {
	n, _ := New(config("eth1"))
	if _, err := n.Address(context.Background()); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("err = %v", err)
	}
}

// TestDnsmasqExitsAtStart checks that Start reports dnsmasq's exit with
// its output and command line, and undoes what it did. A script stands in
// for dnsmasq; the interface is lo with an address it already has, so
// nothing on the host changes.
func TestDnsmasqExitsAtStart(t *testing.T) {
	fake := t.TempDir() + "/dnsmasq"
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'dnsmasq: failed to create listening socket for port 67: Address in use' >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &runner.Fake{}
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
	if want := []string{"ip link set dev lo up"}; !slices.Equal(f.Lines(), want) {
		t.Errorf("commands %q, want %q (the address was already there)", f.Lines(), want)
	}
}

// TestAllowForwarding checks the iptables commands NAT runs on hosts
// with and without the Docker Engine's DOCKER-USER chain, and that Close
// deletes exactly what was inserted.
func TestAllowForwarding(t *testing.T) {
	const (
		r1 = "-i eth1 -j ACCEPT -m comment --comment leviathan leviathan_eth1"
		r2 = "-o eth1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT -m comment --comment leviathan leviathan_eth1"
	)
	missing := errors.New("exit status 1")
	tests := []struct {
		name      string
		reply     func(line string) ([]byte, error)
		wantErr   string
		wantRun   []string
		wantUndo  []string
		wantWarn  bool
		wantRules int
	}{
		{
			name:  "docker host",
			reply: func(string) ([]byte, error) { return nil, nil },
			wantRun: []string{
				"iptables -w -S DOCKER-USER",
				"iptables -w -D DOCKER-USER " + r1, "iptables -w -I DOCKER-USER " + r1,
				"iptables -w -D DOCKER-USER " + r2, "iptables -w -I DOCKER-USER " + r2,
			},
			wantUndo:  []string{"iptables -w -D DOCKER-USER " + r1, "iptables -w -D DOCKER-USER " + r2},
			wantRules: 2,
		},
		{
			name: "another firewall drops forwarding",
			reply: func(line string) ([]byte, error) {
				if line == "iptables -w -S FORWARD" {
					return []byte("-P FORWARD DROP\n"), nil
				}
				return nil, missing
			},
			wantRun:  []string{"iptables -w -S DOCKER-USER", "iptables -w -S FORWARD"},
			wantWarn: true,
		},
		{
			name:    "no iptables",
			reply:   func(string) ([]byte, error) { return nil, missing },
			wantRun: []string{"iptables -w -S DOCKER-USER", "iptables -w -S FORWARD"},
		},
		{
			name: "the insert fails",
			reply: func(line string) ([]byte, error) {
				if strings.HasPrefix(line, "iptables -w -I") {
					return nil, errors.New("permission denied")
				}
				return nil, nil
			},
			wantErr: "iptables chain DOCKER-USER",
			wantRun: []string{"iptables -w -S DOCKER-USER", "iptables -w -D DOCKER-USER " + r1, "iptables -w -I DOCKER-USER " + r1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &runner.Fake{Reply: func(c runner.Call) ([]byte, error) { return tc.reply(c.String()) }}
			var logs strings.Builder
			n, err := New(config("eth1"), WithRunner(f.Run), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			err = n.allowForwarding(t.Context())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.Lines(), tc.wantRun) {
				t.Errorf("commands:\n got %q\nwant %q", f.Lines(), tc.wantRun)
			}
			if warned := strings.Contains(logs.String(), "FORWARD policy is DROP"); warned != tc.wantWarn {
				t.Errorf("warned = %v; want %v; logs:\n%s", warned, tc.wantWarn, logs.String())
			}
			if tc.wantWarn && !strings.Contains(logs.String(), "iptables -I FORWARD "+r1) {
				t.Errorf("the warning does not give the rule to add:\n%s", logs.String())
			}
			if len(n.iptRules) != tc.wantRules {
				t.Fatalf("%d rules recorded for Close; want %d", len(n.iptRules), tc.wantRules)
			}
			before := len(f.Lines())
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if undo := f.Lines()[before:]; !slices.Equal(undo, tc.wantUndo) {
				t.Errorf("Close ran %q; want %q", undo, tc.wantUndo)
			}
		})
	}
}
