package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
)

// console is the recorded console's length over time: ends[i] is the
// offset just past the bytes recorded at ts[i].
type console struct {
	ts   []time.Duration
	ends []int64
}

func (c *console) add(t time.Duration, end int64) {
	if n := len(c.ends); n > 0 && end < c.ends[n-1] {
		end = c.ends[n-1]
	}
	c.ts = append(c.ts, t)
	c.ends = append(c.ends, end)
}

// endAt is the console's length at t (since the lease began): start
// before any recorded output.
func (c *console) endAt(t time.Duration, start int64) int64 {
	i := sort.Search(len(c.ts), func(i int) bool { return c.ts[i] > t })
	if i == 0 {
		return start
	}
	return max(c.ends[i-1], start)
}

// serialRange is the console offsets a recorded GET /v1/serial answered
// in its headers: where its body starts and ends. A body read from an
// offset the lease's console had reached starts there; otherwise (a read
// from the start, of a console that began before the lease; an empty read
// at the end) the console's length when the call was made, from the
// recorded console, places it.
func (h *Handler) serialRange(c *call) (off, end int64) {
	x, _ := strconv.ParseInt(c.req.query.Get(api.QueryOffset), 10, 64)
	start := h.rec.Header.ConsoleStart
	n := int64(len(c.rec.Response))
	if n > 0 && x >= start {
		return x, x + n
	}
	e := h.cons.endAt(c.at, start)
	if n == 0 {
		off = min(max(x, start), e)
		return off, off
	}
	// Read from before the lease's console: the worker started it at x
	// (the whole console, for the testbot's token) or at the lease's
	// start (for the lease's); take the one whose end lies nearer the
	// console's length then.
	off = max(x, 0)
	if d0, d1 := abs(off+n-e), abs(start+n-e); d1 < d0 {
		off = start
	}
	return off, off + n
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// ErrNoConsoleRead is returned by SerialLog when the recording holds no
// console read it can answer with.
var ErrNoConsoleRead = errors.New("replay: the recording holds no such console read")

// SerialLog answers a console read the way the recorded testbot's reads
// were answered, for gotest.Options.Serial: a run that replays the
// suites beside the stand-in reads each test's console excerpt as the
// recorded runner did, using up its recorded reads (which, without
// WithTestEvents, would otherwise answer a suite's identical ones). It
// never counts as a divergence; when the recording holds no such read it
// returns ErrNoConsoleRead.
func (h *Handler) SerialLog(ctx context.Context, offset int64) ([]byte, int64, error) {
	want := strconv.FormatInt(offset, 10)
	h.mu.Lock()
	found := h.next(h.serialLast, func(c *call) bool {
		return (c.testbot || !h.testbot) && isConsoleRead(c) && c.req.query.Get(api.QueryOffset) == want
	})
	if found != nil {
		h.o.log.Debug("replay: answered the testbot's console read", "call", found.describe())
		h.serialLast = found.idx
		st := h.state[found.idx]
		st.used = true
		close(st.matched)
		close(st.done)
	}
	h.mu.Unlock()
	if found == nil {
		return nil, 0, fmt.Errorf("%w (GET %s?%s=%d)", ErrNoConsoleRead, api.PathSerial, api.QueryOffset, offset)
	}
	_, end := h.serialRange(found)
	return found.rec.Response, end, nil
}

// isConsoleRead reports whether c is a read of the console from an
// offset, answered, not followed.
func isConsoleRead(c *call) bool {
	q := c.req.query
	return c.route == "GET "+api.PathSerial && c.rec.Status == http.StatusOK && len(q) == 1 && q.Has(api.QueryOffset)
}

// endOffset is the offset gotest asks the console's end with (it reads
// from far past any console's end).
const endOffset = "4611686018427387904" // 1 << 62

// lookAhead bounds how many reads claimTestbotReads looks past the first
// candidate for one from the offset it expects.
const lookAhead = 8

// claimTestbotReads marks the testbot's console reads among the calls:
// for each test event in order, the first read after the event (and
// after the read claimed before) of the kind the runner makes then — the
// console's end as a test starts; as it ends, the console since the end
// read at its start, preferring a read from the offset that read
// answered.
func (h *Handler) claimTestbotReads(evs []TestEvent) {
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b TestEvent) int { return cmp.Compare(a.T, b.T) })
	h.testbot = true
	after := -1
	marks := map[string]string{} // a started test's end read's answer
	for _, ev := range evs {
		var pick *call
		seen := 0
		for _, c := range h.calls[after+1:] {
			if c.testbot || c.at < ev.T || !isConsoleRead(c) {
				continue
			}
			off := c.req.query.Get(api.QueryOffset)
			if ev.Start != (off == endOffset) {
				continue
			}
			if pick == nil {
				pick = c
			}
			if ev.Start || off == marks[ev.Test] {
				pick = c
				break
			}
			if seen++; seen == lookAhead {
				break
			}
		}
		if pick == nil {
			continue
		}
		pick.testbot = true
		after = pick.idx
		if ev.Start {
			_, end := h.serialRange(pick)
			marks[ev.Test] = strconv.FormatInt(end, 10)
		}
	}
}
