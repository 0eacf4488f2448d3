// Package mdns finds a host's IPv4 address on one link by multicast DNS
// (RFC 6762): Resolve sends a one-shot A query for <name>.local to
// 224.0.0.251:5353 out of the given interface, from an ephemeral port,
// and takes the first answer for that name which arrives on that
// interface. It resends with backoff (250 ms doubling up to 2 s) until
// ctx ends, and ignores replies for other names, from other interfaces
// and packets that do not parse.
//
// The DUT networks use it when a DUT holds no DHCP lease: a static
// address, or a lease the testbot's server did not grant, with avahi
// publishing the DUT's host name.
//
// Messages are built and parsed with github.com/miekg/dns rather than
// golang.org/x/net/dns/dnsmessage: golang.org/x/net is not required by
// this module's go.mod (only pulled in by other modules), and miekg/dns,
// the most widely used Go DNS library, adds one module and decodes
// records with the mDNS cache-flush bit without special cases.
//
// Limits: Linux only (the socket options are set with syscall); IPv4 A
// records only. Because the query comes from an ephemeral port the
// responder answers by unicast to the querier (RFC 6762 section 6.7, as
// avahi does); a responder that only multicasts its answers to port 5353
// is not heard. The answer comes from the DUT's address to the
// testbot's, so the DUT needs a route back to the interface's address
// (the same subnet, usually) and a host firewall must let that UDP
// reply in.
package mdns
