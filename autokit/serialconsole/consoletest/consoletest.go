package consoletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Options tune ConformanceWith.
type Options struct {
	// Peer is the DUT's end of the line: what Peer writes, the console
	// must capture; what the console writes, Peer must read. Nil when a
	// test cannot reach the other end.
	Peer io.ReadWriter
	// Wake makes the DUT print on its own (QemuKit: power it on). The
	// suite calls it once, after noting the capture's length, when Peer is
	// nil. It may be nil when Peer is set.
	Wake func(ctx context.Context) error
	// Timeout bounds each wait for output to arrive; 30 s when 0.
	Timeout time.Duration
	// Prompt bounds how long Expect may overrun its context; 1 s when 0.
	Prompt time.Duration
}

// Conformance checks c against the dut.Console contract, driving the
// other end of the line through peer. It runs its checks as subtests, in
// order, on the same c.
func Conformance(t *testing.T, c dut.Console, peer io.ReadWriter) {
	t.Helper()
	ConformanceWith(t, c, Options{Peer: peer})
}

// ConformanceWith is Conformance with options.
func ConformanceWith(t *testing.T, c dut.Console, o Options) {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Prompt == 0 {
		o.Prompt = time.Second
	}
	s := &suite{c: c, o: o}
	if o.Peer != nil {
		s.rd = newReader(o.Peer)
	}
	t.Run("Log", s.checkLog)
	if s.log = c.Log(); s.log == nil {
		t.FailNow()
	}
	t.Run("ExpectLater", s.checkExpectLater)
	t.Run("AppendOnly", s.checkAppendOnly)
	t.Run("Write", s.checkWrite)
	t.Run("ExpectTimeout", s.checkExpectTimeout)
}

// suite is one run of the conformance checks, on one console.
type suite struct {
	c   dut.Console
	o   Options
	rd  *reader      // what the peer reads; nil without a peer
	log *dut.Capture // c.Log(), once checkLog passed
}

// wait is a context for one wait for output, cancelled when t ends.
func (s *suite) wait(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), s.o.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// token is text no console prints by chance, naming what it is for.
func token(what string) string {
	return fmt.Sprintf("consoletest-%s-%d", what, time.Now().UnixNano())
}

// checkLog checks that Log returns a capture, the same one every time.
func (s *suite) checkLog(t *testing.T) {
	l := s.c.Log()
	if l == nil {
		t.Fatal("Log() = nil")
	}
	if again := s.c.Log(); again != l {
		t.Fatalf("Log() returned %p, then %p; want the same capture", l, again)
	}
}

// checkExpectLater checks that Expect waits for text printed after it
// was called (by the peer, or by the DUT once woken) and reports where
// the match ends.
func (s *suite) checkExpectLater(t *testing.T) {
	ctx := s.wait(t)
	log := s.log
	off := log.Len()
	var re *regexp.Regexp
	switch {
	case s.o.Peer != nil:
		tok := token("later")
		re = regexp.MustCompile(regexp.QuoteMeta(tok))
		go func() {
			time.Sleep(50 * time.Millisecond)
			s.o.Peer.Write([]byte(tok + "\r\n"))
		}()
	case s.o.Wake != nil:
		re = regexp.MustCompile(`[[:alnum:]]`)
		if err := s.o.Wake(ctx); err != nil {
			t.Fatalf("Wake: %v", err)
		}
	default:
		t.Skip("no peer and no Wake: nothing makes the DUT print")
	}
	end, match, err := log.Expect(ctx, off, re)
	if err != nil {
		t.Fatalf("Expect(%d, %q): %v", off, re, err)
	}
	if !re.MatchString(match) {
		t.Errorf("Expect(%d, %q) matched %q", off, re, match)
	}
	if end <= off || end > log.Len() {
		t.Errorf("Expect(%d, %q) returned offset %d; want one in (%d, %d]", off, re, end, off, log.Len())
	}
	if got := log.Since(end - int64(len(match))); !bytes.HasPrefix(got, []byte(match)) {
		t.Errorf("Since(%d) = %q; want it to start with the match %q", end-int64(len(match)), clip(got), match)
	}
}

// checkAppendOnly checks that the capture only grows: what Since
// returned stays, and Since(n) is exactly what was appended after n.
func (s *suite) checkAppendOnly(t *testing.T) {
	log := s.log
	n := log.Len()
	before := log.Since(0)
	if int64(len(before)) < n {
		t.Fatalf("Since(0) holds %d bytes after Len() = %d", len(before), n)
	}
	if p := log.Since(log.Len() + 1); len(p) != 0 {
		t.Errorf("Since(past the end) = %q; want nothing", clip(p))
	}
	tok := s.appendSome(t, n)
	m := log.Len()
	if m < n {
		t.Fatalf("Len() went from %d down to %d", n, m)
	}
	after := log.Since(0)
	if !bytes.HasPrefix(after, before) {
		t.Fatalf("Since(0) changed what it had returned: was %d bytes, now %d not starting with them", len(before), len(after))
	}
	if since := log.Since(n); !bytes.Equal(since, after[n:]) {
		t.Errorf("Since(%d) = %q; want %q, what was appended", n, clip(since), clip(after[n:]))
	}
	if tok != "" && !bytes.Contains(log.Since(n), []byte(tok)) {
		t.Errorf("Since(%d) = %q; want it to hold %q", n, clip(log.Since(n)), tok)
	}
}

// appendSome makes the capture grow past offset n: the peer prints a
// token, returned once the capture holds it. Without a peer it lets
// whatever the DUT prints arrive and returns "".
func (s *suite) appendSome(t *testing.T, n int64) string {
	if s.o.Peer == nil {
		time.Sleep(200 * time.Millisecond) // let whatever the DUT prints arrive
		return ""
	}
	tok := token("append")
	if _, err := s.o.Peer.Write([]byte(tok)); err != nil {
		t.Fatalf("peer: writing: %v", err)
	}
	if _, _, err := s.log.Expect(s.wait(t), n, regexp.MustCompile(regexp.QuoteMeta(tok))); err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkWrite checks that what is written to the console reaches the peer.
func (s *suite) checkWrite(t *testing.T) {
	if s.rd == nil {
		t.Skip("no peer: nothing reads the other end of the line")
	}
	tok := token("write")
	n, err := s.c.Write([]byte(tok))
	if err != nil || n != len(tok) {
		t.Fatalf("Write(%q) = %d, %v; want %d, nil", tok, n, err, len(tok))
	}
	if err := s.rd.await(s.wait(t), tok); err != nil {
		t.Fatal(err)
	}
}

// never is text no console prints.
var never = regexp.MustCompile(`consoletest-never-[0-9]{40}`)

// checkExpectTimeout checks that Expect of text never printed ends
// promptly with its context: past a deadline, and when cancelled.
func (s *suite) checkExpectTimeout(t *testing.T) {
	s.checkExpectDeadline(t)
	s.checkExpectCancelled(t)
}

// checkExpectDeadline checks that Expect past its context's deadline
// fails within o.Prompt with a *dut.ExpectError wrapping
// context.DeadlineExceeded, at the offset it started from.
func (s *suite) checkExpectDeadline(t *testing.T) {
	const d = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	off := s.log.Len()
	start := time.Now()
	got, _, err := s.log.Expect(ctx, off, never)
	if took := time.Since(start); took > d+s.o.Prompt {
		t.Errorf("Expect with a %v context took %v; want at most %v", d, took, d+s.o.Prompt)
	}
	var ee *dut.ExpectError
	if !errors.As(err, &ee) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Expect of text never printed = %v; want a *dut.ExpectError wrapping context.DeadlineExceeded", err)
	}
	if got != off {
		t.Errorf("Expect that failed returned offset %d; want %d, where it started", got, off)
	}
}

// checkExpectCancelled checks that Expect with a cancelled context fails
// within o.Prompt with an error wrapping context.Canceled.
func (s *suite) checkExpectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if _, _, err := s.log.Expect(ctx, s.log.Len(), never); !errors.Is(err, context.Canceled) {
		t.Errorf("Expect with a cancelled context = %v; want an error wrapping context.Canceled", err)
	}
	if took := time.Since(start); took > s.o.Prompt {
		t.Errorf("Expect with a cancelled context took %v; want at most %v", took, s.o.Prompt)
	}
}

// reader collects what the peer reads until it fails (the test closes it).
type reader struct {
	mu   sync.Mutex
	buf  []byte
	more chan struct{} // closed and replaced on every read
	err  error
}

func newReader(r io.Reader) *reader {
	rd := &reader{more: make(chan struct{})}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			rd.mu.Lock()
			rd.buf = append(rd.buf, b[:n]...)
			if err != nil {
				rd.err = err
			}
			close(rd.more)
			rd.more = make(chan struct{})
			rd.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return rd
}

// await waits until the peer has read s.
func (rd *reader) await(ctx context.Context, s string) error {
	for {
		rd.mu.Lock()
		got, more, rerr := bytes.Contains(rd.buf, []byte(s)), rd.more, rd.err
		tail := clip(rd.buf)
		rd.mu.Unlock()
		switch {
		case got:
			return nil
		case rerr != nil:
			return fmt.Errorf("peer: reading: %w; it never read %q, only %q", rerr, s, tail)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("peer never read %q: %w; it read %q", s, ctx.Err(), tail)
		case <-more:
		}
	}
}

// clip keeps the end of p short enough for a message.
func clip(p []byte) []byte {
	if len(p) > 200 {
		return p[len(p)-200:]
	}
	return p
}
