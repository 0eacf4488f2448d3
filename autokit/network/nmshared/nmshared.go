package nmshared

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/hostcmd"
	"github.com/balena/leviathan-action/autokit/network/internal/fallback"
	"github.com/balena/leviathan-action/autokit/network/leases"
	"github.com/balena/leviathan-action/autokit/network/mdns"
)

// Config is the driver's configuration (NETWORK=nmshared, variables
// NETWORK_*).
type Config struct {
	Interface  string        `envconfig:"INTERFACE" required:"true" desc:"the testbot's interface wired to the DUT (or its wifi interface)"`
	Subnet     string        `envconfig:"SUBNET" default:"10.42.0.1/24" desc:"the testbot's address on the DUT network, with the prefix length"`
	SSHPort    int           `envconfig:"SSH_PORT" default:"22222" desc:"the DUT's SSH port"`
	DUTMAC     string        `envconfig:"DUT_MAC" desc:"take only this MAC's lease; the newest lease when empty"`
	Connection string        `envconfig:"CONNECTION" desc:"the NetworkManager connection's name; leviathan-<interface> when empty"`
	WifiSSID   string        `envconfig:"WIFI_SSID" desc:"serve a wifi access point with this SSID instead of a wired network"`
	WifiPSK    string        `envconfig:"WIFI_PSK" desc:"the access point's WPA2 passphrase (8 to 63 characters)"`
	WifiBand   string        `envconfig:"WIFI_BAND" default:"bg" desc:"the access point's band: bg (2.4 GHz) or a (5 GHz)"`
	LeaseDir   string        `envconfig:"LEASE_DIR" default:"/var/lib/NetworkManager" desc:"where NetworkManager's dnsmasq keeps its leases"`
	Timeout    time.Duration `envconfig:"TIMEOUT" default:"2m" desc:"how long Address waits for a lease when its context has no deadline"`
	MDNSName   string        `envconfig:"MDNS_NAME" desc:"the DUT's mDNS host name (dut or dut.local), asked for on the interface when no lease comes in time; no mDNS when empty"`
}

// Option passes what the driver needs besides its configuration.
type Option func(*Network)

// WithLogger logs each nmcli command and where the DUT's address came
// from. Silent by default.
func WithLogger(l *slog.Logger) Option { return func(n *Network) { n.log = l } }

// WithRunner runs nmcli through r instead of hostcmd.Exec.
func WithRunner(r hostcmd.Runner) Option { return func(n *Network) { n.run = r } }

// Network is a NetworkManager shared connection. It implements
// dut.Network.
type Network struct {
	cfg  Config
	host netip.Prefix
	mac  net.HardwareAddr
	log  *slog.Logger
	run  hostcmd.Runner
	up   bool
}

var _ dut.Network = (*Network)(nil)

// New checks cfg and returns a network that is not up yet.
func New(cfg Config, opts ...Option) (*Network, error) {
	n := &Network{cfg: cfg, log: slog.New(slog.DiscardHandler), run: hostcmd.Exec}
	for _, o := range opts {
		o(n)
	}
	if cfg.Interface == "" {
		return nil, errors.New("nmshared: NETWORK_INTERFACE is required")
	}
	p, err := netip.ParsePrefix(cfg.Subnet)
	if err != nil || !p.Addr().Is4() || p.Bits() > 29 || p.Addr() == p.Masked().Addr() {
		return nil, fmt.Errorf("nmshared: NETWORK_SUBNET=%q is not a host's IPv4 address with a prefix length (at most /29) such as 10.42.0.1/24", cfg.Subnet)
	}
	n.host = p
	if cfg.DUTMAC != "" {
		if n.mac, err = net.ParseMAC(cfg.DUTMAC); err != nil {
			return nil, fmt.Errorf("nmshared: NETWORK_DUT_MAC=%q is not a MAC address", cfg.DUTMAC)
		}
	}
	if cfg.SSHPort <= 0 || cfg.SSHPort > 65535 {
		return nil, fmt.Errorf("nmshared: NETWORK_SSH_PORT=%d is not a port", cfg.SSHPort)
	}
	if cfg.MDNSName != "" {
		if _, err := mdns.LocalName(cfg.MDNSName); err != nil {
			return nil, fmt.Errorf("nmshared: NETWORK_MDNS_NAME: %w", err)
		}
	}
	if cfg.WifiSSID != "" {
		if len(cfg.WifiSSID) > 32 {
			return nil, fmt.Errorf("nmshared: NETWORK_WIFI_SSID=%q is longer than 32 bytes", cfg.WifiSSID)
		}
		if l := len(cfg.WifiPSK); l < 8 || l > 63 {
			return nil, fmt.Errorf("nmshared: NETWORK_WIFI_PSK must be 8 to 63 characters for WPA2 (it has %d)", l)
		}
		if cfg.WifiBand == "" {
			n.cfg.WifiBand = "bg"
		}
		if n.cfg.WifiBand != "bg" && n.cfg.WifiBand != "a" {
			return nil, fmt.Errorf("nmshared: NETWORK_WIFI_BAND=%q is not bg or a", cfg.WifiBand)
		}
	} else if cfg.WifiPSK != "" {
		return nil, errors.New("nmshared: NETWORK_WIFI_PSK is set but NETWORK_WIFI_SSID is not")
	}
	if n.cfg.Connection == "" {
		n.cfg.Connection = "leviathan-" + cfg.Interface
	}
	if n.cfg.LeaseDir == "" {
		n.cfg.LeaseDir = "/var/lib/NetworkManager"
	}
	if n.cfg.Timeout <= 0 {
		n.cfg.Timeout = 2 * time.Minute
	}
	return n, nil
}

// LeaseFile is where NetworkManager's dnsmasq keeps the leases.
func (n *Network) LeaseFile() string {
	return filepath.Join(n.cfg.LeaseDir, "dnsmasq-"+n.cfg.Interface+".leases")
}

// AddArgs is the nmcli command line that creates the connection.
func (n *Network) AddArgs() []string {
	a := []string{"connection", "add", "con-name", n.cfg.Connection, "ifname", n.cfg.Interface}
	if n.cfg.WifiSSID == "" {
		a = append(a, "type", "ethernet")
	} else {
		a = append(a, "type", "wifi", "ssid", n.cfg.WifiSSID,
			"802-11-wireless.mode", "ap",
			"802-11-wireless.band", n.cfg.WifiBand,
			"wifi-sec.key-mgmt", "wpa-psk",
			"wifi-sec.proto", "rsn",
			"wifi-sec.pairwise", "ccmp",
			"wifi-sec.group", "ccmp",
			"wifi-sec.psk", n.cfg.WifiPSK)
	}
	return append(a,
		"connection.autoconnect", "no",
		"ipv4.method", "shared",
		"ipv4.addresses", n.host.String(),
		"ipv6.method", "disabled")
}

// UpArgs activates the connection, waiting at most wait.
func (n *Network) UpArgs(wait time.Duration) []string {
	return []string{"--wait", strconv.Itoa(int(wait.Seconds())), "connection", "up", "id", n.cfg.Connection}
}

// DeleteArgs deletes the connection (deactivating it first).
func (n *Network) DeleteArgs() []string {
	return []string{"connection", "delete", "id", n.cfg.Connection}
}

// exitNotFound is nmcli's exit code for "connection, device, or access
// point does not exist".
const exitNotFound = 10

// nmcli runs nmcli with args, redacting the PSK from errors.
func (n *Network) nmcli(ctx context.Context, args ...string) error {
	shown := n.redact(args)
	n.log.Info("nmcli", "args", shown)
	_, err := n.run(ctx, nil, "nmcli", args...)
	var ee *hostcmd.ExitError
	if errors.As(err, &ee) {
		ee.Args = append([]string{"nmcli"}, shown...)
	}
	return err
}

func (n *Network) redact(args []string) []string {
	out := slices.Clone(args)
	for i := range out {
		if i > 0 && out[i-1] == "wifi-sec.psk" {
			out[i] = "<redacted>"
		}
	}
	return out
}

// Unfiltered is the warning Start logs: this driver does not keep the DUT
// out of the testbot.
const Unfiltered = "NETWORK=nmshared does not filter the DUT's traffic: the DUT (untrusted code) can reach the worker API and every other service of the testbot, its Docker networks and the LAN; NETWORK=dnsmasq keeps it out"

// Start creates and activates the connection, replacing one of the same
// name. It warns (Unfiltered) that the DUT is not kept out of the
// testbot.
func (n *Network) Start(ctx context.Context) error {
	n.log.Warn(Unfiltered, "interface", n.cfg.Interface)
	if err := n.nmcli(ctx, n.DeleteArgs()...); err != nil {
		var ee *hostcmd.ExitError
		if !errors.As(err, &ee) || ee.Code != exitNotFound {
			return fmt.Errorf("nmshared: removing an old connection %s: %w", n.cfg.Connection, err)
		}
	}
	if err := n.nmcli(ctx, n.AddArgs()...); err != nil {
		return fmt.Errorf("nmshared: creating connection %s on %s: %w", n.cfg.Connection, n.cfg.Interface, err)
	}
	n.up = true
	wait := 60 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = max(time.Until(d), time.Second)
	}
	if err := n.nmcli(ctx, n.UpArgs(wait)...); err != nil {
		n.Close()
		return fmt.Errorf("nmshared: activating connection %s on %s: %w", n.cfg.Connection, n.cfg.Interface, err)
	}
	return nil
}

// Close deletes the connection.
func (n *Network) Close() error {
	if !n.up {
		return nil
	}
	n.up = false
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.nmcli(ctx, n.DeleteArgs()...); err != nil {
		return fmt.Errorf("nmshared: deleting connection %s: %w", n.cfg.Connection, err)
	}
	return nil
}

// Address implements dut.Network: it waits for the DUT's lease in
// NetworkManager's lease file until ctx ends, or for NETWORK_TIMEOUT when
// ctx has no deadline. With NETWORK_MDNS_NAME set the lease wait stops
// fallback.Share of that time early and, if no lease came, the rest goes
// to asking for the name by mDNS on the interface; the error then names
// both failures.
func (n *Network) Address(ctx context.Context) (dut.Address, error) {
	if err := ctx.Err(); err != nil {
		return dut.Address{}, fmt.Errorf("nmshared: address: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.Timeout)
		defer cancel()
	}
	lease := func(ctx context.Context) (netip.Addr, error) {
		l, err := leases.Wait(ctx, n.LeaseFile(), n.cfg.Interface, n.mac, nil)
		if err != nil {
			return netip.Addr{}, err
		}
		n.log.Info("DUT lease", "ip", l.IP, "mac", l.MAC.String(), "hostname", l.Hostname)
		return l.IP, nil
	}
	ip, err := fallback.Lookup(ctx, lease, n.cfg.Interface, n.cfg.MDNSName, n.log)
	if err != nil {
		return dut.Address{}, fmt.Errorf("nmshared: %w", err)
	}
	return dut.Address{
		IP:      ip.String(),
		SSH:     net.JoinHostPort(ip.String(), strconv.Itoa(n.cfg.SSHPort)),
		Gateway: n.host.Addr().String(),
	}, nil
}
