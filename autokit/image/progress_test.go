package image

import (
	"testing"
	"time"
)

func TestMeter(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMeter(5 * time.Second)
	m.now = func() time.Time { return now }
	if m.Rate() != 0 {
		t.Fatal("a rate before any sample")
	}
	// 10 MB/s for 20 s, then 2 MB/s: the window forgets the fast part.
	var n int64
	for range 20 {
		now = now.Add(time.Second)
		n += 10e6
		m.Set(n)
	}
	if r := m.Rate(); r < 9e6 || r > 11e6 {
		t.Fatalf("rate %.0f, want about 10 MB/s", r)
	}
	for range 10 {
		now = now.Add(time.Second)
		n += 2e6
		m.Set(n)
	}
	if r := m.Rate(); r < 1.9e6 || r > 2.1e6 {
		t.Fatalf("rate %.0f after slowing down, want about 2 MB/s", r)
	}
	if len(m.samples) > 7 {
		t.Errorf("the meter keeps %d samples for a 5 s window of 1 s samples", len(m.samples))
	}
	// A stall makes the rate fall.
	now = now.Add(10 * time.Second)
	if r := m.Rate(); r > 1e6 {
		t.Fatalf("rate %.0f after a 10 s stall", r)
	}
	if eta, ok := ETA(50e6, 150e6, 10e6); !ok || eta != 10*time.Second {
		t.Fatalf("ETA = %v, %v", eta, ok)
	}
	if _, ok := ETA(50e6, 0, 10e6); ok {
		t.Fatal("an ETA without a total")
	}
}
