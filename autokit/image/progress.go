package image

import (
	"sync"
	"time"
)

// DefaultWindow is the span over which a Meter measures its rate.
const DefaultWindow = 5 * time.Second

// Meter measures the rate of a growing byte count over a sliding window,
// for progress reports (MB/s, ETA). It is safe for concurrent use.
type Meter struct {
	mu      sync.Mutex
	window  time.Duration
	now     func() time.Time
	samples []sample // oldest first; the first may predate the window
}

type sample struct {
	t time.Time
	n int64
}

// NewMeter returns a Meter over window (DefaultWindow when <= 0).
func NewMeter(window time.Duration) *Meter {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Meter{window: window, now: time.Now}
}

// Set records that n bytes are done by now.
func (m *Meter) Set(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.samples = append(m.samples, sample{now, n})
	// Keep one sample at or before the window's start as the anchor.
	i := 0
	for i+1 < len(m.samples) && !m.samples[i+1].t.After(now.Add(-m.window)) {
		i++
	}
	m.samples = m.samples[i:]
}

// Rate is the bytes per second over the window up to now; 0 until two
// samples were recorded. A count that stopped growing makes it fall.
func (m *Meter) Rate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) < 2 {
		return 0
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	span := m.now().Sub(first.t).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(last.n-first.n) / span
}

// ETA is the time left to reach total at rate bytes per second; ok is
// false when total or the rate is unknown.
func ETA(done, total int64, rate float64) (eta time.Duration, ok bool) {
	if total <= 0 || rate <= 0 {
		return 0, false
	}
	left := max(total-done, 0)
	return time.Duration(float64(left) / rate * float64(time.Second)), true
}
