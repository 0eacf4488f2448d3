package mdns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestLocalName(t *testing.T) {
	for in, want := range map[string]string{
		"dut":               "dut.local",
		"dut.local":         "dut.local",
		"dut.local.":        "dut.local",
		" DUT.Local ":       "DUT.Local",
		"balena-1a2b.local": "balena-1a2b.local",
	} {
		got, err := LocalName(in)
		if err != nil || got != want {
			t.Errorf("LocalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, why := range map[string]string{
		"":                      "not a host name",
		".local":                "not a host name",
		"dut..local":            "not a host name",
		"du t":                  "not a host name",
		"dut.example.com":       "not in .local",
		"dut.local.evil":        "not in .local",
		strings.Repeat("a", 64): "not a host name",
	} {
		if _, err := LocalName(in); err == nil || !strings.Contains(err.Error(), why) || !strings.HasPrefix(err.Error(), "mdns: ") {
			t.Errorf("LocalName(%q): err = %v, want one saying %q", in, err, why)
		}
	}
}

// reply packs a response to id holding rrs as answers.
func reply(t testing.TB, id uint16, rrs ...string) []byte {
	t.Helper()
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Id: id, Response: true, Authoritative: true}}
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func recorded(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(recording)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordedAddr is the address in the recording, as miekg/dns reads it.
func recordedAddr(t testing.TB) netip.Addr {
	t.Helper()
	var m dns.Msg
	if err := m.Unpack(recorded(t)); err != nil || len(m.Answer) != 1 {
		t.Fatalf("%s: %v, %d answers", recording, err, len(m.Answer))
	}
	a, _ := netip.AddrFromSlice(m.Answer[0].(*dns.A).A.To4())
	return a
}

func TestAnswer(t *testing.T) {
	const id = 0x4c56 // the recording's
	dut := netip.MustParseAddr("10.42.0.77")
	for _, tc := range []struct {
		name string
		msg  []byte
		want netip.Addr // invalid: ignored
	}{
		{"avahi's legacy unicast reply", recorded(t), recordedAddr(t)},
		{"multicast style, ID 0, cache-flush", reply(t, 0, "dut.local. 120 CLASS32769 A 10.42.0.77"), dut},
		{"name in another case", reply(t, id, "DUT.LOCAL. 10 IN A 10.42.0.77"), dut},
		{"in the additional section", func() []byte {
			m := &dns.Msg{MsgHdr: dns.MsgHdr{Id: id, Response: true}}
			rr, _ := dns.NewRR("dut.local. 10 IN A 10.42.0.77")
			m.Extra = []dns.RR{rr}
			b, _ := m.Pack()
			return b
		}(), dut},
		{"other name first", reply(t, id, "other.local. 10 IN A 10.42.0.9", "dut.local. 10 IN A 10.42.0.77"), dut},
		{"other name only", reply(t, id, "other.local. 10 IN A 10.42.0.9"), netip.Addr{}},
		{"AAAA only", reply(t, id, "dut.local. 10 IN AAAA fd00::77"), netip.Addr{}},
		{"goodbye (TTL 0)", reply(t, id, "dut.local. 0 IN A 10.42.0.77"), netip.Addr{}},
		{"class CH", reply(t, id, "dut.local. 10 CH A 10.42.0.77"), netip.Addr{}},
		{"0.0.0.0", reply(t, id, "dut.local. 10 IN A 0.0.0.0"), netip.Addr{}},
		{"another query's ID", reply(t, id+1, "dut.local. 10 IN A 10.42.0.77"), netip.Addr{}},
		{"a query", func() []byte { b, _ := query("dut.local.", id); return b }(), netip.Addr{}},
		{"NXDOMAIN", func() []byte {
			m := &dns.Msg{MsgHdr: dns.MsgHdr{Id: id, Response: true, Rcode: dns.RcodeNameError}}
			b, _ := m.Pack()
			return b
		}(), netip.Addr{}},
		{"truncated", recorded(t)[:40], netip.Addr{}},
		{"empty", nil, netip.Addr{}},
	} {
		fqdn := "dut.local."
		if tc.name == "avahi's legacy unicast reply" {
			fqdn = "leviathan-dut.local."
		}
		got, err := answer(tc.msg, fqdn, id)
		if got != tc.want || (err == nil) != tc.want.IsValid() {
			t.Errorf("%s: answer = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestUnknownInterface(t *testing.T) {
	_, err := Resolve(t.Context(), "lvt-absent0", "dut")
	if err == nil || !strings.Contains(err.Error(), "no interface lvt-absent0") || !strings.Contains(err.Error(), "dut.local") {
		t.Fatalf("err = %v, want one naming the interface and the name", err)
	}
}

func TestNotMulticast(t *testing.T) {
	_, err := Resolve(t.Context(), "lo", "dut")
	if err == nil || !strings.Contains(err.Error(), "lo does not do multicast") {
		t.Fatalf("err = %v, want one saying lo does not do multicast", err)
	}
}

func TestBadName(t *testing.T) {
	_, err := Resolve(t.Context(), "lvt-absent0", "dut.example.com")
	if err == nil || !strings.Contains(err.Error(), `"dut.example.com" is not in .local`) {
		t.Fatalf("err = %v", err)
	}
}

func TestCancelledBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Resolve(ctx, "lvt-absent0", "dut")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "dut.local on lvt-absent0") {
		t.Fatalf("err = %v, want one wrapping context.Canceled naming the name and the interface", err)
	}
}

// player answers each query it receives on the loopback with the
// packets replies returns for it, the recording of avahi's reply among
// them: the playback half of record/playback. It stops when the test
// ends.
func player(t *testing.T, replies func(q *dns.Msg) [][]byte) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		b := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDPAddrPort(b)
			if err != nil {
				return
			}
			var q dns.Msg
			if q.Unpack(b[:n]) != nil {
				continue
			}
			for _, r := range replies(&q) {
				c.WriteToUDPAddrPort(r, from)
			}
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// replay is the recording with q's ID.
func replay(t testing.TB, q *dns.Msg) []byte {
	b := recorded(t)
	b[0], b[1] = byte(q.Id>>8), byte(q.Id)
	return b
}

// loopback opens the resolver's socket on lo.
func loopback(t *testing.T) (*net.UDPConn, *net.Interface) {
	t.Helper()
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no lo interface: %v", err)
	}
	c, err := listen(lo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, lo
}

// TestPlaybackOtherNameIgnored checks that a reply for another name, and
// junk, are passed over for the answer that follows them.
func TestPlaybackOtherNameIgnored(t *testing.T) {
	c, lo := loopback(t)
	dst := player(t, func(q *dns.Msg) [][]byte {
		return [][]byte{
			reply(t, q.Id, "other.local. 10 IN A 10.42.0.9"),
			[]byte("not DNS"),
			replay(t, q),
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got, err := exchange(ctx, c, lo, "leviathan-dut.local.", dst, logger(t))
	if err != nil || got != recordedAddr(t) {
		t.Fatalf("exchange = %v, %v; want %v", got, err, recordedAddr(t))
	}
}

// TestPlaybackOtherNameOnly checks that replies for other names alone
// end in a timeout that counts them.
func TestPlaybackOtherNameOnly(t *testing.T) {
	c, lo := loopback(t)
	dst := player(t, func(q *dns.Msg) [][]byte {
		return [][]byte{reply(t, q.Id, "other.local. 10 IN A 10.42.0.9")}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	_, err := exchange(ctx, c, lo, "dut.local.", dst, logger(t))
	var ne *NoAnswerError
	if !errors.As(err, &ne) || !errors.Is(err, context.DeadlineExceeded) || ne.Ignored < 2 || ne.Queries < 2 {
		t.Fatalf("err = %#v, want a *NoAnswerError with 2 queries and their replies ignored", err)
	}
	for _, want := range []string{"dut.local on lo", "queries", "other packets ignored"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestPlaybackOtherInterface checks that the right answer arriving on
// another interface than the one asked on is ignored.
func TestPlaybackOtherInterface(t *testing.T) {
	c, lo := loopback(t)
	dst := player(t, func(q *dns.Msg) [][]byte { return [][]byte{replay(t, q)} })
	other := &net.Interface{Index: lo.Index + 1000, Name: "lvt-other0"}
	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	_, err := exchange(ctx, c, other, "leviathan-dut.local.", dst, logger(t))
	var ne *NoAnswerError
	if !errors.As(err, &ne) || ne.Ignored == 0 || ne.Interface != "lvt-other0" {
		t.Fatalf("err = %v, want a *NoAnswerError with the answer from lo ignored", err)
	}
}

// TestCancelled checks that cancelling ctx ends a wait at once.
func TestCancelled(t *testing.T) {
	c, lo := loopback(t)
	dst := player(t, func(*dns.Msg) [][]byte { return nil })
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel) // between the second query and the third
	start := time.Now()
	_, err := exchange(ctx, c, lo, "dut.local.", dst, logger(t))
	if took := time.Since(start); took > time.Second {
		t.Errorf("exchange returned %s after the start, with a cancel at 300 ms", took)
	}
	var ne *NoAnswerError
	if !errors.As(err, &ne) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a *NoAnswerError wrapping context.Canceled", err)
	}
	if strings.Contains(err.Error(), "is avahi") {
		t.Errorf("a cancel is no reason to doubt avahi: %v", err)
	}
}
