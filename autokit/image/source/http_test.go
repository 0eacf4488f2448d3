package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testData is the image the test servers serve.
var testData = func() []byte {
	b := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}()

// modTime is a Last-Modified date for ServeContent.
var modTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// seen is what a test server recorded of one request.
type seen struct {
	path, rng, ifRange string
}

// recorder serves requests with h, numbering them from 0, and records
// them.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rc *recorder) requests() []seen {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seen(nil), rc.reqs...)
}

func serve(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) (*httptest.Server, *recorder) {
	t.Helper()
	rc := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, seen{r.URL.Path, r.Header.Get("Range"), r.Header.Get("If-Range")})
		rc.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(srv.Close)
	return srv, rc
}

// cutWriter passes on left body bytes, then drops the connection.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		w.ResponseWriter.Write(p[:w.left])
		w.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	w.left -= len(p)
	return w.ResponseWriter.Write(p)
}

// cut wraps w to drop the connection after n body bytes; n < 0 never.
func cut(w http.ResponseWriter, n int) http.ResponseWriter {
	if n < 0 {
		return w
	}
	return &cutWriter{ResponseWriter: w, left: n}
}

// logWriter sends log lines to t.Logf.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// testOpts are fast options for srv: tiny backoff, logs to t.
func testOpts(t *testing.T, srv *httptest.Server, more ...Option) []Option {
	log := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return append([]Option{WithHTTPClient(srv.Client()), WithBackoff(time.Millisecond, 2*time.Millisecond), WithLogger(log)}, more...)
}

// fullReply writes testData as a 200 with an ETag, claiming range
// support, ignoring any Range header, cut after n bytes (n < 0: never).
func fullReply(w http.ResponseWriter, etag string, n int) {
	w.Header().Set("ETag", etag)
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Length", strconv.Itoa(len(testData)))
	cut(w, n).Write(testData)
}

func TestResume(t *testing.T) {
	tests := []struct {
		name    string
		etag    string    // "" for none
		mod     time.Time // zero for none
		retries int
		cuts    []int // request i is cut after cuts[i] body bytes
		wantIf  string
	}{
		{name: "no break", etag: `"v1"`},
		{name: "one break", etag: `"v1"`, cuts: []int{1000}, wantIf: `"v1"`},
		{name: "three breaks", etag: `"v1"`, cuts: []int{1000, 5000, 1}, wantIf: `"v1"`},
		{name: "break before the first byte", etag: `"v1"`, cuts: []int{0}, wantIf: `"v1"`},
		{name: "breaks without progress up to the limit", etag: `"v1"`, retries: 2, cuts: []int{10, 0}, wantIf: `"v1"`},
		{name: "more breaks than retries, each with progress", etag: `"v1"`, retries: 1, cuts: []int{100, 100, 100}, wantIf: `"v1"`},
		{name: "last-modified only", mod: modTime, cuts: []int{7000}, wantIf: modTime.Format(http.TimeFormat)},
		{name: "weak etag falls back to last-modified", etag: `W/"v1"`, mod: modTime, cuts: []int{7000}, wantIf: modTime.Format(http.TimeFormat)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if tt.etag != "" {
					w.Header().Set("ETag", tt.etag)
				}
				limit := -1
				if n < len(tt.cuts) {
					limit = tt.cuts[n]
				}
				http.ServeContent(cut(w, limit), r, "", tt.mod, bytes.NewReader(testData))
			})
			var opts []Option
			if tt.retries > 0 {
				opts = append(opts, WithRetries(tt.retries))
			}
			src, err := Open(t.Context(), srv.URL+"/img", testOpts(t, srv, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.Size() != int64(len(testData)) {
				t.Errorf("Size() = %d, want %d", src.Size(), len(testData))
			}
			got, err := io.ReadAll(src)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if !bytes.Equal(got, testData) {
				t.Fatalf("read %d bytes that differ from the served %d", len(got), len(testData))
			}
			reqs := rc.requests()
			if len(reqs) != len(tt.cuts)+1 {
				t.Fatalf("%d requests, want %d: %v", len(reqs), len(tt.cuts)+1, reqs)
			}
			off := 0
			for i, r := range reqs {
				wantRange, wantIf := "", ""
				if i > 0 {
					off += tt.cuts[i-1]
					wantRange, wantIf = fmt.Sprintf("bytes=%d-", off), tt.wantIf
				}
				if r.rng != wantRange || r.ifRange != wantIf {
					t.Errorf("request %d: Range %q If-Range %q, want %q %q", i, r.rng, r.ifRange, wantRange, wantIf)
				}
			}
		})
	}
}

// TestResumeRefused covers replies to a resume request that must stop the
// download rather than splice another file's bytes.
func TestResumeRefused(t *testing.T) {
	const first = 1000
	tail := testData[first:]
	partial := func(w http.ResponseWriter, etag, contentRange string, body []byte) {
		w.Header().Set("ETag", etag)
		if contentRange != "" {
			w.Header().Set("Content-Range", contentRange)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body)
	}
	wholeRange := fmt.Sprintf("bytes %d-%d/%d", first, len(testData)-1, len(testData))
	tests := []struct {
		name   string
		resume func(w http.ResponseWriter, r *http.Request) // replies to requests after the first
		want   error
		status int    // for a *StatusError
		say    string // in the message
	}{
		{"server ignores Range", func(w http.ResponseWriter, r *http.Request) { fullReply(w, `"v1"`, -1) },
			ErrNotResumable, 0, "does not support resuming: it answered a request for the bytes from 1000 on with the whole file (200 OK)"},
		{"file changed, If-Range honoured", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"v2"`)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(bytes.Repeat([]byte{1}, len(testData))))
		}, ErrChanged, 0, `ETag was "v1", now "v2"`},
		{"file changed, If-Range ignored", func(w http.ResponseWriter, r *http.Request) { partial(w, `"v2"`, wholeRange, tail) },
			ErrChanged, 0, `ETag was "v1", now "v2"`},
		{"file changed size", func(w http.ResponseWriter, r *http.Request) {
			partial(w, `"v1"`, fmt.Sprintf("bytes %d-%d/%d", first, len(testData), len(testData)+1), append(tail, 0))
		}, ErrChanged, 0, "now 262145"},
		{"206 from the wrong offset", func(w http.ResponseWriter, r *http.Request) {
			partial(w, `"v1"`, fmt.Sprintf("bytes 0-%d/%d", len(testData)-1, len(testData)), testData)
		}, ErrNotResumable, 0, "it sent them from 0"},
		{"206 without Content-Range", func(w http.ResponseWriter, r *http.Request) { partial(w, `"v1"`, "", tail) },
			ErrNotResumable, 0, "bad Content-Range"},
		{"416", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", http.StatusRequestedRangeNotSatisfiable)
		},
			nil, 416, "416 Requested Range Not Satisfiable"},
		{"404 on resume", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			nil, 404, "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 0 {
					fullReply(w, `"v1"`, first)
					return
				}
				tt.resume(w, r)
			})
			src, err := Open(t.Context(), srv.URL, testOpts(t, srv)...)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := io.ReadAll(src)
			if err == nil {
				t.Fatal("ReadAll succeeded")
			}
			t.Log(err)
			if !bytes.Equal(got, testData[:first]) {
				t.Errorf("read %d bytes, want the %d before the break and nothing else", len(got), first)
			}
			var ie *InterruptedError
			if !errors.As(err, &ie) || ie.Offset != first || ie.Size != int64(len(testData)) || ie.Attempts != 1 {
				t.Errorf("error %v is not an InterruptedError at %d of %d after 1 attempt: %+v", err, first, len(testData), ie)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v does not carry the break's cause", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			var se *StatusError
			if tt.status != 0 && (!errors.As(err, &se) || se.StatusCode != tt.status) {
				t.Errorf("error %v is not a StatusError %d", err, tt.status)
			}
			if !strings.Contains(err.Error(), tt.say) {
				t.Errorf("error %q does not say %q", err, tt.say)
			}
			if n := len(rc.requests()); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
			if _, again := src.Read(make([]byte, 10)); again == nil || again.Error() != err.Error() {
				t.Errorf("Read after the failure: %v, want the same error", again)
			}
		})
	}
}

// TestNotResumable covers first replies that rule out resuming: the
// source must fail at the break without asking again.
func TestNotResumable(t *testing.T) {
	tests := []struct {
		name  string
		first func(w http.ResponseWriter, r *http.Request)
		say   string
	}{
		{"no validator", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(cut(w, 500), r, "", time.Time{}, bytes.NewReader(testData))
		}, "no strong ETag or Last-Modified"},
		{"weak etag only", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `W/"v1"`)
			http.ServeContent(cut(w, 500), r, "", time.Time{}, bytes.NewReader(testData))
		}, "no strong ETag or Last-Modified"},
		{"Accept-Ranges: none", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Accept-Ranges", "none")
			w.Header().Set("Content-Length", strconv.Itoa(len(testData)))
			cut(w, 500).Write(testData)
		}, "Accept-Ranges: none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request, n int) { tt.first(w, r) })
			src, err := Open(t.Context(), srv.URL, testOpts(t, srv)...)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := io.ReadAll(src)
			t.Log(err)
			if !errors.Is(err, ErrNotResumable) || !strings.Contains(err.Error(), tt.say) {
				t.Errorf("ReadAll: %v, want ErrNotResumable saying %q", err, tt.say)
			}
			if len(got) != 500 {
				t.Errorf("read %d bytes, want 500", len(got))
			}
			if n := len(rc.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestOpenStatus(t *testing.T) {
	tests := []struct {
		name     string
		fails    int // requests answered with status before success
		status   int
		retries  int
		ok       bool
		requests int
	}{
		{"404", 100, 404, 5, false, 1},
		{"403", 100, 403, 5, false, 1},
		{"503 then success", 2, 503, 5, true, 3},
		{"429 then success", 1, 429, 5, true, 2},
		{"503 retries exhausted", 100, 503, 3, false, 4},
		{"500 no retries", 100, 500, 0, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n < tt.fails {
					http.Error(w, "go away", tt.status)
					return
				}
				fullReply(w, `"v1"`, -1)
			})
			src, err := Open(t.Context(), srv.URL+"/img.raw", testOpts(t, srv, WithRetries(tt.retries))...)
			if n := len(rc.requests()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				src.Close()
				return
			}
			if err == nil {
				src.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status || !strings.Contains(se.Body, "go away") {
				t.Fatalf("error %v is not a StatusError %d with the body", err, tt.status)
			}
			if !strings.Contains(err.Error(), srv.URL+"/img.raw") || !strings.Contains(err.Error(), strconv.Itoa(tt.status)) {
				t.Errorf("error %q does not name the URL and status", err)
			}
		})
	}
}

func TestResumeRetriesExhausted(t *testing.T) {
	srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			fullReply(w, `"v1"`, 1000)
			return
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	src, err := Open(t.Context(), srv.URL, testOpts(t, srv, WithRetries(3))...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = io.ReadAll(src)
	t.Log(err)
	var ie *InterruptedError
	var se *StatusError
	if !errors.As(err, &ie) || ie.Attempts != 3 || ie.Offset != 1000 {
		t.Fatalf("error %v is not an InterruptedError at 1000 after 3 attempts", err)
	}
	if !errors.As(err, &se) || se.StatusCode != 503 || !strings.Contains(err.Error(), "giving up after 3 failed requests") {
		t.Errorf("error %v does not carry the last 503", err)
	}
	if n := len(rc.requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestResumeTransportErrors(t *testing.T) {
	// Requests 1 and 2 are dropped before any header; 3 succeeds.
	srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			fullReply(w, `"v1"`, 1000)
		case 1, 2:
			panic(http.ErrAbortHandler)
		default:
			w.Header().Set("ETag", `"v1"`)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(testData))
		}
	})
	src, err := Open(t.Context(), srv.URL, testOpts(t, srv)...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := io.ReadAll(src)
	if err != nil || !bytes.Equal(got, testData) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
	if n := len(rc.requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestRedirect(t *testing.T) {
	srv, rc := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/latest" {
			http.Redirect(w, r, "/v1.img", http.StatusFound)
			return
		}
		limit := -1
		if n == 1 { // the first request for the image itself
			limit = 3000
		}
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(cut(w, limit), r, "", time.Time{}, bytes.NewReader(testData))
	})
	src, err := Open(t.Context(), srv.URL+"/latest", testOpts(t, srv)...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Name() != srv.URL+"/latest" {
		t.Errorf("Name() = %q", src.Name())
	}
	got, err := io.ReadAll(src)
	if err != nil || !bytes.Equal(got, testData) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
	reqs := rc.requests()
	want := []seen{{"/latest", "", ""}, {"/v1.img", "", ""}, {"/latest", "bytes=3000-", `"v1"`}, {"/v1.img", "bytes=3000-", `"v1"`}}
	if fmt.Sprint(reqs) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", reqs, want)
	}
}

func TestUnknownSize(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
		for p := testData; len(p) > 0; p = p[min(len(p), 50000):] {
			w.Write(p[:min(len(p), 50000)])
			w.(http.Flusher).Flush() // chunked: no Content-Length
		}
	})
	src, err := Open(t.Context(), srv.URL, testOpts(t, srv)...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Size() != -1 {
		t.Errorf("Size() = %d, want -1", src.Size())
	}
	got, err := io.ReadAll(src)
	if err != nil || !bytes.Equal(got, testData) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
}

func TestPassword(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) { http.NotFound(w, r) })
	u := strings.Replace(srv.URL, "http://", "http://user:secret@", 1)
	_, err := Open(t.Context(), u, testOpts(t, srv)...)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open: %v (must fail without showing the password)", err)
	}
}

// TestAbort stops a Read blocked on a server that stalls, by Close and
// by cancelling the context. The server says when it has sent the first
// 100 bytes and holds the connection, and the reply's body says when a
// Read past them has begun, so the abort always meets a blocked Read.
func TestAbort(t *testing.T) {
	tests := []struct {
		name string
		stop func(src Source, cancel context.CancelFunc)
		want func(error) bool
	}{
		{"close", func(src Source, _ context.CancelFunc) { src.Close() }, func(err error) bool { return errors.Is(err, errClosed) }},
		{"cancel", func(_ Source, cancel context.CancelFunc) { cancel() }, func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	const sent = 100
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held := make(chan struct{})
			srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("ETag", `"v1"`)
				w.Header().Set("Content-Length", strconv.Itoa(len(testData)))
				w.Write(testData[:sent])
				w.(http.Flusher).Flush()
				if n == 0 {
					close(held)
				}
				<-r.Context().Done()
			})
			blocked := make(chan struct{})
			client := watchBodies(srv.Client(), sent, sync.OnceFunc(func() { close(blocked) }))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			src, err := Open(ctx, srv.URL, testOpts(t, srv, WithHTTPClient(client))...)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			buf := make([]byte, sent)
			if _, err := io.ReadFull(src, buf); err != nil {
				t.Fatal(err)
			}
			waitFor(t, held, "the server to hold the connection")
			done := make(chan error, 1)
			go func() {
				_, err := src.Read(buf)
				done <- err
			}()
			waitFor(t, blocked, "a Read past the bytes sent")
			tt.stop(src, cancel)
			select {
			case err := <-done:
				t.Log(err)
				if !tt.want(err) {
					t.Errorf("Read: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Read still blocked")
			}
			if _, err := src.Read(buf); err == nil {
				t.Error("Read after the abort succeeded")
			}
		})
	}
}

// watchBodies returns a copy of c whose replies' bodies call reading when
// a Read begins after at bytes were delivered.
func watchBodies(c *http.Client, at int, reading func()) *http.Client {
	inner := c.Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	w := *c
	w.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := inner.RoundTrip(r)
		if err == nil {
			resp.Body = &watchedBody{ReadCloser: resp.Body, at: at, reading: reading}
		}
		return resp, err
	})
	return &w
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// watchedBody is a reply's body that calls reading when a Read begins
// after at bytes were delivered.
type watchedBody struct {
	io.ReadCloser
	at, delivered int
	reading       func()
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if b.delivered >= b.at {
		b.reading()
	}
	n, err := b.ReadCloser.Read(p)
	b.delivered += n
	return n, err
}

// waitFor fails the test unless ch is closed within 5 s.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("waited 5s for %s", what)
	}
}

func TestBackoff(t *testing.T) {
	c := config{minBackoff: 100 * time.Millisecond, maxBackoff: time.Second}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{1000, time.Second},
	}
	for _, tt := range tests {
		if got := c.backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	var o config
	WithBackoff(time.Second, time.Millisecond)(&o)
	if o.minBackoff != time.Second || o.maxBackoff != time.Second {
		t.Errorf("WithBackoff(1s, 1ms) = %v, %v", o.minBackoff, o.maxBackoff)
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in           string
		first, total int64
		ok           bool
	}{
		{"bytes 0-9/10", 0, 10, true},
		{"bytes 100-199/*", 100, -1, true},
		{" bytes 5-5/6 ", 5, 6, true},
		{"bytes 5-4/10", 0, 0, false},
		{"bytes 0-9/9", 0, 0, false},
		{"bytes */10", 0, 0, false},
		{"items 0-9/10", 0, 0, false},
		{"bytes 0-9", 0, 0, false},
		{"bytes -1-9/10", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		first, total, ok := parseContentRange(tt.in)
		if ok != tt.ok || (ok && (first != tt.first || total != tt.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, %v", tt.in, first, total, ok, tt.first, tt.total, tt.ok)
		}
	}
}
