package dutfilter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/balena/leviathan-action/autokit/hostcmd"
)

// Config is the DUT network to filter and what the DUT may reach.
type Config struct {
	// Interface is the testbot's interface on the DUT network.
	Interface string
	// Host is the testbot's address on it, with the prefix length.
	Host netip.Prefix
	// NAT masquerades the DUT's subnet out of the testbot's other
	// interfaces and lets it past Docker's FORWARD drop.
	NAT bool
	// MDNS accepts the DUT's unicast mDNS answers to the testbot.
	MDNS bool
	// Resolvers are DNS servers the DUT may reach on port 53 (UDP and
	// TCP) wherever they are.
	Resolvers []netip.Addr
	// Allow are destinations the DUT may reach wherever they are.
	Allow []netip.Prefix
}

// Upstream is where the DUT's traffic may leave the testbot.
type Upstream struct {
	// Interfaces carry the main table's default routes.
	Interfaces []string
	// Links are the networks directly on those interfaces (the LAN):
	// closed to the DUT like the rest of the testbot's neighbourhood.
	Links []netip.Prefix
}

// NotInternet are the IPv4 ranges the DUT may not reach even through an
// upstream interface (RFC 6890's non-global ones that matter): this
// network, the private ranges (where Docker's networks live), shared
// address space (CGNAT, Tailscale), loopback, link-local (cloud metadata
// services), IETF assignments, benchmarking, and multicast, reserved and
// broadcast.
var NotInternet = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("224.0.0.0/3"),
}

// TableName is the name of the nftables table (family inet) and the
// DOCKER-USER rules' comment suffix for the DUT interface iface.
func TableName(iface string) string {
	return "leviathan_" + strings.NewReplacer("-", "_", ".", "_").Replace(iface)
}

// Script is the nftables script Apply loads for c, given up.
func Script(c Config, up Upstream) string {
	name := TableName(c.Interface)
	host := c.Host.Addr()
	var b strings.Builder
	fmt.Fprintf(&b, "# The DUT network on %s: out, not in (leviathan autokit/network/internal/dutfilter).\n", c.Interface)
	b.WriteString("# Replaces a table left by an earlier run, in the same transaction.\n")
	fmt.Fprintf(&b, "table ip %[1]s\ndelete table ip %[1]s\ntable inet %[1]s\ndelete table inet %[1]s\n", name)
	fmt.Fprintf(&b, "table inet %s {\n", name)
	set := func(name, typ string, interval bool, elems []string) {
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", name, typ)
		if interval {
			b.WriteString("\t\tflags interval\n")
		}
		fmt.Fprintf(&b, "\t\telements = { %s }\n\t}\n", strings.Join(elems, ", "))
	}
	set("not_internet", "ipv4_addr", true, prefixes(merge(append(slices.Clone(NotInternet), up.Links...))))
	if len(c.Allow) > 0 {
		set("allow", "ipv4_addr", true, prefixes(merge(c.Allow)))
	}
	if len(c.Resolvers) > 0 {
		set("resolvers", "ipv4_addr", false, addrs(c.Resolvers))
	}

	fmt.Fprintf(&b, `	chain input {
		type filter hook input priority filter; policy accept;
		iifname "%[1]s" jump from_dut
	}
	chain from_dut {
		ct state established,related accept
		ip daddr { 255.255.255.255, %[2]s } udp sport 68 udp dport 67 accept comment "DHCP"
		ip daddr %[2]s icmp type echo-request accept
`, c.Interface, host)
	if c.MDNS {
		fmt.Fprintf(&b, "\t\tip daddr %s udp sport 5353 udp dport 1024-65535 accept comment \"unicast mDNS answers\"\n", host)
	}
	b.WriteString("\t\tdrop\n\t}\n")

	fmt.Fprintf(&b, `	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "%s" jump through_testbot
	}
	chain through_testbot {
		ct state established,related accept
		meta nfproto != ipv4 drop
`, c.Interface)
	if len(c.Allow) > 0 {
		b.WriteString("\t\tip daddr @allow accept\n")
	}
	if len(c.Resolvers) > 0 {
		b.WriteString("\t\tip daddr @resolvers udp dport 53 accept\n\t\tip daddr @resolvers tcp dport 53 accept\n")
	}
	if len(up.Interfaces) > 0 {
		q := make([]string, len(up.Interfaces))
		for i, s := range up.Interfaces {
			q[i] = `"` + s + `"`
		}
		fmt.Fprintf(&b, "\t\toifname != { %s } drop\n\t\tip daddr @not_internet drop\n\t\taccept\n", strings.Join(q, ", "))
	} else {
		b.WriteString("\t\tdrop comment \"no default route: no upstream\"\n")
	}
	b.WriteString("\t}\n")

	if c.NAT {
		fmt.Fprintf(&b, `	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr %s oifname != "%s" masquerade
	}
`, c.Host.Masked(), c.Interface)
	}
	b.WriteString("}\n")
	return b.String()
}

// merge sorts ps and drops those inside another: nftables refuses
// overlapping intervals, and two CIDR prefixes overlap only when one
// holds the other.
func merge(ps []netip.Prefix) []netip.Prefix {
	ps = slices.Clone(ps)
	for i := range ps {
		ps[i] = ps[i].Masked()
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Contains(p.Addr()) && out[n-1].Bits() <= p.Bits() {
			continue
		}
		out = append(out, p)
	}
	return out
}

func prefixes(ps []netip.Prefix) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return s
}

func addrs(as []netip.Addr) []string {
	s := make([]string, 0, len(as))
	for _, a := range as {
		if !slices.Contains(s, a.String()) {
			s = append(s, a.String())
		}
	}
	return s
}

// ForwardRules are the iptables rules (without the -I/-D verb and chain)
// that let past Docker's FORWARD drop what the table may let through
// from the DUT — out through the upstream interfaces, to Allow, to the
// Resolvers' port 53 — and the replies back to it. Each carries the
// comment "leviathan <table>".
func ForwardRules(c Config, up Upstream) [][]string {
	comment := []string{"-m", "comment", "--comment", "leviathan " + TableName(c.Interface)}
	rule := func(r ...string) []string { return append(r, comment...) }
	rules := [][]string{rule("-o", c.Interface, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")}
	for _, u := range up.Interfaces {
		rules = append(rules, rule("-i", c.Interface, "-o", u, "-j", "ACCEPT"))
	}
	for _, a := range merge(c.Allow) {
		rules = append(rules, rule("-i", c.Interface, "-d", a.String(), "-j", "ACCEPT"))
	}
	for _, r := range addrs(c.Resolvers) {
		for _, proto := range []string{"udp", "tcp"} {
			rules = append(rules, rule("-i", c.Interface, "-d", r+"/32", "-p", proto, "--dport", "53", "-j", "ACCEPT"))
		}
	}
	return rules
}

// route is one route of `ip -j route` that ParseRoutes reads.
type route struct {
	Type     string `json:"type"` // absent for unicast
	Dst      string `json:"dst"`
	Dev      string `json:"dev"`
	Scope    string `json:"scope"`
	Nexthops []struct {
		Dev string `json:"dev"`
	} `json:"nexthops"`
}

// ParseRoutes reads the upstream from the output of
// `ip -j -4 route show table main`: the interfaces of the default routes
// (multipath ones included) but the DUT's own, dut, and the networks
// routed directly (scope link) on them.
func ParseRoutes(b []byte, dut string) (Upstream, error) {
	var rs []route
	if err := json.Unmarshal(b, &rs); err != nil {
		return Upstream{}, fmt.Errorf("dutfilter: reading ip's routes: %w", err)
	}
	var up Upstream
	for _, r := range rs {
		if r.Dst != "default" || (r.Type != "" && r.Type != "unicast") {
			continue
		}
		devs := []string{r.Dev}
		for _, h := range r.Nexthops {
			devs = append(devs, h.Dev)
		}
		for _, d := range devs {
			if d == "" || d == dut || slices.Contains(up.Interfaces, d) {
				continue
			}
			if strings.ContainsAny(d, "\"\\") {
				return Upstream{}, fmt.Errorf("dutfilter: the default route's interface %q cannot be named in an nftables script", d)
			}
			up.Interfaces = append(up.Interfaces, d)
		}
	}
	slices.Sort(up.Interfaces)
	for _, r := range rs {
		if r.Dst == "default" || r.Scope != "link" || (r.Type != "" && r.Type != "unicast") || !slices.Contains(up.Interfaces, r.Dev) {
			continue
		}
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			a, aerr := netip.ParseAddr(r.Dst)
			if aerr != nil {
				return Upstream{}, fmt.Errorf("dutfilter: ip's route %q: %w", r.Dst, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		up.Links = append(up.Links, p)
	}
	up.Links = merge(up.Links)
	return up, nil
}

// Option passes what the filter needs besides its configuration.
type Option func(*Filter)

// WithLogger logs what Apply and Remove do. Silent by default.
func WithLogger(l *slog.Logger) Option { return func(f *Filter) { f.log = l } }

// WithRunner runs ip, nft and iptables through r instead of hostcmd.Exec.
func WithRunner(r hostcmd.Runner) Option { return func(f *Filter) { f.run = r } }

// Filter is the DUT network's filter on this host. Apply puts it in
// place, Remove takes it away. It is not safe for concurrent use.
type Filter struct {
	cfg      Config
	log      *slog.Logger
	run      hostcmd.Runner
	table    string     // the table Apply loaded, to delete
	iptRules [][]string // DOCKER-USER rules Apply inserted, to delete
}

// New returns the filter for c, not yet in place. It touches nothing on
// the host.
func New(c Config, opts ...Option) *Filter {
	f := &Filter{cfg: c, log: slog.New(slog.DiscardHandler), run: hostcmd.Exec}
	for _, o := range opts {
		o(f)
	}
	return f
}

// DockerUserChain is where the Docker Engine lets users' rules run before
// its own in the FORWARD chain, whose policy it sets to DROP.
const DockerUserChain = "DOCKER-USER"

// Apply reads the upstream from the routing table, loads the table
// (replacing a leftover one) and, on a host with Docker's DOCKER-USER
// chain, deletes leftover rules of this table's and, with NAT, inserts
// ForwardRules. On failure it leaves in place what it put there, for
// Remove.
func (f *Filter) Apply(ctx context.Context) error {
	out, err := f.run(ctx, nil, "ip", "-j", "-4", "route", "show", "table", "main")
	if err != nil {
		return fmt.Errorf("dutfilter: reading the routes: %w", err)
	}
	up, err := ParseRoutes(out, f.cfg.Interface)
	if err != nil {
		return err
	}
	name := TableName(f.cfg.Interface)
	if len(up.Interfaces) == 0 {
		f.log.Warn("the testbot has no default route: the DUT reaches nothing but NETWORK_DUT_ALLOW and NETWORK_DNS", "interface", f.cfg.Interface)
	}
	f.log.Info("filtering the DUT network: out through the default route, not into the testbot", "table", "inet "+name,
		"upstream", strings.Join(up.Interfaces, ","), "lan", strings.Join(prefixes(up.Links), ","),
		"allow", strings.Join(prefixes(f.cfg.Allow), ","), "nat", f.cfg.NAT)
	if _, err := f.run(ctx, []byte(Script(f.cfg, up)), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("dutfilter: loading the nftables table inet %s: %w", name, err)
	}
	f.table = name
	return f.dockerUser(ctx, up)
}

// dockerUser replaces this table's rules in DOCKER-USER. A testbot runs
// the Docker Engine, which sets FORWARD's policy to DROP in iptables — a
// verdict the nftables table's accept cannot overrule — so with NAT the
// DUT's outgoing traffic is accepted in DOCKER-USER, the chain Docker
// keeps for this. Without that chain and with a DROP policy (another
// firewall), it warns with the rules to add.
func (f *Filter) dockerUser(ctx context.Context, up Upstream) error {
	comment := "leviathan " + TableName(f.cfg.Interface)
	rules := ForwardRules(f.cfg, up)
	out, err := f.run(ctx, nil, "iptables", "-w", "-S", DockerUserChain)
	if err != nil {
		if !f.cfg.NAT {
			return nil
		}
		out, err := f.run(ctx, nil, "iptables", "-w", "-S", "FORWARD")
		if err == nil && strings.Contains(string(out), "-P FORWARD DROP") {
			var add []string
			for _, r := range rules {
				add = append(add, "iptables -I FORWARD "+strings.Join(r, " "))
			}
			f.log.Warn("the host's iptables FORWARD policy is DROP: the DUT's traffic will not get out until it is allowed", "allow_with", strings.Join(add, "; "))
		}
		return nil
	}
	// A rule left by a crashed run, whatever its form, is removed.
	for _, line := range strings.Split(string(out), "\n") {
		fields := splitRule(line)
		if len(fields) < 2 || fields[0] != "-A" || fields[1] != DockerUserChain || !hasComment(fields, comment) {
			continue
		}
		f.log.Info("removing a leftover iptables rule", "chain", DockerUserChain, "rule", line)
		if _, err := f.run(ctx, nil, "iptables", append([]string{"-w", "-D", DockerUserChain}, fields[2:]...)...); err != nil {
			return fmt.Errorf("dutfilter: removing the leftover rule %q from iptables chain %s: %w", line, DockerUserChain, err)
		}
	}
	if !f.cfg.NAT {
		return nil
	}
	for _, r := range rules {
		if _, err := f.run(ctx, nil, "iptables", append([]string{"-w", "-I", DockerUserChain}, r...)...); err != nil {
			return fmt.Errorf("dutfilter: NETWORK_NAT=true: letting the DUT's traffic past Docker's FORWARD policy (iptables chain %s): %w", DockerUserChain, err)
		}
		f.iptRules = append(f.iptRules, r)
	}
	f.log.Info("accepting the DUT's outgoing traffic in iptables", "chain", DockerUserChain, "rules", len(rules))
	return nil
}

// splitRule splits a line of iptables -S into its arguments, taking a
// double-quoted one (a comment) whole.
func splitRule(line string) []string {
	var fields []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && quoted && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			quoted, in = !quoted, true
		case (c == ' ' || c == '\t') && !quoted:
			if in {
				fields = append(fields, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		fields = append(fields, cur.String())
	}
	return fields
}

func hasComment(fields []string, comment string) bool {
	for i := 0; i+1 < len(fields); i++ {
		if fields[i] == "--comment" && fields[i+1] == comment {
			return true
		}
	}
	return false
}

// Remove deletes the DOCKER-USER rules Apply inserted, then the table.
// It does nothing for what Apply did not put in place, so it may run
// after a failed Apply and more than once.
func (f *Filter) Remove(ctx context.Context) error {
	var errs []error
	for _, r := range f.iptRules {
		if _, err := f.run(ctx, nil, "iptables", append([]string{"-w", "-D", DockerUserChain}, r...)...); err != nil {
			errs = append(errs, fmt.Errorf("dutfilter: removing the iptables rule %s from %s: %w", strings.Join(r, " "), DockerUserChain, err))
		}
	}
	f.iptRules = nil
	if f.table != "" {
		if _, err := f.run(ctx, nil, "nft", "delete", "table", "inet", f.table); err != nil {
			errs = append(errs, fmt.Errorf("dutfilter: removing the nftables table inet %s: %w", f.table, err))
		}
		f.table = ""
	}
	return errors.Join(errs...)
}
