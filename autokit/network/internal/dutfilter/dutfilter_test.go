package dutfilter

import (
	"errors"
	"flag"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/hostcmd"
	"github.com/balena/leviathan-action/autokit/network/internal/netnslab"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func prefixList(s ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, x := range s {
		ps = append(ps, netip.MustParsePrefix(x))
	}
	return ps
}

func config() Config {
	return Config{Interface: "eth1", Host: netip.MustParsePrefix("10.42.0.1/24"), NAT: true}
}

var lan = Upstream{Interfaces: []string{"eth0"}, Links: prefixList("192.168.1.0/24")}

// scripts are the golden cases of Script.
var scripts = []struct {
	name string
	cfg  func() Config
	up   Upstream
}{
	{"nat", config, lan},
	{"filter-only", func() Config {
		c := config()
		c.Interface = "lvt-dut.7"
		c.NAT = false
		c.MDNS = true
		c.Resolvers = []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("192.168.1.1")}
		c.Allow = prefixList("192.168.1.20/32", "10.8.0.0/16", "10.8.3.0/24")
		return c
	}, Upstream{Interfaces: []string{"eth0", "wlan0"}, Links: prefixList("192.168.1.0/24", "203.0.113.0/24")}},
	{"no-upstream", config, Upstream{}},
}

// TestScript compares Script with testdata/<case>.nft; -update rewrites
// them.
func TestScript(t *testing.T) {
	for _, tc := range scripts {
		t.Run(tc.name, func(t *testing.T) {
			got := Script(tc.cfg(), tc.up)
			golden := filepath.Join("testdata", tc.name+".nft")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Script differs from %s (run with -update if intended):\n%s", golden, got)
			}
		})
	}
}

// TestScriptLoads checks each golden script with nft itself, in a
// network namespace of its own: loading it over an earlier version's
// table, twice, leaves one table, which a delete removes.
func TestScriptLoads(t *testing.T) {
	ns := netnslab.Namespace(t, "nft")
	nft := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range scripts {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg()
			// The NAT table an earlier version left after a crash.
			legacy := "table ip " + TableName(c.Interface) + " {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tiifname \"" + c.Interface + "\" accept\n\t}\n}\n"
			if out, err := nft(legacy, "-f", "-"); err != nil {
				t.Fatalf("nft -f: %v\n%s", err, out)
			}
			s := Script(c, tc.up)
			for range 2 {
				if out, err := nft(s, "-f", "-"); err != nil {
					t.Fatalf("nft -f: %v\n%s\n%s", err, out, s)
				}
			}
			out, err := nft("", "list", "tables")
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(out, "table inet "+TableName(c.Interface)+"\n"); n != 1 || strings.Contains(out, "table ip ") {
				t.Errorf("nft list tables after loading twice:\n%s", out)
			}
			if out, err := nft("", "delete", "table", "inet", TableName(c.Interface)); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestParseRoutes(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Upstream
	}{
		{"routes-docker-host.json", Upstream{Interfaces: []string{"eth0"}, Links: prefixList("192.0.2.0/24")}},
		{"routes-multipath.json", Upstream{Interfaces: []string{"a0", "b0"}, Links: prefixList("10.0.5.0/24", "192.168.1.0/24")}},
		{"routes-none.json", Upstream{}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseRoutes(b, "eth1")
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !slices.Equal(got.Interfaces, tc.want.Interfaces) || !slices.Equal(got.Links, tc.want.Links) {
			t.Errorf("%s: %+v, want %+v", tc.file, got, tc.want)
		}
	}
	// A default route through the DUT's interface is no upstream.
	up, err := ParseRoutes([]byte(`[{"dst":"default","gateway":"10.42.0.9","dev":"eth1","flags":[]}]`), "eth1")
	if err != nil || len(up.Interfaces) != 0 {
		t.Errorf("default route through the DUT: %+v, %v", up, err)
	}
	if _, err := ParseRoutes([]byte("Error: unknown option"), "eth1"); err == nil || !strings.HasPrefix(err.Error(), "dutfilter: ") {
		t.Errorf("garbage: err = %v", err)
	}
	if _, err := ParseRoutes([]byte(`[{"dst":"default","dev":"a\"b","flags":[]}]`), "eth1"); err == nil || !strings.Contains(err.Error(), "nftables script") {
		t.Errorf("an interface name with a quote: err = %v", err)
	}
}

func TestMerge(t *testing.T) {
	got := merge(prefixList("10.8.3.0/24", "192.168.0.0/16", "10.0.0.0/8", "192.168.1.0/24", "10.8.0.0/16", "8.8.8.8/32", "10.0.0.0/8"))
	want := prefixList("8.8.8.8/32", "10.0.0.0/8", "192.168.0.0/16")
	if !slices.Equal(got, want) {
		t.Errorf("merge = %v, want %v", got, want)
	}
}

func TestSplitRule(t *testing.T) {
	got := splitRule(`-A DOCKER-USER -i eth1 -m comment --comment "leviathan leviathan_eth1" -j ACCEPT`)
	want := []string{"-A", "DOCKER-USER", "-i", "eth1", "-m", "comment", "--comment", "leviathan leviathan_eth1", "-j", "ACCEPT"}
	if !slices.Equal(got, want) {
		t.Errorf("splitRule = %q, want %q", got, want)
	}
	if got := splitRule(`-A X -m comment --comment "a \"b\" c"`); got[len(got)-1] != `a "b" c` {
		t.Errorf("escaped quotes: %q", got)
	}
}

// TestApply checks the commands Apply and Remove run on hosts with and
// without the Docker Engine's DOCKER-USER chain, that a crashed run's
// rules are removed whatever their form, and that Remove deletes exactly
// what Apply put in place.
func TestApply(t *testing.T) {
	const (
		routes  = "ip -j -4 route show table main"
		comment = `-m comment --comment leviathan leviathan_eth1`
		r1      = "-o eth1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT " + comment
		r2      = "-i eth1 -o eth0 -j ACCEPT " + comment
		r3      = "-i eth1 -d 192.168.1.1/32 -p udp --dport 53 -j ACCEPT " + comment
		r4      = "-i eth1 -d 192.168.1.1/32 -p tcp --dport 53 -j ACCEPT " + comment
		// left by an earlier version's crashed run, as iptables -S prints it
		stale = `-A DOCKER-USER -i eth1 -m comment --comment "leviathan leviathan_eth1" -j ACCEPT`
		other = `-A DOCKER-USER -i eth2 -m comment --comment "leviathan leviathan_eth2" -j ACCEPT`
	)
	routesJSON, err := os.ReadFile("testdata/routes-docker-host.json")
	if err != nil {
		t.Fatal(err)
	}
	missing := errors.New("exit status 1")
	tests := []struct {
		name     string
		nat      bool
		reply    func(line string) ([]byte, error)
		wantErr  string
		wantRun  []string // after the routes and nft -f
		wantUndo []string
		wantWarn bool
	}{
		{
			name: "docker host",
			nat:  true,
			reply: func(line string) ([]byte, error) {
				if line == "iptables -w -S DOCKER-USER" {
					return []byte("-N DOCKER-USER\n" + stale + "\n" + other + "\n-A DOCKER-USER -j RETURN\n"), nil
				}
				return nil, nil
			},
			wantRun: []string{
				"iptables -w -S DOCKER-USER",
				"iptables -w -D DOCKER-USER -i eth1 -m comment --comment leviathan leviathan_eth1 -j ACCEPT",
				"iptables -w -I DOCKER-USER " + r1, "iptables -w -I DOCKER-USER " + r2,
				"iptables -w -I DOCKER-USER " + r3, "iptables -w -I DOCKER-USER " + r4,
			},
			wantUndo: []string{
				"iptables -w -D DOCKER-USER " + r1, "iptables -w -D DOCKER-USER " + r2,
				"iptables -w -D DOCKER-USER " + r3, "iptables -w -D DOCKER-USER " + r4,
				"nft delete table inet leviathan_eth1",
			},
		},
		{
			name: "docker host without NAT removes leftovers only",
			reply: func(line string) ([]byte, error) {
				if line == "iptables -w -S DOCKER-USER" {
					return []byte(stale + "\n"), nil
				}
				return nil, nil
			},
			wantRun: []string{
				"iptables -w -S DOCKER-USER",
				"iptables -w -D DOCKER-USER -i eth1 -m comment --comment leviathan leviathan_eth1 -j ACCEPT",
			},
			wantUndo: []string{"nft delete table inet leviathan_eth1"},
		},
		{
			name: "another firewall drops forwarding",
			nat:  true,
			reply: func(line string) ([]byte, error) {
				if line == "iptables -w -S FORWARD" {
					return []byte("-P FORWARD DROP\n"), nil
				}
				if strings.HasPrefix(line, "iptables") {
					return nil, missing
				}
				return nil, nil
			},
			wantRun:  []string{"iptables -w -S DOCKER-USER", "iptables -w -S FORWARD"},
			wantUndo: []string{"nft delete table inet leviathan_eth1"},
			wantWarn: true,
		},
		{
			name: "no iptables",
			nat:  true,
			reply: func(line string) ([]byte, error) {
				if strings.HasPrefix(line, "iptables") {
					return nil, missing
				}
				return nil, nil
			},
			wantRun:  []string{"iptables -w -S DOCKER-USER", "iptables -w -S FORWARD"},
			wantUndo: []string{"nft delete table inet leviathan_eth1"},
		},
		{
			name: "the insert fails",
			nat:  true,
			reply: func(line string) ([]byte, error) {
				if strings.HasPrefix(line, "iptables -w -I") {
					return nil, errors.New("permission denied")
				}
				return nil, nil
			},
			wantErr:  "iptables chain DOCKER-USER",
			wantRun:  []string{"iptables -w -S DOCKER-USER", "iptables -w -I DOCKER-USER " + r1},
			wantUndo: []string{"nft delete table inet leviathan_eth1"},
		},
		{
			name: "nft fails",
			nat:  true,
			reply: func(line string) ([]byte, error) {
				if line == "nft -f -" {
					return nil, errors.New("exit status 1")
				}
				return nil, nil
			},
			wantErr: "loading the nftables table inet leviathan_eth1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &hostcmd.Fake{Reply: func(c hostcmd.Call) ([]byte, error) {
				if c.String() == routes {
					return routesJSON, nil
				}
				return tc.reply(c.String())
			}}
			var logs strings.Builder
			c := config()
			c.NAT = tc.nat
			c.Resolvers = []netip.Addr{netip.MustParseAddr("192.168.1.1")}
			flt := New(c, WithRunner(f.Run), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			err := flt.Apply(t.Context())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "dutfilter: ") {
					t.Fatalf("err = %v; want one containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			lines := f.Lines()
			if len(lines) < 2 || lines[0] != routes || lines[1] != "nft -f -" {
				t.Fatalf("commands %q; want the routes read, then the table loaded", lines)
			}
			if s := f.Calls[1].Stdin; !strings.Contains(s, `oifname != { "eth0" } drop`) || !strings.Contains(s, "192.0.2.0/24") {
				t.Errorf("the table does not use the routes' upstream:\n%s", s)
			}
			if got := lines[2:]; !slices.Equal(got, tc.wantRun) {
				t.Errorf("commands:\n got %q\nwant %q", got, tc.wantRun)
			}
			if warned := strings.Contains(logs.String(), "FORWARD policy is DROP"); warned != tc.wantWarn {
				t.Errorf("warned = %v; want %v; logs:\n%s", warned, tc.wantWarn, logs.String())
			}
			if tc.wantWarn && !strings.Contains(logs.String(), "iptables -I FORWARD "+r2) {
				t.Errorf("the warning does not give the rules to add:\n%s", logs.String())
			}
			before := len(f.Lines())
			if err := flt.Remove(t.Context()); err != nil {
				t.Fatal(err)
			}
			if undo := f.Lines()[before:]; !slices.Equal(undo, tc.wantUndo) {
				t.Errorf("Remove ran %q; want %q", undo, tc.wantUndo)
			}
			before = len(f.Lines())
			if err := flt.Remove(t.Context()); err != nil || len(f.Lines()) != before {
				t.Errorf("a second Remove ran %q, %v; want nothing", f.Lines()[before:], err)
			}
		})
	}
}

// TestApplyNoDefaultRoute checks the warning when the DUT has no way out.
func TestApplyNoDefaultRoute(t *testing.T) {
	f := &hostcmd.Fake{Reply: func(c hostcmd.Call) ([]byte, error) {
		if strings.HasPrefix(c.String(), "ip ") {
			return []byte("[]"), nil
		}
		return nil, nil
	}}
	var logs strings.Builder
	flt := New(config(), WithRunner(f.Run), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err := flt.Apply(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "no default route") || !strings.Contains(f.Calls[1].Stdin, `drop comment "no default route: no upstream"`) {
		t.Errorf("logs:\n%s\nscript:\n%s", logs.String(), f.Calls[1].Stdin)
	}
}
