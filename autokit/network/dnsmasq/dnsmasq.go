package dnsmasq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/hostcmd"
	"github.com/balena/leviathan-action/autokit/network/internal/dutfilter"
	"github.com/balena/leviathan-action/autokit/network/internal/fallback"
	"github.com/balena/leviathan-action/autokit/network/leases"
	"github.com/balena/leviathan-action/autokit/network/mdns"
)

// Config is the driver's configuration (NETWORK=dnsmasq, variables
// NETWORK_*).
type Config struct {
	Interface string        `envconfig:"INTERFACE" required:"true" desc:"the testbot's interface wired to the DUT, e.g. eth1"`
	Subnet    string        `envconfig:"SUBNET" default:"10.42.0.1/24" desc:"the testbot's address on the DUT network, with the prefix length"`
	SSHPort   int           `envconfig:"SSH_PORT" default:"22222" desc:"the DUT's SSH port"`
	NAT       bool          `envconfig:"NAT" default:"false" desc:"masquerade the DUT's traffic out through the testbot's default route"`
	DUTAllow  string        `envconfig:"DUT_ALLOW" desc:"comma-separated IPv4 addresses or CIDRs the DUT may reach besides the internet, e.g. a LAN registry; none when empty"`
	DUTMAC    string        `envconfig:"DUT_MAC" desc:"take only this MAC's lease; the newest lease when empty"`
	DNS       string        `envconfig:"DNS" desc:"comma-separated DNS servers handed to the DUT; none when empty"`
	LeaseTime time.Duration `envconfig:"LEASE_TIME" default:"1h" desc:"DHCP lease time"`
	StateDir  string        `envconfig:"STATE_DIR" default:"/run/leviathan" desc:"where the lease and pid files go"`
	Timeout   time.Duration `envconfig:"TIMEOUT" default:"2m" desc:"how long Address waits for a lease when its context has no deadline"`
	Dnsmasq   string        `envconfig:"DNSMASQ" default:"dnsmasq" desc:"the dnsmasq binary"`
	MDNSName  string        `envconfig:"MDNS_NAME" desc:"the DUT's mDNS host name (dut or dut.local), asked for on the interface when no lease comes in time; no mDNS when empty"`
}

// Option passes what the driver needs besides its configuration.
type Option func(*Network)

// WithLogger logs each step and dnsmasq's own output. Silent by default.
func WithLogger(l *slog.Logger) Option { return func(n *Network) { n.log = l } }

// WithRunner runs the ip and nft commands through r instead of
// hostcmd.Exec.
func WithRunner(r hostcmd.Runner) Option { return func(n *Network) { n.run = r } }

// Network is the DUT network served by a dnsmasq child process. It
// implements dut.Network. Start brings it up, Close takes it down.
type Network struct {
	cfg    Config
	host   netip.Prefix // the testbot's address and the prefix length
	mac    net.HardwareAddr
	dns    []netip.Addr
	allow  []netip.Prefix
	leases string
	log    *slog.Logger
	run    hostcmd.Runner

	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
	exitErr   error
	tail      []string // dnsmasq's last lines
	addedAddr bool
	filter    *dutfilter.Filter // in place from Start to Close
	forward   string            // ip_forward's value before Start, when changed
}

var _ dut.Network = (*Network)(nil)

// New checks cfg and returns a network that is not up yet. It touches
// nothing on the host.
func New(cfg Config, opts ...Option) (*Network, error) {
	n := &Network{cfg: cfg, log: slog.New(slog.DiscardHandler), run: hostcmd.Exec}
	for _, o := range opts {
		o(n)
	}
	if cfg.Interface == "" || strings.ContainsAny(cfg.Interface, "/ \t\n\"") || len(cfg.Interface) > 15 {
		return nil, fmt.Errorf("dnsmasq: NETWORK_INTERFACE=%q is not an interface name", cfg.Interface)
	}
	p, err := netip.ParsePrefix(cfg.Subnet)
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("dnsmasq: NETWORK_SUBNET=%q is not an IPv4 address with a prefix length such as 10.42.0.1/24", cfg.Subnet)
	}
	if p.Bits() > 29 || p.Bits() < 8 {
		return nil, fmt.Errorf("dnsmasq: NETWORK_SUBNET=%q: the prefix length must be between 8 and 29", cfg.Subnet)
	}
	if p.Addr() == p.Masked().Addr() || p.Addr() == broadcast(p) {
		return nil, fmt.Errorf("dnsmasq: NETWORK_SUBNET=%q: %s is the network or broadcast address, not a host's", cfg.Subnet, p.Addr())
	}
	n.host = p
	if cfg.DUTMAC != "" {
		if n.mac, err = net.ParseMAC(cfg.DUTMAC); err != nil {
			return nil, fmt.Errorf("dnsmasq: NETWORK_DUT_MAC=%q is not a MAC address", cfg.DUTMAC)
		}
	}
	for _, s := range strings.Split(cfg.DNS, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("dnsmasq: NETWORK_DNS=%q: %q is not an IPv4 address", cfg.DNS, s)
		}
		n.dns = append(n.dns, a)
	}
	for _, s := range strings.Split(cfg.DUTAllow, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("dnsmasq: NETWORK_DUT_ALLOW=%q: %q is not an IPv4 address or CIDR such as 192.168.1.20 or 192.168.1.0/24", cfg.DUTAllow, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if !p.Addr().Is4() {
			return nil, fmt.Errorf("dnsmasq: NETWORK_DUT_ALLOW=%q: %q is not IPv4 (the DUT network is IPv4 only)", cfg.DUTAllow, s)
		}
		n.allow = append(n.allow, p.Masked())
	}
	if cfg.SSHPort <= 0 || cfg.SSHPort > 65535 {
		return nil, fmt.Errorf("dnsmasq: NETWORK_SSH_PORT=%d is not a port", cfg.SSHPort)
	}
	if cfg.MDNSName != "" {
		if _, err := mdns.LocalName(cfg.MDNSName); err != nil {
			return nil, fmt.Errorf("dnsmasq: NETWORK_MDNS_NAME: %w", err)
		}
	}
	if cfg.LeaseTime < 2*time.Minute {
		return nil, fmt.Errorf("dnsmasq: NETWORK_LEASE_TIME=%s is shorter than dnsmasq's minimum of 2m", cfg.LeaseTime)
	}
	if n.cfg.StateDir == "" {
		n.cfg.StateDir = "/run/leviathan"
	}
	if n.cfg.Dnsmasq == "" {
		n.cfg.Dnsmasq = "dnsmasq"
	}
	if n.cfg.Timeout <= 0 {
		n.cfg.Timeout = 2 * time.Minute
	}
	n.leases = filepath.Join(n.cfg.StateDir, "dnsmasq-"+cfg.Interface+".leases")
	return n, nil
}

// LeaseFile is where dnsmasq keeps its leases.
func (n *Network) LeaseFile() string { return n.leases }

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Range is the DHCP range: the addresses above the testbot's up to the
// one below broadcast, or those below it down to the one above the
// network address when the testbot's is the top one.
func (n *Network) Range() (first, last netip.Addr) {
	bc := broadcast(n.host)
	if next := n.host.Addr().Next(); next != bc {
		return next, bc.Prev()
	}
	return n.host.Masked().Addr().Next(), n.host.Addr().Prev()
}

// Args is dnsmasq's command line (without the binary).
func (n *Network) Args() []string {
	first, last := n.Range()
	mask := net.IP(net.CIDRMask(n.host.Bits(), 32)).String()
	dns := "--dhcp-option=option:dns-server" // no data: send no DNS server
	if len(n.dns) > 0 {
		s := make([]string, len(n.dns))
		for i, a := range n.dns {
			s[i] = a.String()
		}
		dns += "," + strings.Join(s, ",")
	}
	return []string{
		"--keep-in-foreground",
		"--conf-file=/dev/null",
		"--port=0",
		"--interface=" + n.cfg.Interface,
		"--bind-interfaces",
		"--except-interface=lo",
		"--dhcp-authoritative",
		fmt.Sprintf("--dhcp-range=%s,%s,%s,%d", first, last, mask, int(n.cfg.LeaseTime.Seconds())),
		"--dhcp-option=option:router," + n.host.Addr().String(),
		dns,
		"--dhcp-leasefile=" + n.leases,
		"--pid-file=" + filepath.Join(n.cfg.StateDir, "dnsmasq-"+n.cfg.Interface+".pid"),
		"--user=root",
		"--log-dhcp",
		"--log-facility=-",
	}
}

// filterConfig is what Start tells dutfilter: the DUT may reach the testbot
// for DHCP (dnsmasq serves no DNS) and, with NETWORK_MDNS_NAME, answer
// its mDNS queries; it may leave through the default route (masqueraded
// with NETWORK_NAT), reach NETWORK_DNS's servers on port 53 and
// NETWORK_DUT_ALLOW's destinations, and nothing else.
func (n *Network) filterConfig() dutfilter.Config {
	return dutfilter.Config{
		Interface: n.cfg.Interface,
		Host:      n.host,
		NAT:       n.cfg.NAT,
		MDNS:      n.cfg.MDNSName != "",
		Resolvers: n.dns,
		Allow:     n.allow,
	}
}

// Start brings the network up: the address on the interface, the DUT's
// filter (package dutfilter: out through the default route, not into the
// testbot) with NAT when configured, and dnsmasq, waiting until dnsmasq
// reports its DHCP range. On failure it undoes what it did.
func (n *Network) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return errors.New("dnsmasq: already started")
	}
	iface := n.cfg.Interface
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return fmt.Errorf("dnsmasq: NETWORK_INTERFACE=%s: no such interface on this host: %w", iface, err)
	}
	bin, err := exec.LookPath(n.cfg.Dnsmasq)
	if err != nil {
		return fmt.Errorf("dnsmasq: %s not found (install dnsmasq-base or set NETWORK_DNSMASQ): %w", n.cfg.Dnsmasq, err)
	}
	if err := os.MkdirAll(n.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("dnsmasq: NETWORK_STATE_DIR: %w", err)
	}
	// Leases of an earlier run would name a stale address.
	if err := os.Remove(n.leases); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dnsmasq: removing old leases: %w", err)
	}
	defer func() {
		if err != nil {
			n.undo()
		}
	}()

	has, err := hasAddr(ifi, n.host)
	if err != nil {
		return fmt.Errorf("dnsmasq: reading %s's addresses: %w", iface, err)
	}
	if !has {
		n.log.Info("adding the testbot's address", "interface", iface, "address", n.host)
		if _, err := n.run(ctx, nil, "ip", "address", "add", n.host.String(), "dev", iface); err != nil {
			return fmt.Errorf("dnsmasq: adding %s to %s: %w", n.host, iface, err)
		}
		n.addedAddr = true
	}
	if _, err := n.run(ctx, nil, "ip", "link", "set", "dev", iface, "up"); err != nil {
		return fmt.Errorf("dnsmasq: bringing %s up: %w", iface, err)
	}
	n.filter = dutfilter.New(n.filterConfig(), dutfilter.WithRunner(n.run), dutfilter.WithLogger(n.log))
	if err := n.filter.Apply(ctx); err != nil {
		return fmt.Errorf("dnsmasq: filtering the DUT network on %s: %w", iface, err)
	}
	if n.cfg.NAT {
		if err := n.enableForwarding(); err != nil {
			return err
		}
	}
	return n.startDnsmasq(ctx, bin)
}

func hasAddr(ifi *net.Interface, p netip.Prefix) (bool, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			ones, _ := ipn.Mask.Size()
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap() == p.Addr() && ones == p.Bits() {
				return true, nil
			}
		}
	}
	return false, nil
}

const forwardPath = "/proc/sys/net/ipv4/ip_forward"

// enableForwarding switches IPv4 forwarding on for NAT, once the filter
// is in place.
func (n *Network) enableForwarding() error {
	b, err := os.ReadFile(forwardPath)
	if err != nil {
		return fmt.Errorf("dnsmasq: NETWORK_NAT=true: %w", err)
	}
	if old := strings.TrimSpace(string(b)); old != "1" {
		if err := os.WriteFile(forwardPath, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("dnsmasq: NETWORK_NAT=true: enabling IPv4 forwarding: %w", err)
		}
		n.forward = old
	}
	return nil
}

func (n *Network) startDnsmasq(ctx context.Context, bin string) error {
	args := n.Args()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	n.log.Info("starting dnsmasq", "args", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dnsmasq: starting %s: %w", bin, err)
	}
	n.cmd = cmd
	n.exited = make(chan struct{})
	ready := make(chan struct{})
	logDone := make(chan struct{})
	go func() {
		n.readLog(pr, ready)
		close(logDone)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-logDone // the last lines are evidence
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(n.exited)
	}()
	n.mu.Unlock()
	defer n.mu.Lock()
	select {
	case <-ready:
		return nil
	case <-n.exited:
		return &Error{Msg: "dnsmasq exited at start", Args: append([]string{bin}, args...), Tail: n.Tail(), Err: n.exitError()}
	case <-ctx.Done():
		return &Error{Msg: "dnsmasq did not report its DHCP range", Args: append([]string{bin}, args...), Tail: n.Tail(), Err: ctx.Err()}
	}
}

// readLog sends dnsmasq's lines to the logger, keeps the last ones as
// evidence and closes ready once dnsmasq reports its DHCP range.
func (n *Network) readLog(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	isReady := false
	for sc.Scan() {
		line := sc.Text()
		n.log.Debug("dnsmasq", "line", line)
		n.mu.Lock()
		n.tail = append(n.tail, line)
		if len(n.tail) > 20 {
			n.tail = n.tail[len(n.tail)-20:]
		}
		n.mu.Unlock()
		if !isReady && strings.Contains(line, "DHCP, IP range") {
			isReady = true
			close(ready)
		}
	}
	io.Copy(io.Discard, r)
}

// Tail is dnsmasq's last lines of output.
func (n *Network) Tail() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.tail, "\n")
}

func (n *Network) exitError() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exitErr == nil {
		return errors.New("exit status 0")
	}
	return n.exitErr
}

// Error is a dnsmasq failure with its command line and last output.
type Error struct {
	Msg  string
	Args []string
	Tail string
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("dnsmasq: %s: %v; command: %s; last output:\n%s", e.Msg, e.Err, strings.Join(e.Args, " "), e.Tail)
}

func (e *Error) Unwrap() error { return e.Err }

// Address implements dut.Network: it waits for the DUT's lease (the one
// for NETWORK_DUT_MAC, or the newest) until ctx ends, or for
// NETWORK_TIMEOUT when ctx has no deadline. With NETWORK_MDNS_NAME set
// the lease wait stops fallback.Share of that time early and, if no
// lease came, the rest goes to asking for the name by mDNS on the
// interface; the error then names both failures.
func (n *Network) Address(ctx context.Context) (dut.Address, error) {
	if err := ctx.Err(); err != nil {
		// A lease already in the file must not answer a caller that gave
		// up (the conformance suite found this).
		return dut.Address{}, fmt.Errorf("dnsmasq: address: %w", err)
	}
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return dut.Address{}, errors.New("dnsmasq: the network is not started")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.Timeout)
		defer cancel()
	}
	alive := func() error {
		select {
		case <-exited:
			return fmt.Errorf("dnsmasq exited (%v); last output:\n%s", n.exitError(), n.Tail())
		default:
			return nil
		}
	}
	lease := func(ctx context.Context) (netip.Addr, error) {
		l, err := leases.Wait(ctx, n.leases, n.cfg.Interface, n.mac, alive)
		if err != nil {
			return netip.Addr{}, err
		}
		n.log.Info("DUT lease", "ip", l.IP, "mac", l.MAC.String(), "hostname", l.Hostname)
		return l.IP, nil
	}
	ip, err := fallback.Lookup(ctx, lease, n.cfg.Interface, n.cfg.MDNSName, n.log)
	if err != nil {
		return dut.Address{}, fmt.Errorf("dnsmasq: %w", err)
	}
	return dut.Address{
		IP:      ip.String(),
		SSH:     net.JoinHostPort(ip.String(), strconv.Itoa(n.cfg.SSHPort)),
		Gateway: n.host.Addr().String(),
	}, nil
}

// Close stops dnsmasq and undoes Start: IPv4 forwarding it switched on,
// the address it added and, last, the DUT's filter, so the DUT stays
// filtered while anything Start set up remains.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.undo()
}

// undo is called with n.mu held.
func (n *Network) undo() error {
	var errs []error
	if n.cmd != nil {
		cmd, exited := n.cmd, n.exited
		n.cmd = nil
		cmd.Process.Signal(syscall.SIGTERM)
		n.mu.Unlock()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		n.mu.Lock()
		n.log.Info("dnsmasq stopped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n.forward != "" {
		if err := os.WriteFile(forwardPath, []byte(n.forward+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("dnsmasq: restoring ip_forward: %w", err))
		}
		n.forward = ""
	}
	if n.addedAddr {
		if _, err := n.run(ctx, nil, "ip", "address", "del", n.host.String(), "dev", n.cfg.Interface); err != nil {
			errs = append(errs, fmt.Errorf("dnsmasq: removing %s from %s: %w", n.host, n.cfg.Interface, err))
		}
		n.addedAddr = false
	}
	if n.filter != nil {
		if err := n.filter.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("dnsmasq: %w", err))
		}
		n.filter = nil
	}
	return errors.Join(errs...)
}
