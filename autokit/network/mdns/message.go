package mdns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// query is the one-shot query for fqdn's A record, as a conventional
// resolver sends it: an ID, no recursion wanted. Sent from a port other
// than 5353 it asks for a legacy unicast reply (RFC 6762 section 6.7).
func query(fqdn string, id uint16) ([]byte, error) {
	m := &dns.Msg{
		MsgHdr:   dns.MsgHdr{Id: id, Opcode: dns.OpcodeQuery},
		Question: []dns.Question{{Name: fqdn, Qtype: dns.TypeA, Qclass: dns.ClassINET}},
	}
	return m.Pack()
}

// cacheFlush is the top bit of a record's class in mDNS replies (RFC 6762
// section 10.2).
const cacheFlush = 1 << 15

// errNoRecord says that a well-formed response had no usable A record
// for the name.
var errNoRecord = errors.New("no A record for the name")

// answer returns the address of fqdn's A record in the response msg. The
// response must carry id (a legacy unicast reply echoes it) or 0 (the ID
// of an mDNS responder's own replies), succeed, and hold an A record of
// class IN for fqdn (in any case, with or without the cache-flush bit)
// in its answer or additional section. Records with TTL 0 (goodbyes)
// do not count.
func answer(msg []byte, fqdn string, id uint16) (netip.Addr, error) {
	var m dns.Msg
	if err := m.Unpack(msg); err != nil {
		return netip.Addr{}, fmt.Errorf("malformed: %w", err)
	}
	switch {
	case !m.Response:
		return netip.Addr{}, errors.New("a query, not a response")
	case m.Id != id && m.Id != 0:
		return netip.Addr{}, fmt.Errorf("ID %d, want %d or 0", m.Id, id)
	case m.Opcode != dns.OpcodeQuery:
		return netip.Addr{}, fmt.Errorf("opcode %d", m.Opcode)
	case m.Rcode != dns.RcodeSuccess:
		return netip.Addr{}, fmt.Errorf("rcode %s", dns.RcodeToString[m.Rcode])
	}
	for _, rr := range append(m.Answer, m.Extra...) {
		a, ok := rr.(*dns.A)
		if !ok || a.Hdr.Class&^cacheFlush != dns.ClassINET || a.Hdr.Ttl == 0 || !strings.EqualFold(a.Hdr.Name, fqdn) {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.A)
		if ip = ip.Unmap(); !ok || !ip.Is4() || ip.IsUnspecified() {
			continue
		}
		return ip, nil
	}
	return netip.Addr{}, errNoRecord
}
