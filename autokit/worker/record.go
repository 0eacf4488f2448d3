package worker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/session"
)

// recording is a lease's session recording (package session) and the
// console follower feeding it. It lives from the lease's start to its
// end; GET /v1/session answers it.
type recording struct {
	leaseID string
	rec     *session.Recorder
	capture *dut.Capture // nil without a console
	stop    context.CancelFunc
	done    chan struct{} // closed when the follower returns
}

// WithSessionLimit bounds each lease's session recording to about n bytes
// of payload (session.DefaultMaxBytes, 64 MiB, by default); see
// session.RecorderOptions.MaxBytes.
func WithSessionLimit(n int64) Option { return func(w *Worker) { w.sessionMax = n } }

// startRecording starts recording lease l, just granted. w.mu held.
func (w *Worker) startRecording(l *lease) *recording {
	var caps []string
	for _, c := range dut.Capabilities(w.d) {
		caps = append(caps, string(c))
	}
	h := session.Header{
		Worker:       w.hostname,
		DUT:          w.d.Name(),
		Capabilities: caps,
		ConsoleStart: l.consoleStart,
	}
	rc := &recording{
		leaseID: l.id,
		rec:     session.NewRecorder(h, session.RecorderOptions{Secrets: []string{w.token, l.id}, MaxBytes: w.sessionMax}),
		done:    make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc.stop = cancel
	if c, ok := dut.As[dut.Console](w.d, dut.CapConsole); ok && c.Log() != nil {
		rc.capture = c.Log()
		go rc.follow(ctx, l.consoleStart)
	} else {
		close(rc.done)
	}
	if old := w.rec.Swap(rc); old != nil {
		old.close()
	}
	return rc
}

// follow records the console from offset off on until ctx ends.
func (rc *recording) follow(ctx context.Context, off int64) {
	defer close(rc.done)
	rc.capture.Follow(ctx, off, writerFunc(func(p []byte) (int, error) {
		rc.rec.Console(off, p)
		off += int64(len(p))
		return len(p), nil
	}))
}

// syncConsole records what the console printed that the follower has not
// yet seen, so that a snapshot holds the console up to now.
func (rc *recording) syncConsole() {
	if rc.capture == nil {
		return
	}
	end := rc.rec.ConsoleEnd()
	rc.rec.Console(end, rc.capture.Since(end))
}

// close stops the follower and the recording.
func (rc *recording) close() {
	rc.stop()
	<-rc.done
	rc.rec.Stop()
}

// stopRecording drops lease l's recording: the lease ended.
func (w *Worker) stopRecording(l *lease) {
	rc := w.rec.Load()
	if rc == nil || (l != nil && rc.leaseID != l.id) {
		return
	}
	if w.rec.CompareAndSwap(rc, nil) {
		rc.close()
	}
}

// recordSecrets has the lease's recording redact the values of env
// (KEY=VALUE pairs a job gives its suites) from now on and in what it
// recorded before: the suites may print them on the console or send them
// in a command. Values under 8 bytes are left: they are no secrets worth
// the name, and redacting "1" or "true" everywhere would ruin the
// recording.
func (w *Worker) recordSecrets(env []string) {
	rc := w.rec.Load()
	if rc == nil {
		return
	}
	var values []string
	for _, kv := range env {
		if _, v, ok := strings.Cut(kv, "="); ok && len(v) >= 8 {
			values = append(values, v)
		}
	}
	if len(values) > 0 {
		rc.rec.AddSecrets(values...)
	}
}

// recordPower records the DUT powered on or off, during a lease.
func (w *Worker) recordPower(on bool) {
	if rc := w.rec.Load(); rc != nil {
		rc.rec.Power(on)
	}
}

// recordFlash records a flash's progress, during a lease.
func (w *Worker) recordFlash(what string, written, read, total int64) {
	if rc := w.rec.Load(); rc != nil {
		rc.rec.Flash(what, written, read, total)
	}
}

// recordFlashEnd records the running flash's end (session.FlashDone or
// FlashFailed) with its last progress. Call it before setFlash, which
// clears the progress.
func (w *Worker) recordFlashEnd(what string) {
	if w.rec.Load() == nil {
		return
	}
	w.mu.Lock()
	read, total := w.flash.ReadBytes, w.flash.TotalBytes
	w.mu.Unlock()
	w.recordFlash(what, w.flashDone.Load(), read, total)
}

// recordingPower records the power switches of a flashing procedure.
type recordingPower struct {
	dut.Power
	w *Worker
}

// On implements dut.Power.
func (p recordingPower) On(ctx context.Context) error {
	err := p.Power.On(ctx)
	if err == nil {
		p.w.recordPower(true)
	}
	return err
}

// Off implements dut.Power.
func (p recordingPower) Off(ctx context.Context) error {
	err := p.Power.Off(ctx)
	if err == nil {
		p.w.recordPower(false)
	}
	return err
}

var _ dut.Power = recordingPower{}

// getSession answers the live lease's recording so far.
func (w *Worker) getSession(rw http.ResponseWriter, r *http.Request) error {
	id := r.Header.Get(api.HeaderLease)
	if sc := scopeOf(r.Context()); !sc.admin {
		id = sc.lease
	}
	rc := w.rec.Load()
	if rc == nil || subtle.ConstantTimeCompare([]byte(id), []byte(rc.leaseID)) != 1 {
		return errorf(api.CodeLeaseStale, "worker: lease %s ended while its session was asked for; fetch the session before releasing the lease", short(id))
	}
	rc.syncConsole()
	var b bytes.Buffer
	if err := session.Encode(&b, rc.rec.Snapshot()); err != nil {
		return errorf(api.CodeInternal, "worker: encoding the session: %w", err)
	}
	rw.Header().Set("Content-Type", api.ContentTypeGzip)
	rw.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	rw.WriteHeader(http.StatusOK)
	rw.Write(b.Bytes())
	return nil
}

// Paths the recording treats apart, from the api patterns.
var (
	heartbeatPrefix, heartbeatSuffix, _ = strings.Cut(api.PathHeartbeat, "{id}")
	suitePrefix, _, _                   = strings.Cut(api.PathTestrunnerSuite, "{name}")
)

// recordCalls records every call that arrives during a lease, except
// heartbeats and the session's own fetch. POST /v1/lease, which starts
// the recording, is its first call. Outside a lease it costs a pointer
// load.
func (w *Worker) recordCalls(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rc := w.rec.Load()
		takesLease := r.Method == "POST" && r.URL.Path == api.PathLease
		if rc == nil && !takesLease || unrecorded(r) {
			next.ServeHTTP(rw, r)
			return
		}
		rec := &recWriter{ResponseWriter: rw}
		if rc != nil {
			rec.begin(rc.rec, r)
		}
		if takesLease {
			// A lease granted starts a recording, and this call in it
			// (see recordLeaseCall); one refused stays in the live one.
			rec.pending = r
			r = r.WithContext(context.WithValue(r.Context(), pendingKey{}, rec))
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &recBody{ReadCloser: r.Body, w: rec}
		}
		defer rec.finish()
		next.ServeHTTP(rec, r)
	})
}

// unrecorded reports whether r is a heartbeat or the session's fetch.
func unrecorded(r *http.Request) bool {
	p := r.URL.Path
	switch r.Method {
	case "POST":
		return strings.HasPrefix(p, heartbeatPrefix) && strings.HasSuffix(p, heartbeatSuffix) && len(p) > len(heartbeatPrefix)+len(heartbeatSuffix)
	case "GET":
		return p == api.PathSession
	}
	return false
}

// pendingKey holds, in the context of POST /v1/lease, the call's
// *recWriter.
type pendingKey struct{}

// recordLeaseCall records the POST /v1/lease being served in ctx as the
// first call of the recording it just started.
func recordLeaseCall(ctx context.Context, rc *recording) {
	if rw, ok := ctx.Value(pendingKey{}).(*recWriter); ok {
		rw.begin(rc.rec, rw.pending)
	}
}

// recWriter records a call's answer as the handler writes it.
type recWriter struct {
	http.ResponseWriter
	call    *session.CallRecorder
	pending *http.Request // a lease call, which may start a recording
	body    []byte        // its body read so far
	wrote   bool
}

// begin starts recording the call of request r in rec (again, for a
// lease call whose lease started a new recording: the last one's ended).
func (rw *recWriter) begin(rec *session.Recorder, r *http.Request) {
	rw.call = rec.StartCall(r.Method, r.URL.Path, r.URL.RawQuery)
	switch p := r.URL.Path; {
	case r.Method == "PUT" && (p == api.PathFlash || strings.HasPrefix(p, suitePrefix)):
		rw.call.OmitBody() // an image or a suite binary: its size only
	case r.Method == "POST" && p == api.PathTestrunner:
		// Its env holds the job's settings for the suites, secrets
		// among them (see recordSecrets): its size only.
		rw.call.OmitBody()
	case r.Method == "GET" && p == api.PathScreen:
		rw.call.MarkScreen()
	}
	rw.call.Body(rw.body)
	rw.pending, rw.body = nil, nil
}

// WriteHeader implements http.ResponseWriter.
func (rw *recWriter) WriteHeader(status int) {
	if !rw.wrote && status >= 200 {
		rw.wrote = true
		rw.call.Respond(status, rw.Header().Get("Content-Type"))
	}
	rw.ResponseWriter.WriteHeader(status)
}

// Write implements http.ResponseWriter.
func (rw *recWriter) Write(p []byte) (int, error) {
	if !rw.wrote {
		rw.wrote = true
		rw.call.Respond(http.StatusOK, rw.Header().Get("Content-Type"))
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.call.Write(p[:n])
	return n, err
}

// Unwrap lets http.ResponseController flush the answer.
func (rw *recWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// Hijack implements http.Hijacker: the call becomes a tunnel, recorded
// as a 101 and its chunks (see recordConn).
func (rw *recWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(rw.ResponseWriter).Hijack()
	if err == nil && !rw.wrote {
		rw.wrote = true
		rw.call.Respond(http.StatusSwitchingProtocols, "")
	}
	return c, brw, err
}

func (rw *recWriter) finish() {
	if !rw.wrote {
		rw.call.Respond(http.StatusOK, rw.Header().Get("Content-Type"))
	}
	rw.call.Finish()
}

// recBody records a request body as the handler reads it.
type recBody struct {
	io.ReadCloser
	w *recWriter
}

func (b *recBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		if b.w.pending != nil && len(b.w.body)+n <= maxJSONBody {
			b.w.body = append(b.w.body, p[:n]...)
		}
		b.w.call.Body(p[:n])
	}
	return n, err
}

// recordConn returns c, the caller's end of a tunnel, recording what
// crosses it in rw's call: what the caller sends as read, what the DUT
// sends as written. Without a recording it returns c.
func recordConn(rw http.ResponseWriter, c net.Conn) net.Conn {
	for {
		switch t := rw.(type) {
		case *recWriter:
			if t.call == nil {
				return c
			}
			return &recConn{Conn: c, call: t.call}
		case interface{ Unwrap() http.ResponseWriter }:
			rw = t.Unwrap()
		default:
			return c
		}
	}
}

// recConn is a tunnel's caller end whose traffic is recorded.
type recConn struct {
	net.Conn
	call *session.CallRecorder
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.call.Chunk(false, p[:n])
	return n, err
}

// Write records the DUT side's bytes before sending them: the caller's
// answer to them can then never be recorded first, and a replay keeps the
// chunks in their causal order. (A failed write is recorded whole.)
func (c *recConn) Write(p []byte) (int, error) {
	c.call.Chunk(true, p)
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection where it can, else closes it.
func (c *recConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
