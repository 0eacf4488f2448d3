// Package network chooses and builds the DUT-facing network from
// configuration: NETWORK names the driver and NETWORK_* variables carry
// its parameters.
//
//	NETWORK=dnsmasq   NETWORK_INTERFACE, NETWORK_SUBNET (10.42.0.1/24), NETWORK_SSH_PORT (22222),
//	                  NETWORK_NAT (false), NETWORK_DUT_ALLOW, NETWORK_DUT_MAC, NETWORK_DNS,
//	                  NETWORK_LEASE_TIME (1h), NETWORK_STATE_DIR (/run/leviathan), NETWORK_TIMEOUT (2m),
//	                  NETWORK_DNSMASQ (dnsmasq), NETWORK_MDNS_NAME
//	NETWORK=nmshared  NETWORK_INTERFACE, NETWORK_SUBNET, NETWORK_SSH_PORT, NETWORK_DUT_MAC,
//	                  NETWORK_CONNECTION, NETWORK_WIFI_SSID, NETWORK_WIFI_PSK, NETWORK_WIFI_BAND (bg),
//	                  NETWORK_LEASE_DIR (/var/lib/NetworkManager), NETWORK_TIMEOUT (2m), NETWORK_MDNS_NAME
//
// Open checks the configuration and touches nothing on the host; Start
// brings the network up and Close takes it down.
//
// The DUT runs untrusted code. NETWORK=dnsmasq filters its traffic, NAT
// or not: it reaches the testbot for DHCP only and, through it, only the
// internet by the default route, plus NETWORK_DNS's servers on port 53
// and the addresses or CIDRs NETWORK_DUT_ALLOW lists (package dnsmasq).
// NETWORK=nmshared leaves the filtering to NetworkManager, which does
// not close the testbot's services to the DUT: it warns at Start.
//
// Both drivers take the DUT's address from the DHCP lease. With
// NETWORK_MDNS_NAME set (dut or dut.local) they fall back to mDNS: when
// no lease comes in time they ask for that name on NETWORK_INTERFACE
// (package mdns), keeping a quarter of the wait, at most 10 s, for it.
//
// Limits: the mDNS fallback starts only once the lease wait has given
// up, and finds IPv4 addresses only, from responders that answer a
// one-shot query by unicast (avahi does).
package network

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/network/dnsmasq"
	"github.com/balena/leviathan-action/autokit/network/nmshared"
)

// Prefix is the prefix of every network variable.
const Prefix = "NETWORK"

// ErrNotConfigured is returned by Open when NETWORK is not set.
var ErrNotConfigured = errors.New("network: NETWORK is not set")

// Network is a DUT network the worker brings up and down.
type Network interface {
	dut.Network
	Start(ctx context.Context) error
	io.Closer
}

var (
	_ Network = (*dnsmasq.Network)(nil)
	_ Network = (*nmshared.Network)(nil)
)

// Option passes what a driver needs besides its variables.
type Option func(*deps)

type deps struct{ log *slog.Logger }

// WithLogger gives the driver a logger. It is silent by default.
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.log = l } }

// Driver is one entry of the table.
type Driver = envconf.Driver[Network, deps]

var family = envconf.Family[Network, deps]{Package: "network", Prefix: Prefix, NotConfigured: ErrNotConfigured,
	Drivers: []Driver{
		envconf.Entry("dnsmasq", "a DHCP server (dnsmasq) on an interface wired to the DUT, its traffic filtered",
			func(c dnsmasq.Config, d deps) (Network, error) {
				var o []dnsmasq.Option
				if d.log != nil {
					o = append(o, dnsmasq.WithLogger(d.log))
				}
				n, err := dnsmasq.New(c, o...)
				if err != nil {
					return nil, err
				}
				return n, nil
			}),
		envconf.Entry("nmshared", "a NetworkManager shared connection (wired or a Wi-Fi access point)",
			func(c nmshared.Config, d deps) (Network, error) {
				var o []nmshared.Option
				if d.log != nil {
					o = append(o, nmshared.WithLogger(d.log))
				}
				n, err := nmshared.New(c, o...)
				if err != nil {
					return nil, err
				}
				return n, nil
			}),
	}}

// Drivers lists the drivers Open knows, sorted by name.
func Drivers() []Driver { return family.Drivers }

// Names lists the driver names, sorted.
func Names() []string { return family.Names() }

// Open builds the network NETWORK names from the NETWORK_* variables
// getenv returns. It fails with ErrNotConfigured when NETWORK is empty,
// and with an error naming the variable when one is missing or
// malformed; an unknown driver lists the allowed ones.
func Open(getenv func(string) string, opts ...Option) (Network, error) {
	var d deps
	for _, o := range opts {
		o(&d)
	}
	return family.Open(getenv, d)
}

// Usage writes, for each driver, the variables it reads with their
// defaults and descriptions.
func Usage(w io.Writer) error { return family.Usage(w) }
