package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/session"
)

// DefaultStreamTimeout is how long a replayed tunnel waits for the
// caller's next recorded bytes, and a call for a tunnel not asked for yet
// whose traffic the recording shows before the call's answer, unless
// WithStreamTimeout says otherwise.
const DefaultStreamTimeout = 10 * time.Second

// maxBody bounds the request body kept for matching (the API's own
// limit); a bigger body (an upload) is matched by its size.
const maxBody = 1 << 20

// Handler answers a suite's API calls from a recording. It is safe for
// concurrent use.
type Handler struct {
	rec    *session.Recording
	o      options
	calls  []*call        // the candidates, in arrival order
	screen map[int][]byte // screenshots by their call's Seq
	cons   console
	// testbot is set when WithTestEvents told the testbot's console
	// reads apart (call.testbot): suites' requests then never match
	// them, and SerialLog matches only them.
	testbot bool

	mu    sync.Mutex
	state []*callState // by call idx; replaced by a restart
	last  int          // idx of the call matched last, -1 before any
	// serialLast is SerialLog's own cursor, as last is the requests'.
	serialLast int
	divs       []Divergence
	notes      []Divergence
}

// callState is what a replay did with one recorded call.
type callState struct {
	used bool
	// matched is closed when the call is matched; done when its answer
	// (for an upgraded call: its stream) has been played.
	matched, done chan struct{}
	// abandoned is set when a call waited StreamTimeout for this
	// upgraded call to be asked for, in vain: later calls do not wait.
	abandoned bool
	// progress counts an upgraded call's chunks played so far, in
	// order; changed is closed and replaced when it grows.
	progress int
	changed  chan struct{}
}

func newState() *callState {
	return &callState{matched: make(chan struct{}), done: make(chan struct{}), changed: make(chan struct{})}
}

// setProgress records that st's first n chunks have been played.
func (h *Handler) setProgress(st *callState, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n > st.progress {
		st.progress = n
		close(st.changed)
		st.changed = make(chan struct{})
	}
}

// Divergence is a request the recording does not hold (Divergences), or
// an upgraded call whose caller sent other bytes than were recorded
// (Notes).
type Divergence struct {
	// Request is the live request: METHOD path?query and a body excerpt.
	Request string
	// Recorded is what the recording held next instead ("" when nothing
	// was left); for a tunnel, the recorded call.
	Recorded string
	// Message explains it, as the caller was answered.
	Message string
}

// String is the message.
func (d Divergence) String() string { return d.Message }

type options struct {
	from, to      time.Duration
	spans         []Span
	events        []TestEvent
	streamTimeout time.Duration
	restart       bool
	log           *slog.Logger
}

// Span is a stretch of the recorded lease: from From to To after it
// began.
type Span struct{ From, To time.Duration }

func (s Span) holds(t time.Duration) bool { return t >= s.From && t <= s.To }

// Option configures New.
type Option func(*options)

// WithWindow answers only from calls made between from and to after the
// lease began (to 0: until its end): the time the suites ran, so that
// the testbot's own calls before and after them (its wait for the boot,
// its fetch of the console) never answer a suite's identical ones.
func WithWindow(from, to time.Duration) Option {
	return func(o *options) { o.from, o.to = from, to }
}

// WithTests answers first from the calls made while the given tests ran
// (their spans, from the recorded run's test events): when only some of
// the recorded tests are replayed (go test -run), the calls of the others
// — above all the testbot's reads of their console, identical to a
// suite's — are then taken only when the replayed tests' own do not
// match.
func WithTests(spans ...Span) Option {
	return func(o *options) { o.spans = append(o.spans, spans...) }
}

// TestEvent is a test starting or ending in the recorded run, as its
// go test -json stream (events.json) stamped it.
type TestEvent struct {
	// T is when, since the lease began.
	T    time.Duration
	Test string
	// Start is set for the test's start ("run"), unset for its end
	// (pass, fail, skip).
	Start bool
}

// WithTestEvents tells the recorded testbot's reads of the console apart
// from the suites': the runner that ran the suites (package gotest, with
// Options.Serial, as the testbot and the testrunner do) read the console's
// end as each test started and the console since then as it ended, each a
// moment after the test's event. Those reads then answer only SerialLog,
// never a suite's identical request, however far the replayed suites run
// ahead of the replay's own runner.
func WithTestEvents(evs ...TestEvent) Option {
	return func(o *options) { o.events = append(o.events, evs...) }
}

// WithStreamTimeout sets how long a replayed tunnel waits for the
// caller's recorded bytes (DefaultStreamTimeout).
func WithStreamTimeout(d time.Duration) Option {
	return func(o *options) { o.streamTimeout = d }
}

// WithRestart starts the replay over when a suite opens the DUT (GET
// /v1/dut) and the recording holds no unused answer for it: one served
// recording then replays run after run (a debugger session restarted).
func WithRestart() Option { return func(o *options) { o.restart = true } }

// WithLogger logs each answer (debug), stream note (info), divergence
// (warning) and restart (silent by default).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New makes a Handler answering from rec.
func New(rec *session.Recording, opts ...Option) (*Handler, error) {
	if rec == nil {
		return nil, errors.New("replay: no recording")
	}
	o := options{streamTimeout: DefaultStreamTimeout, log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	h := &Handler{rec: rec, o: o, screen: map[int][]byte{}, last: -1, serialLast: -1}
	for _, ev := range rec.Events {
		switch {
		case ev.Kind == session.KindScreen:
			h.screen[ev.Seq] = ev.Data
		case ev.Kind == session.KindConsole:
			h.cons.add(ev.T.D(), ev.Offset+int64(len(ev.Data)))
		case ev.Kind == session.KindCall && ev.Call != nil:
			c := ev.Call
			at := ev.T.D()
			if at < o.from || o.to > 0 && at > o.to {
				continue
			}
			r := newRequest(c.Method, c.Path, c.Query, c.Body, max(c.BodySize, int64(len(c.Body))))
			route := routeOf(c.Method, r.segs)
			if route == "POST "+api.PathHeartbeat || route == "GET "+api.PathSession {
				continue // answered without matching
			}
			preferred := len(o.spans) == 0 || slices.ContainsFunc(o.spans, func(s Span) bool { return s.holds(at) })
			h.calls = append(h.calls, &call{rec: c, at: at, end: at + c.Elapsed.D(), req: r, route: route, preferred: preferred,
				upgrade: c.Status == http.StatusSwitchingProtocols || len(c.Stream) > 0})
		}
	}
	slices.SortStableFunc(h.calls, func(a, b *call) int { return a.rec.Seq - b.rec.Seq })
	h.state = make([]*callState, len(h.calls))
	for i, c := range h.calls {
		c.idx = i
		h.state[i] = newState()
	}
	if len(o.events) > 0 {
		h.claimTestbotReads(o.events)
	}
	return h, nil
}

// Calls is the number of recorded calls the handler answers from.
func (h *Handler) Calls() int { return len(h.calls) }

// Divergences are the requests the recording did not hold, in the order
// they came.
func (h *Handler) Divergences() []Divergence {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.divs)
}

// Notes are the upgraded calls (tunnels, listeners' connections) whose
// caller sent other bytes than were recorded, or stopped early, and the
// answers the recorder cut. They are not divergences: a protocol that
// carries a time or a random value differs harmlessly, and one that
// breaks fails its test on its own.
func (h *Handler) Notes() []Divergence {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.notes)
}

// FirstDivergence is the first of Divergences; ok is false when the
// replay has not diverged.
func (h *Handler) FirstDivergence() (d Divergence, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.divs) == 0 {
		return Divergence{}, false
	}
	return h.divs[0], true
}

// Unused describes the recorded calls no request has used yet, leaving
// out those only a testbot makes and its reads of the console.
func (h *Handler) Unused() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		if !h.state[c.idx].used && !testbotRoutes[c.route] && !c.testbot {
			out = append(out, c.describe())
		}
	}
	return out
}

func (h *Handler) diverged(d Divergence) {
	h.mu.Lock()
	h.divs = append(h.divs, d)
	h.mu.Unlock()
	h.o.log.Warn("replay diverged", "msg", d.Message)
}

func (h *Handler) note(d Divergence) {
	h.mu.Lock()
	h.notes = append(h.notes, d)
	h.mu.Unlock()
	h.o.log.Info("replay: a stream differed", "msg", d.Message)
}

// ServeHTTP answers r from the recording.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, size, err := readBody(r.Body)
	if err != nil {
		writeError(rw, api.CodeBadRequest, fmt.Sprintf("replay: reading the request body: %v", err))
		return
	}
	req := newRequest(r.Method, r.URL.Path, r.URL.RawQuery, body, size)
	switch routeOf(r.Method, req.segs) {
	case "POST " + api.PathHeartbeat:
		// /v1/lease/{id}/heartbeat: the lease lives as long as the replay.
		writeJSON(rw, http.StatusOK, api.Lease{ID: req.segs[3], Owner: "replay", Expires: time.Now().Add(time.Hour)})
		return
	case "GET " + api.PathSession:
		rw.Header().Set("Content-Type", api.ContentTypeGzip)
		session.Encode(rw, h.rec)
		return
	}
	c, st, prev, div := h.take(&req)
	if div != nil {
		h.diverged(*div)
		writeError(rw, api.CodeReplayDivergence, div.Message)
		return
	}
	if !h.waitBefore(r.Context(), c, prev) {
		close(st.done) // the caller went away
		return
	}
	if c.upgrade {
		h.play(rw, r, c, st) // closes st.done when played
		return
	}
	h.answer(rw, r, c)
	close(st.done)
}

// readBody reads a request body, keeping at most maxBody bytes.
func readBody(rc io.Reader) ([]byte, int64, error) {
	if rc == nil {
		return nil, 0, nil
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxBody))
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(io.Discard, rc)
	return b, int64(len(b)) + n, err
}

// take marks the unused call matching req used (see find) and returns it
// with the cursor before it, or describes the divergence.
func (h *Handler) take(req *request) (*call, *callState, int, *Divergence) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.find(req); c != nil {
		return h.use(c)
	}
	if h.o.restart && routeOf(req.method, req.segs) == "GET "+api.PathDUT {
		h.o.log.Info("replay: a suite opened the DUT again; the replay starts over")
		for i := range h.state {
			h.state[i] = newState()
		}
		h.last, h.serialLast = -1, -1
		if c := h.find(req); c != nil {
			return h.use(c)
		}
	}
	return nil, nil, 0, h.divergence(req)
}

// find returns the unused call matching req: the earliest one; for a
// read the testbot makes too (the console, the screen), the earliest
// after the call matched last, else the earliest of all. h.mu is held.
func (h *Handler) find(req *request) *call {
	after := -1
	if testbotReads[routeOf(req.method, req.segs)] {
		after = h.last
	}
	return h.next(after, func(c *call) bool { return !c.testbot && c.matches(req) })
}

// testbotReads are the reads a testbot makes while the suites run: each
// test's console excerpt (gotest's Serial), a screenshot of a failed
// test. The recording interleaves them with the suites' identical reads,
// and a replay's testbot keeps another pace than the suites: the
// suites' calls and SerialLog each keep a cursor, so that neither takes
// the other's reads from another test.
var testbotReads = map[string]bool{"GET " + api.PathSerial: true, "GET " + api.PathScreen: true}

// next is the earliest unused call after idx after (-1: from the start)
// that ok accepts, or else the earliest unused one before it; among the
// preferred calls (WithTests) first. h.mu is held.
func (h *Handler) next(after int, ok func(*call) bool) *call {
	var before, other *call
	for _, c := range h.calls {
		if h.state[c.idx].used || !ok(c) {
			continue
		}
		switch {
		case !c.preferred:
			if other == nil || other.idx <= after && c.idx > after {
				other = c
			}
		case c.idx > after:
			return c
		case before == nil:
			before = c
		}
	}
	if before != nil {
		return before
	}
	return other
}

// use marks c used and moves the cursor to it; h.mu is held.
func (h *Handler) use(c *call) (*call, *callState, int, *Divergence) {
	prev := h.last
	st := h.state[c.idx]
	st.used = true
	close(st.matched)
	h.last = c.idx
	h.o.log.Debug("replay: answered", "call", c.describe())
	return c, st, prev, nil
}

// divergence describes req, which no unused call matches, and what the
// recording held next: the earliest unused call after the one matched
// last, of req's endpoint when there is one, else of any endpoint a
// suite calls. h.mu is held.
func (h *Handler) divergence(req *request) *Divergence {
	route := routeOf(req.method, req.segs)
	var next, sameRoute *call
	for _, c := range h.calls[h.last+1:] {
		if h.state[c.idx].used || testbotRoutes[c.route] || c.testbot {
			continue
		}
		if next == nil {
			next = c
		}
		if c.route == route {
			sameRoute = c
			break
		}
	}
	if sameRoute != nil {
		next = sameRoute
	}
	d := &Divergence{Request: req.describe()}
	msg := fmt.Sprintf("replay: the recording holds no call %s", d.Request)
	if h.last >= 0 {
		msg += fmt.Sprintf("; the last call that matched was %s", h.calls[h.last].describe())
	}
	if next != nil {
		d.Recorded = next.describe()
		msg += fmt.Sprintf("; the recording held next %s", d.Recorded)
	} else {
		msg += "; the recording holds no further call of the suites"
	}
	d.Message = msg + ". The suite no longer makes the calls it made when recorded: replay the suite as it was, or record the changed one again"
	return d
}

// waitBefore waits until every upgraded call has been played as far as
// the recording shows it before c's answer ended (before c began, for an
// upgraded c): a command whose answer came after the DUT fetched a file
// from the suite's listener answers once that connection has been
// replayed that far. An upgraded call not asked for yet is waited for
// only when it comes after the cursor prev (the call matched before c) —
// one before it the suite has passed by — and only among the preferred
// calls (WithTests), at most the stream timeout, once. It returns false
// when ctx ends first.
func (h *Handler) waitBefore(ctx context.Context, c *call, prev int) bool {
	limit := c.end
	if c.upgrade {
		limit = c.at
	}
	for _, u := range h.calls {
		if !u.upgrade || u == c || !u.preferred || u.at >= limit {
			continue
		}
		k := 0 // u's chunks recorded before limit
		for _, ch := range u.rec.Stream {
			if max(ch.T.D(), u.at) > limit {
				break
			}
			k++
		}
		if k == 0 {
			continue
		}
		h.mu.Lock()
		st := h.state[u.idx]
		skip := st.abandoned || !st.used && u.idx < prev
		h.mu.Unlock()
		if skip {
			continue
		}
		select {
		case <-st.matched:
		case <-ctx.Done():
			return false
		case <-time.After(h.o.streamTimeout):
			h.mu.Lock()
			st.abandoned = true
			h.mu.Unlock()
			continue
		}
		for {
			h.mu.Lock()
			reached, changed := st.progress >= k, st.changed
			h.mu.Unlock()
			if reached {
				break
			}
			select {
			case <-changed:
				continue
			case <-st.done:
			case <-ctx.Done():
				return false
			}
			break
		}
	}
	return true
}

// answer writes c's recorded answer.
func (h *Handler) answer(rw http.ResponseWriter, r *http.Request, c *call) {
	rec := c.rec
	if rec.Status == 0 || rec.Status == http.StatusOK && (c.route == "GET "+api.PathTunnel || c.route == "GET "+api.PathListenID) {
		// The caller went away before the worker answered (a listener's
		// Accept still waiting when the suite closed it): so may this
		// one.
		<-r.Context().Done()
		return
	}
	if rec.ResponseTruncated {
		h.note(Divergence{Request: c.req.describe(), Recorded: c.describe(),
			Message: fmt.Sprintf("replay: %s was answered cut, as recorded: the recording reached its size bound", c.describe())})
	}
	body := rec.Response
	if c.route == "GET "+api.PathScreen && rec.Status == http.StatusOK && len(body) == 0 {
		body = h.screen[rec.Seq]
	}
	if rec.ContentType != "" {
		rw.Header().Set("Content-Type", rec.ContentType)
	}
	follow := false
	if c.route == "GET "+api.PathSerial && rec.Status == http.StatusOK {
		off, end := h.serialRange(c)
		rw.Header().Set(api.HeaderSerialOffset, strconv.FormatInt(off, 10))
		f := c.req.query.Get(api.QueryFollow)
		follow = f == "1" || f == "true"
		if !follow {
			rw.Header().Set(api.HeaderSerialEnd, strconv.FormatInt(end, 10))
		}
	}
	rw.WriteHeader(rec.Status)
	if len(body) > 0 && rec.Status != http.StatusNoContent && rec.Status != http.StatusNotModified {
		rw.Write(body)
	}
	if follow {
		// A followed console streams until its caller goes away.
		http.NewResponseController(rw).Flush()
		<-r.Context().Done()
	}
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", api.ContentTypeJSON)
	rw.WriteHeader(status)
	json.NewEncoder(rw).Encode(v)
}

func writeError(rw http.ResponseWriter, code api.ErrorCode, msg string) {
	writeJSON(rw, code.Status(), api.ErrorBody{Error: msg, Code: code})
}

// isUpgrade reports whether r asks to become a tunnel, as the worker
// checks it.
func isUpgrade(r *http.Request) bool {
	has := false
	for _, v := range r.Header.Values("Connection") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "upgrade") {
				has = true
			}
		}
	}
	return has && strings.EqualFold(r.Header.Get("Upgrade"), api.TunnelProtocol)
}
