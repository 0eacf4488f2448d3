package mdns

import (
	"bytes"
	"testing"
)

// FuzzAnswer checks that answer never panics on any packet and accepts
// only responses for the query (ID or 0) carrying a usable IPv4 address.
// Seeds: the recording of avahi's reply here, and testdata/fuzz/FuzzAnswer.
func FuzzAnswer(f *testing.F) {
	const id = 0x4c56
	f.Add(recorded(f))
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, err := answer(msg, "leviathan-dut.local.", id)
		if err != nil {
			if a.IsValid() {
				t.Fatalf("answer = %v with error %v", a, err)
			}
			return
		}
		if !a.Is4() || a.IsUnspecified() {
			t.Fatalf("accepted %v, not a usable IPv4 address", a)
		}
		// Read the header by hand: a response, for this query or ID 0.
		if len(msg) < 12 || msg[2]&0x80 == 0 {
			t.Fatalf("accepted %q, which is not a response", msg)
		}
		if got := uint16(msg[0])<<8 | uint16(msg[1]); got != id && got != 0 {
			t.Fatalf("accepted a reply with ID %d", got)
		}
		// The address is in the packet.
		b := a.As4()
		if !bytes.Contains(msg, b[:]) {
			t.Fatalf("accepted %v, which is not in %q", a, msg)
		}
	})
}
