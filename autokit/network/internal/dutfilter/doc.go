// Package dutfilter keeps an untrusted DUT's traffic going out, not in.
// The OS image under test runs pull-request code; on the testbot it must
// find only what a DUT needs — DHCP from the testbot and a way out to the
// internet — and not the worker API, the testbot's other services, its
// Docker networks or the LAN around it.
//
// Filter.Apply loads one nftables table, inet leviathan_<interface>,
// that filters what comes in on the DUT interface:
//
//   - input (to the testbot itself, on any of its addresses): replies to
//     the testbot's own connections (established, related), DHCP (UDP
//     from port 68 to 67, broadcast or to the DUT-side address),
//     ping to the testbot's DUT-side address (echo-request only: it tells
//     a DUT its gateway is there and opens nothing else), and with MDNS the
//     DUT's unicast mDNS answers (UDP from port 5353 to the DUT-side
//     address, to ports 1024 and up); everything else, IPv6 included,
//     is dropped;
//   - forward (through the testbot): replies (established, related), then
//     Allow and the Resolvers' port 53 wherever they are; IPv6 is dropped;
//     new traffic may leave only through an upstream interface (one of the
//     main routing table's default routes) and not to the networks
//     directly on those interfaces (the LAN) nor to addresses that are not
//     the internet (NotInternet: private, loopback, link-local, CGNAT,
//     multicast…); the rest is dropped;
//   - postrouting, with NAT: the DUT's subnet is masqueraded out of every
//     other interface.
//
// A drop in any nftables table is final, so no other table or iptables
// rule can let through what this table drops; an accept here only ends
// this table's say. Docker's iptables FORWARD policy is DROP, so with
// NAT Apply also inserts rules into iptables' DOCKER-USER chain that
// accept at most what the table lets out (through the upstream
// interfaces, to Allow, to the Resolvers' port 53) and the replies back;
// under another firewall with a DROP policy it warns, giving the rules.
// Those rules repeat the table's coarse decision (which interfaces, which
// destinations) instead of matching a mark the table would set: marks are
// shared with other software (kube-proxy, Tailscale), and the table's
// drops, which stay final, do the fine filtering (the LAN, NotInternet).
//
// The table is loaded in one nftables transaction that first deletes a
// table of the same name (inet, or the ip table of earlier versions), and
// DOCKER-USER rules carrying the table's comment are deleted before new
// ones go in, so a crashed run's leftovers are replaced, not duplicated.
// Remove deletes both.
//
// Limits: Linux; needs root, nft (nftables, kernel 5.2 or later for NAT
// in an inet table), ip (iproute2 with -j) and, on Docker hosts, iptables.
// The upstream interfaces and the LAN networks are read once, at Apply:
// a default route that moves later is not followed. Policy routing
// (default routes in tables other than main) is not read. The DUT network
// is IPv4 only: its IPv6 is dropped, not filtered.
package dutfilter
