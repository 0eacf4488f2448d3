package dut

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Capture is an append-only record of console output that readers can
// follow live. The zero value is ready to use. It is safe for concurrent use.
type Capture struct {
	mu      sync.Mutex
	buf     []byte
	changed chan struct{} // closed and replaced on every append
	mirror  io.Writer
}

// SetMirror also writes every appended byte to w (a log file).
func (c *Capture) SetMirror(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mirror = w
}

// Write appends p. It never fails; a failing mirror is dropped.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	if c.mirror != nil {
		if _, err := c.mirror.Write(p); err != nil {
			c.mirror = nil
		}
	}
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	return len(p), nil
}

// Len is the number of bytes captured so far: the offset of the next byte.
func (c *Capture) Len() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.buf))
}

// Since returns a copy of what was captured from offset off on.
func (c *Capture) Since(off int64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off < 0 {
		off = 0
	}
	if off >= int64(len(c.buf)) {
		return nil
	}
	return bytes.Clone(c.buf[off:])
}

// wait returns a channel closed when data beyond off arrives, or nil when it
// already has.
func (c *Capture) wait(off int64) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(c.buf)) > off {
		return nil
	}
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// Follow writes everything from offset off to w, then keeps writing new
// output as it arrives until ctx ends. It returns ctx's error or w's.
func (c *Capture) Follow(ctx context.Context, off int64, w io.Writer) error {
	for {
		if ch := c.wait(off); ch != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ch:
			}
		}
		p := c.Since(off)
		if _, err := w.Write(p); err != nil {
			return err
		}
		off += int64(len(p))
		if f, ok := w.(interface{ Flush() }); ok {
			f.Flush()
		}
	}
}

// Expect waits until output captured from offset off on matches re. It
// returns the offset just past the match and the matched text. When ctx
// ends first the error carries the last lines of output as evidence.
func (c *Capture) Expect(ctx context.Context, off int64, re *regexp.Regexp) (int64, string, error) {
	for {
		p := c.Since(off)
		if loc := re.FindIndex(p); loc != nil {
			return off + int64(loc[1]), string(p[loc[0]:loc[1]]), nil
		}
		ch := c.wait(off + int64(len(p)))
		if ch == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return off, "", &ExpectError{Pattern: re.String(), Tail: c.Tail(20), Err: ctx.Err()}
		case <-ch:
		}
	}
}

// Tail returns the last n lines captured.
func (c *Capture) Tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return TailLines(c.buf, n)
}

// TailLines returns the last n lines of p, without carriage returns.
func TailLines(p []byte, n int) string {
	lines := strings.Split(strings.ReplaceAll(strings.TrimRight(string(p), "\r\n"), "\r", ""), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ExpectError is returned when expected console output did not appear.
type ExpectError struct {
	Pattern string
	Tail    string // the last console lines, as evidence
	Err     error
}

func (e *ExpectError) Error() string {
	return fmt.Sprintf("dut: console never printed %q: %v; last console lines:\n%s", e.Pattern, e.Err, e.Tail)
}

func (e *ExpectError) Unwrap() error { return e.Err }
