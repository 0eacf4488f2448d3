package session

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of RecorderOptions.
const (
	// DefaultMaxBytes bounds a recording's payload: console bytes, bodies,
	// responses, screenshots and stream chunks.
	DefaultMaxBytes = 64 << 20
	// DefaultMaxResponse bounds one call's request body and its response
	// (each).
	DefaultMaxResponse = 1 << 20
	// DefaultMaxStream bounds the chunks of one upgraded call (a tunnel, a
	// listener's connection).
	DefaultMaxStream = 16 << 20
)

// What a KindPower and a KindFlash Event says.
const (
	PowerOn       = "on"
	PowerOff      = "off"
	FlashStart    = "start"
	FlashProgress = "progress"
	FlashDone     = "done"
	FlashFailed   = "failed"
)

// FlashProgressEvery is the shortest time between two FlashProgress
// events: more frequent progress is dropped.
const FlashProgressEvery = 250 * time.Millisecond

// consoleMerge is how close console bytes must follow the last console
// Event to be added to it rather than start a new one: a console printing
// a byte at a time costs one line per 20 ms, not one per byte.
const consoleMerge = 20 * time.Millisecond

// eventCost is what an Event costs against the bound besides its
// payload: about its JSON line without the data.
const eventCost = 96

// RecorderOptions configures a Recorder. The zero value records with the
// defaults, redacts nothing and reads the system clock.
type RecorderOptions struct {
	// Secrets are replaced by Redacted wherever they occur in what is
	// recorded: paths, queries, bodies, responses (the base64 data of
	// NDJSON frames too), console bytes and stream chunks.
	Secrets []string
	// MaxBytes bounds the recording (DefaultMaxBytes when 0): once its
	// payloads and events reach it, later payloads are dropped (one
	// KindNote says so) and calls are still recorded, without bodies,
	// with ResponseTruncated set. Past MaxBytes and a sixteenth more, no
	// event at all is recorded (a second note says so).
	MaxBytes int64
	// MaxResponse bounds one call's request body and its response, each
	// (DefaultMaxResponse when 0). A longer body is not kept (BodyOmitted);
	// a longer response is cut (ResponseTruncated). Screenshots are
	// bounded by MaxBytes only.
	MaxResponse int64
	// MaxStream bounds the chunks of one upgraded call
	// (DefaultMaxStream when 0); past it the stream is cut
	// (ResponseTruncated).
	MaxStream int64
	// Clock is the time events are stamped with (time.Now when nil).
	Clock func() time.Time
}

// Recorder records one lease's session in memory, bounded in size, with
// its secrets redacted. It is safe for concurrent use. Its methods do no
// compression and little copying, so recording stays off the hot path;
// Snapshot returns the recording so far, for Encode.
type Recorder struct {
	opts RecorderOptions
	red  redactor

	mu      sync.Mutex
	hdr     Header
	entries []entry
	seq     int
	used    int64 // payload bytes and eventCost per event
	full    bool  // payloads are dropped
	ceiling bool  // events are dropped
	stopped bool

	consoleEnd    int64  // the console offset just past the bytes taken
	console       stream // the console's held end
	consoleHeldAt Duration
	lastConsole   int // index in entries of a console event that may grow, -1 for none
	lastProgress  time.Time
}

// entry is an Event being recorded; a call's is completed by its
// CallRecorder.
type entry struct {
	ev   Event
	call *CallRecorder
}

// NewRecorder starts a recording with header h (its Version is set;
// Started is the clock's now when zero; the console is taken from
// h.ConsoleStart on).
func NewRecorder(h Header, opts RecorderOptions) *Recorder {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxResponse <= 0 {
		opts.MaxResponse = DefaultMaxResponse
	}
	if opts.MaxStream <= 0 {
		opts.MaxStream = DefaultMaxStream
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	h.Version = Version
	if h.Started.IsZero() {
		h.Started = opts.Clock()
	}
	h.Capabilities = slices.Clone(h.Capabilities)
	return &Recorder{
		opts:        opts,
		red:         newRedactor(opts.Secrets),
		hdr:         h,
		consoleEnd:  h.ConsoleStart,
		lastConsole: -1,
	}
}

// since is the time since the header's Started.
func (r *Recorder) since(t time.Time) Duration { return Duration(t.Sub(r.hdr.Started)) }

// now is the clock's time since Started.
func (r *Recorder) now() Duration { return r.since(r.opts.Clock()) }

// addLocked appends an event unless recording stopped or the bound's
// reserve is spent; it returns the event's index or -1. r.mu held.
func (r *Recorder) addLocked(e entry) int {
	if r.stopped || r.ceiling {
		return -1
	}
	if r.used+eventCost > r.opts.MaxBytes+r.opts.MaxBytes/16 {
		r.ceiling = true
		r.entries = append(r.entries, entry{ev: Event{T: e.ev.T, Kind: KindNote,
			What: fmt.Sprintf("the recording reached its size bound (%d bytes) and its reserve for events: nothing after this is recorded", r.opts.MaxBytes)}})
		return -1
	}
	r.used += eventCost
	r.entries = append(r.entries, e)
	return len(r.entries) - 1
}

// admitLocked returns how many of n payload bytes the bound lets in,
// noting the first time it refuses any. r.mu held.
func (r *Recorder) admitLocked(n int) int {
	if r.full || r.stopped {
		return 0
	}
	left := r.opts.MaxBytes - r.used
	if int64(n) <= left {
		r.used += int64(n)
		return n
	}
	r.full = true
	r.addLocked(entry{ev: Event{T: r.now(), Kind: KindNote,
		What: fmt.Sprintf("the recording reached its size bound (%d bytes): later console bytes, bodies, responses, screenshots and stream chunks are left out; calls and events are still recorded", r.opts.MaxBytes)}})
	k := int(max(left, 0))
	r.used += int64(k)
	return k
}

// ConsoleEnd is the console offset just past the bytes recorded so far
// (the held ones too): where the next Console call should start.
func (r *Recorder) ConsoleEnd() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.consoleEnd
}

// Stop ends the recording: what comes later is ignored. Snapshot still
// answers.
func (r *Recorder) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
}

// AddSecrets adds secrets learnt during the recording (a job's settings
// for its suites): from now on they are redacted as the ones given at the
// start, and Snapshot redacts them also in what was recorded before.
func (r *Recorder) AddSecrets(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Secrets = append(slices.Clip(r.opts.Secrets), secrets...)
	r.red = newRedactor(r.opts.Secrets)
}

// Note records the recorder user's own note.
func (r *Recorder) Note(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(entry{ev: Event{T: r.now(), Kind: KindNote, What: string(r.red.all([]byte(what)))}})
}

// Power records the DUT powered on (on) or off.
func (r *Recorder) Power(on bool) {
	what := PowerOff
	if on {
		what = PowerOn
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(entry{ev: Event{T: r.now(), Kind: KindPower, What: what}})
}

// Flash records a flash's progress: what (FlashStart, FlashProgress,
// FlashDone, FlashFailed), the image bytes written so far, the upload's
// bytes read so far and the upload's size (0 when unknown). Progress
// closer than FlashProgressEvery to the last is dropped.
func (r *Recorder) Flash(what string, written, read, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Clock()
	if what == FlashProgress {
		if !r.lastProgress.IsZero() && now.Sub(r.lastProgress) < FlashProgressEvery {
			return
		}
		r.lastProgress = now
	} else {
		r.lastProgress = time.Time{}
	}
	r.addLocked(entry{ev: Event{T: r.since(now), Kind: KindFlash, What: what, Bytes: written, Read: read, Total: total}})
}

// Screen records a screenshot, png, taken by call seq (0 for none).
func (r *Recorder) Screen(seq int, png []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.screenLocked(seq, png)
}

func (r *Recorder) screenLocked(seq int, png []byte) {
	if len(png) == 0 || r.admitLocked(len(png)) < len(png) {
		return
	}
	r.addLocked(entry{ev: Event{T: r.now(), Kind: KindScreen, Data: slices.Clone(png), Seq: seq}})
}

// Console records bytes the console printed, p, starting at console
// offset off. Bytes before the header's ConsoleStart or already recorded
// are skipped, so overlapping reports of the same output are harmless.
// The last bytes that could start a secret are held until more output
// shows whether they do.
func (r *Recorder) Console(off int64, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := off + int64(len(p))
	if end <= r.consoleEnd || r.stopped {
		return
	}
	if off < r.consoleEnd {
		p, off = p[r.consoleEnd-off:], r.consoleEnd
	}
	now := r.now()
	if off > r.consoleEnd { // a gap: what was held ends there
		r.consoleOutLocked(r.consoleEnd-int64(len(r.console.held)), r.consoleHeldAt, r.red.flush(&r.console), now)
		r.lastConsole = -1
	}
	start := off - int64(len(r.console.held))
	at := now
	if len(r.console.held) > 0 {
		at = r.consoleHeldAt
	}
	out := r.red.push(&r.console, p)
	r.consoleEnd = end
	r.consoleHeldAt = now
	r.consoleOutLocked(start, at, out, now)
}

// consoleOutLocked records redacted console bytes whose first byte is at
// offset off and arrived at t, adding them to the last console event
// when it ends where they start and is recent. r.mu held.
func (r *Recorder) consoleOutLocked(off int64, t Duration, out []byte, now Duration) {
	if len(out) == 0 {
		return
	}
	out = out[:r.admitLocked(len(out))]
	if len(out) == 0 {
		return
	}
	if i := r.lastConsole; i >= 0 && i == len(r.entries)-1 && now-r.entries[i].ev.T < Duration(consoleMerge) {
		ev := &r.entries[i].ev
		ev.Data = append(ev.Data, out...)
		return
	}
	r.lastConsole = r.addLocked(entry{ev: Event{T: t, Kind: KindConsole, Data: out, Offset: off}})
}

// StartCall records a call that just arrived and returns its recorder:
// the handler reports the request body, the answer and, for an upgraded
// call, its chunks, then Finish. path and rawQuery are redacted. It
// returns nil after Stop or when no more events fit; a nil
// *CallRecorder's methods do nothing.
func (r *Recorder) StartCall(method, path, rawQuery string) *CallRecorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.ceiling {
		return nil
	}
	now := r.opts.Clock()
	r.seq++
	c := &CallRecorder{r: r, start: now}
	c.call = Call{Seq: r.seq, Method: method, Path: string(r.red.all([]byte(path))), Query: string(r.red.all([]byte(rawQuery)))}
	// Past the bound the call is kept without its payloads.
	c.call.ResponseTruncated = r.full
	if r.addLocked(entry{ev: Event{T: r.since(now), Kind: KindCall, Call: &c.call}, call: c}) < 0 {
		return nil
	}
	return c
}

// CallRecorder records one call; see Recorder.StartCall. It is safe for
// concurrent use (a tunnel's two directions report at once). Bodies and
// responses are kept as they come and redacted by Snapshot.
type CallRecorder struct {
	r     *Recorder
	start time.Time
	// Guarded by r.mu:
	call          Call // Body and Response unredacted
	done          bool
	screen        bool
	streamBytes   int64
	up, down      stream // the held ends of the caller's and the DUT's bytes
	upAt, downAt  Duration
	bodyDiscarded bool
}

// Seq is the call's number, 0 for a nil recorder.
func (c *CallRecorder) Seq() int {
	if c == nil {
		return 0
	}
	return c.call.Seq // never changes
}

// OmitBody keeps only the request body's size (a flash or suite upload).
func (c *CallRecorder) OmitBody() {
	if c == nil {
		return
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.discardBodyLocked()
}

func (c *CallRecorder) discardBodyLocked() {
	c.call.BodyOmitted = true
	c.bodyDiscarded = true
	c.call.Body = nil
}

// Body records request body bytes as the handler reads them.
func (c *CallRecorder) Body(p []byte) {
	if c == nil || len(p) == 0 {
		return
	}
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	c.call.BodySize += int64(len(p))
	if c.bodyDiscarded || c.done {
		return
	}
	if c.call.BodySize > r.opts.MaxResponse || r.admitLocked(len(p)) < len(p) {
		// A body cut short is of no use: keep its size only.
		c.discardBodyLocked()
		if r.full {
			c.call.ResponseTruncated = true
		}
		return
	}
	c.call.Body = append(c.call.Body, p...)
}

// Respond records the answer's status and content type.
func (c *CallRecorder) Respond(status int, contentType string) {
	if c == nil {
		return
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.call.Status, c.call.ContentType = status, contentType
}

// MarkScreen says the call's answer is a screenshot: when it succeeds,
// Finish records it as a KindScreen event, not as the call's Response.
func (c *CallRecorder) MarkScreen() {
	if c == nil {
		return
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.screen = true
}

// Write records response bytes as they are sent. It never fails.
func (c *CallRecorder) Write(p []byte) (int, error) {
	if c == nil || len(p) == 0 {
		return len(p), nil
	}
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.done || c.call.ResponseTruncated {
		return len(p), nil
	}
	keep := p
	if !c.screen {
		keep = keep[:min(int64(len(keep)), max(r.opts.MaxResponse-int64(len(c.call.Response)), 0))]
	}
	keep = keep[:r.admitLocked(len(keep))]
	c.call.Response = append(c.call.Response, keep...)
	if len(keep) < len(p) {
		c.call.ResponseTruncated = true
	}
	return len(p), nil
}

// Chunk records bytes that crossed the upgraded connection: from the DUT
// (fromDUT) or from the caller. A secret split across two chunks of one
// direction is redacted: the end of a chunk that could start one waits
// for the next.
func (c *CallRecorder) Chunk(fromDUT bool, p []byte) {
	if c == nil || len(p) == 0 {
		return
	}
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.done || r.stopped || c.call.ResponseTruncated {
		// Past the bound nothing more is kept: the redaction's scan of
		// the rest of a bulk copy would be wasted work.
		return
	}
	s, at := &c.up, &c.upAt
	if fromDUT {
		s, at = &c.down, &c.downAt
	}
	now := r.now()
	t := now
	if len(s.held) > 0 {
		t = *at
	}
	*at = now
	c.chunkLocked(fromDUT, t, r.red.push(s, p))
}

// chunkLocked appends a redacted chunk within the bounds. r.mu held.
func (c *CallRecorder) chunkLocked(fromDUT bool, t Duration, out []byte) {
	if len(out) == 0 || c.call.ResponseTruncated {
		return
	}
	r := c.r
	keep := out[:min(int64(len(out)), max(r.opts.MaxStream-c.streamBytes, 0))]
	keep = keep[:r.admitLocked(len(keep))]
	if len(keep) < len(out) {
		c.call.ResponseTruncated = true
	}
	if len(keep) == 0 {
		return
	}
	c.streamBytes += int64(len(keep))
	c.call.Stream = append(c.call.Stream, Chunk{T: t, FromDUT: fromDUT, Data: keep})
}

// Finish records that the answer is complete: its time, a stream's held
// ends, and a screenshot's event.
func (c *CallRecorder) Finish() {
	if c == nil {
		return
	}
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	c.call.Elapsed = Duration(r.opts.Clock().Sub(c.start))
	c.chunkLocked(false, c.upAt, r.red.flush(&c.up))
	c.chunkLocked(true, c.downAt, r.red.flush(&c.down))
	if c.screen && c.call.Status == 200 && !c.call.ResponseTruncated && len(c.call.Response) > 0 {
		png := c.call.Response
		c.call.Response = nil
		r.used -= int64(len(png)) // screenLocked charges it again
		r.screenLocked(c.call.Seq, png)
	}
}

// Snapshot returns a copy of the recording so far, redacted: safe to
// use while recording goes on. A call still in progress has the answer
// so far and Elapsed until now; console bytes held back because they
// could start a secret are in it (as Redacted when they are minPartial
// bytes or more of one).
func (r *Recorder) Snapshot() *Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &Recording{Header: r.hdr, Events: make([]Event, 0, len(r.entries)+1)}
	rec.Header.Capabilities = slices.Clone(r.hdr.Capabilities)
	now := r.opts.Clock()
	for _, e := range r.entries {
		ev := e.ev
		ev.Data = slices.Clip(ev.Data)
		if ev.Kind == KindConsole || ev.Kind == KindNote {
			// Again: a secret added after these were recorded.
			ev.Data, ev.What = r.red.all(ev.Data), string(r.red.all([]byte(ev.What)))
		}
		if c := e.call; c != nil {
			ev.Call = c.snapshotLocked(now)
		}
		rec.Events = append(rec.Events, ev)
	}
	if len(r.console.held) > 0 && !r.full {
		rec.Events = append(rec.Events, Event{T: r.consoleHeldAt, Kind: KindConsole,
			Data: r.red.all(r.console.held), Offset: r.consoleEnd - int64(len(r.console.held))})
	}
	return rec
}

// snapshotLocked returns a redacted copy of the call. r.mu held.
func (c *CallRecorder) snapshotLocked(now time.Time) *Call {
	red := &c.r.red
	call := c.call
	call.Body = red.all(slices.Clip(call.Body))
	if strings.HasPrefix(call.ContentType, "application/x-ndjson") {
		call.Response = red.frames(slices.Clip(call.Response))
	} else {
		call.Response = red.all(slices.Clip(call.Response))
	}
	call.Stream = slices.Clone(call.Stream)
	for i := range call.Stream { // again: a secret added after they were recorded
		call.Stream[i].Data = red.all(call.Stream[i].Data)
	}
	call.Path, call.Query = string(red.all([]byte(call.Path))), string(red.all([]byte(call.Query)))
	if !c.done {
		call.InProgress = true
		call.Elapsed = Duration(now.Sub(c.start))
		for _, h := range []struct {
			s       *stream
			at      Duration
			fromDUT bool
		}{{&c.up, c.upAt, false}, {&c.down, c.downAt, true}} {
			if len(h.s.held) > 0 {
				call.Stream = append(call.Stream, Chunk{T: h.at, FromDUT: h.fromDUT, Data: red.all(h.s.held)})
			}
		}
	}
	return &call
}
