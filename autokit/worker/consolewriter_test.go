package worker

import (
	"bytes"
	"errors"
	"testing"
)

// A stream a lease's token started stops at the console's end as it was
// when the lease ended, whatever arrives after: the context that also ends
// it is cancelled a moment later, and the next job's output must not slip
// through in between.
func TestConsoleWriterStopsAtTheLeaseEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ended   bool
		end     int64
		start   int64
		chunks  []string
		want    string
		stopped bool
	}{
		{name: "lease live", start: 10, chunks: []string{"boot ", "ok"}, want: "boot ok"},
		{name: "ended before the chunk", ended: true, end: 10, start: 10, chunks: []string{"next job's secret"}, want: "", stopped: true},
		{name: "ended inside the chunk", ended: true, end: 14, start: 10, chunks: []string{"mine", "next job's secret"}, want: "mine", stopped: true},
		{name: "a chunk spanning the end", ended: true, end: 12, start: 10, chunks: []string{"minenext"}, want: "mi", stopped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			sc := scope{ended: func() (int64, bool) { return tc.end, tc.ended }}
			w := &consoleWriter{w: &out, pos: tc.start, scope: sc}
			var err error
			for _, c := range tc.chunks {
				if _, err = w.Write([]byte(c)); err != nil {
					break
				}
			}
			if out.String() != tc.want || errors.Is(err, errLeaseEnded) != tc.stopped {
				t.Errorf("wrote %q (err %v); want %q, stopped %v", out.String(), err, tc.want, tc.stopped)
			}
		})
	}
	live := scope{ended: func() (int64, bool) { return 0, false }}
	ended := scope{ended: func() (int64, bool) { return 100, true }}
	for _, tc := range []struct {
		s    scope
		off  int64
		want bool
	}{{live, 500, false}, {ended, 100, false}, {ended, 101, true}, {scope{admin: true}, 500, false}} {
		if got := tc.s.pastEnd(tc.off); got != tc.want {
			t.Errorf("pastEnd(%d) = %v, want %v", tc.off, got, tc.want)
		}
	}
}
