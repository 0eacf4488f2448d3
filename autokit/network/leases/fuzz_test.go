package leases

import (
	"bytes"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives Format and a second Parse unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("0 00:00:00:00:00:00 0.0.0.0 * *\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ls, err := Parse(bytes.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Format(&b, ls); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(&b)
		if err != nil {
			t.Fatalf("reparse of %q: %v", b.String(), err)
		}
		if len(again) != len(ls) {
			t.Fatalf("reparse: %d leases, want %d", len(again), len(ls))
		}
		for i := range ls {
			a, b := ls[i], again[i]
			if !a.Expiry.Equal(b.Expiry) || a.IP != b.IP || a.MAC.String() != b.MAC.String() || a.Hostname != b.Hostname || a.ClientID != b.ClientID {
				t.Fatalf("lease %d changed: %+v → %+v", i, a, b)
			}
		}
	})
}
