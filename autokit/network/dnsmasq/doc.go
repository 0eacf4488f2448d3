// Package dnsmasq brings up the DUT-facing wired network on one of the
// testbot's interfaces (NETWORK=dnsmasq): it gives the interface the
// testbot's address, runs dnsmasq as a child process serving DHCP on that
// interface alone, optionally masquerades the DUT's traffic out of the
// testbot's other interfaces, and reports the DUT's address from dnsmasq's
// lease file or, when no lease comes in time and NETWORK_MDNS_NAME is
// set, by mDNS on that interface (package mdns).
//
// dnsmasq serves DHCP only: DNS is switched off (--port=0), so it never
// competes with the host's resolver or becomes an open resolver on the DUT
// network, and the DUT is told of no DNS server unless NETWORK_DNS lists
// upstream ones. The router option is the testbot's address.
//
// Limits: Linux only; needs root (CAP_NET_ADMIN), the ip tool (iproute2)
// and dnsmasq (the dnsmasq-base package is enough). NAT is an nftables
// table of its own (ip leviathan_<interface>) removed on Close; it sets
// net.ipv4.ip_forward while it runs. A testbot runs the Docker Engine,
// whose iptables FORWARD policy is DROP — a verdict no nftables accept
// overrules — so NAT also inserts two rules for the interface into
// iptables' DOCKER-USER chain (removed on Close); under another firewall
// with a DROP policy it only warns, giving the rules to add. IPv4 only; one DHCP range, the addresses of
// the subnet above the testbot's (or below it when it is the top one).
package dnsmasq
