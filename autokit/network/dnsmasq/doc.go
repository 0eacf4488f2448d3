// Package dnsmasq brings up the DUT-facing wired network on one of the
// testbot's interfaces (NETWORK=dnsmasq): it gives the interface the
// testbot's address, filters the DUT's traffic, runs dnsmasq as a child
// process serving DHCP on that interface alone, optionally masquerades
// the DUT's traffic out through the testbot's default route, and reports
// the DUT's address from dnsmasq's lease file or, when no lease comes in
// time and NETWORK_MDNS_NAME is set, by mDNS on that interface (package
// mdns).
//
// dnsmasq serves DHCP only: DNS is switched off (--port=0), so it never
// competes with the host's resolver or becomes an open resolver on the DUT
// network, and the DUT is told of no DNS server unless NETWORK_DNS lists
// upstream ones. The router option is the testbot's address.
//
// The OS image under test is untrusted, so its traffic goes out, not in
// (package internal/dutfilter), with or without NAT: of the testbot
// itself, on any of its addresses, the DUT reaches DHCP, ping to its
// gateway address and, with NETWORK_MDNS_NAME, the mDNS answers' way
// back — not the worker API nor any other service. Through the testbot it
// reaches the internet by the default route: not Docker's networks, not
// other interfaces' networks, not the LAN on the default route's
// interface, not private, link-local or CGNAT addresses. NETWORK_DNS's
// servers are open on port 53; NETWORK_DUT_ALLOW (comma-separated
// addresses or CIDRs, e.g. a LAN registry) opens more destinations.
//
// Limits: Linux only; needs root (CAP_NET_ADMIN), the ip tool (iproute2),
// nft (nftables) and dnsmasq (the dnsmasq-base package is enough). The
// filter, and NAT, are one nftables table (inet leviathan_<interface>)
// removed on Close; NAT sets net.ipv4.ip_forward while it runs. A testbot
// runs the Docker Engine, whose iptables FORWARD policy is DROP — a
// verdict no nftables accept overrules — so NAT also inserts rules for
// the interface into iptables' DOCKER-USER chain that accept what the
// table lets out (removed on Close); under another firewall with a DROP
// policy it only warns, giving the rules to add. Leftovers of a crashed
// run are replaced at Start. The upstream is read from the main routing
// table once, at Start. IPv4 only (the DUT's IPv6 is dropped); one DHCP
// range, the addresses of the subnet above the testbot's (or below it when
// it is the top one).
package dnsmasq
