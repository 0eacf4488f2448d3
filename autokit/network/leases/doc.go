// Package leases reads dnsmasq's DHCP lease file — the one dnsmasq writes
// with --dhcp-leasefile and the one NetworkManager's shared connections
// keep in /var/lib/NetworkManager/dnsmasq-<interface>.leases — and waits
// for a DUT's lease to appear in it.
//
// Each IPv4 line is "<expiry> <mac> <ip> <hostname|*> <client-id|*>",
// expiry in seconds since the epoch (0 for an infinite lease). The "duid"
// line and DHCPv6 lines (whose address is IPv6) are skipped: the DUTs are
// reached over IPv4.
//
// Limits: a lease file records when a lease expires, not when it was
// granted, so "newest" is the lease that expires last (ties go to the later
// line); with one lease time per server that is the last granted.
package leases
