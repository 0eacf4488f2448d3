package cache

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Tee is for streaming an upload into a flash target and the cache at
// once. The returned reader passes r's bytes through unchanged while
// writing them to a temp file; commit then adds them to the cache as Put
// does (checks want when it is not empty, renames the file into place,
// evicts) and returns their SHA-256.
//
// Caching never disturbs the stream: if the temp file cannot be created
// or written, want is malformed, or more than maxBytes pass through, the
// reader goes on passing bytes and only commit reports the error (for the
// last, one wrapping ErrTooLarge).
//
// Call commit exactly once, after the reader has returned io.EOF. commit
// is also the abort path: called before the reader reached the end of r,
// or after a Read of r failed, it removes the temp file, caches nothing
// and returns an error (wrapping ErrNotDrained in the first case); it
// never reads r itself, so it does not block. If commit is never called,
// the temp file is removed once the reader and commit are garbage
// collected, and in any case by the next Open. Nothing is cached without
// a successful commit. Reads after commit pass through without caching.
func (c *Cache) Tee(r io.Reader, want string) (io.Reader, func() (sum string, err error)) {
	t := &teeReader{c: c, r: r, want: want}
	if want != "" {
		t.err = checkSum(want)
	}
	if t.err == nil {
		p, err := c.newPending("tee-*")
		if err != nil {
			t.err = err
		} else {
			t.p = p
			t.cleanup = runtime.AddCleanup(t, (*pending).discard, p)
			t.armed = true
		}
	}
	return t, t.commit
}

// teeReader is the reader returned by Tee.
type teeReader struct {
	c    *Cache
	r    io.Reader
	want string

	mu      sync.Mutex
	p       *pending // nil once caching stopped or finished
	err     error    // why caching stopped
	rerr    error    // first error from r other than io.EOF
	eof     bool     // r returned io.EOF
	done    bool     // commit was called
	cleanup runtime.Cleanup
	armed   bool // cleanup is set
}

var _ io.Reader = (*teeReader)(nil)

// Read implements io.Reader.
func (t *teeReader) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if n > 0 && t.p != nil {
		if werr := t.p.write(b[:n]); werr != nil {
			t.c.log.Debug("cache: tee stops caching", "err", werr)
			t.p.discard()
			t.p = nil
			t.err = werr
		}
	}
	switch {
	case err == io.EOF:
		t.eof = true
	case err != nil && t.rerr == nil:
		t.rerr = err
	}
	return n, err
}

// commit finishes or aborts the tee; see Cache.Tee.
func (t *teeReader) commit() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return "", errors.New("cache: tee: commit called twice")
	}
	t.done = true
	if t.armed {
		t.cleanup.Stop()
	}
	p := t.p
	t.p = nil
	var err error
	switch {
	case t.err != nil:
		err = t.err
	case t.rerr != nil:
		err = fmt.Errorf("cache: tee: source failed, nothing cached: %w", t.rerr)
	case !t.eof:
		err = fmt.Errorf("%w, nothing cached", ErrNotDrained)
	}
	if err != nil {
		if p != nil {
			p.discard()
		}
		return "", err
	}
	sum, _, err := t.c.commit(p, t.want)
	return sum, err
}
