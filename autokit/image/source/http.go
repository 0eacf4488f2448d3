package source

import (
	"context"
	"fmt"
	"github.com/balena/leviathan-action/internal/ctxtime"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// httpSource is an image fetched with GET, resumed with Range requests.
type httpSource struct {
	ctx    context.Context
	cancel context.CancelFunc
	cfg    config
	url    *url.URL
	name   string // url without password

	// What the first reply said.
	size     int64
	etag     string // ETag, weak or strong, or ""
	modified string // Last-Modified, or ""
	noRanges bool   // Accept-Ranges: none

	// Read's state; only Read touches it.
	off      int64 // bytes delivered
	failures int   // failed requests in a row since the last byte
	pending  error // a break seen along with bytes, for the next Read
	err      error // terminal: every later Read returns it

	mu     sync.Mutex // guards body and closed, shared with Close
	body   io.ReadCloser
	closed bool
}

var _ Source = (*httpSource)(nil)

func openHTTP(parent context.Context, u *url.URL, cfg config) (*httpSource, error) {
	ctx, cancel := context.WithCancel(parent)
	s := &httpSource{ctx: ctx, cancel: cancel, cfg: cfg, url: u, name: u.Redacted(), size: -1}
	var last error
	for attempt := 0; attempt <= cfg.retries; attempt++ {
		if attempt > 0 {
			wait := cfg.backoff(attempt)
			cfg.log.Warn("source: retrying", "url", s.name, "attempt", attempt+1, "wait", wait, "err", last)
			if err := ctxtime.Sleep(ctx, wait); err != nil {
				cancel()
				return nil, fmt.Errorf("source: GET %s: %w (after %v)", s.name, err, last)
			}
		}
		resp, err := s.get(0, "")
		if err != nil {
			if ctx.Err() != nil {
				cancel()
				return nil, fmt.Errorf("source: %w", err)
			}
			last = fmt.Errorf("source: %w", err)
			continue
		}
		if resp.StatusCode/100 == 2 && resp.StatusCode != http.StatusPartialContent {
			s.accept(resp)
			return s, nil
		}
		se := statusError(s.name, resp)
		if !se.Temporary() {
			cancel()
			return nil, se
		}
		last = se
	}
	cancel()
	return nil, fmt.Errorf("source: GET %s: giving up after %d attempts: %w", s.name, cfg.retries+1, last)
}

// accept takes the first successful reply.
func (s *httpSource) accept(resp *http.Response) {
	s.size = resp.ContentLength
	s.etag = resp.Header.Get("ETag")
	s.modified = resp.Header.Get("Last-Modified")
	s.noRanges = strings.EqualFold(strings.TrimSpace(resp.Header.Get("Accept-Ranges")), "none")
	s.body = resp.Body
	s.cfg.log.Debug("source: downloading", "url", s.name, "size", s.size, "etag", s.etag, "last_modified", s.modified,
		"accept_ranges", resp.Header.Get("Accept-Ranges"))
}

// get sends a GET, for the bytes from `from` on when ifRange is set.
func (s *httpSource) get(from int64, ifRange string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.url.String(), nil)
	if err != nil {
		return nil, err
	}
	// Offsets must count the bytes on the wire: no transparent gzip.
	req.Header.Set("Accept-Encoding", "identity")
	if ifRange != "" {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(from, 10)+"-")
		req.Header.Set("If-Range", ifRange)
	}
	s.cfg.log.Debug("source: GET", "url", s.name, "range", req.Header.Get("Range"), "if_range", ifRange)
	return s.cfg.client.Do(req)
}

// validator is what If-Range may carry: a strong ETag, else Last-Modified
// (RFC 9110 forbids weak ETags there), or "" when there is neither.
func (s *httpSource) validator() string {
	if s.etag != "" && !strings.HasPrefix(s.etag, "W/") {
		return s.etag
	}
	return s.modified
}

// Read implements io.Reader. A break in the download is resumed here; a
// break that cannot be resumed is an *InterruptedError.
func (s *httpSource) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if s.pending != nil {
			cause := s.pending
			s.pending = nil
			if err := s.resume(cause); err != nil {
				s.err = err
				return 0, err
			}
		}
		body, err := s.current()
		if err != nil {
			s.err = err
			return 0, err
		}
		n, rerr := body.Read(p)
		if n > 0 {
			s.off += int64(n)
			s.failures = 0
		}
		if rerr == nil {
			return n, nil
		}
		if s.size >= 0 && s.off > s.size {
			s.err = fmt.Errorf("source: %s sent %d bytes, more than the %d it announced", s.name, s.off, s.size)
			return n, s.err
		}
		if rerr == io.EOF && (s.size < 0 || s.off == s.size) {
			s.err = io.EOF
			return n, io.EOF
		}
		if err := s.stopped(); err != nil {
			s.err = err
			return n, err
		}
		if rerr == io.EOF {
			rerr = fmt.Errorf("the body ended at byte %d of %d: %w", s.off, s.size, io.ErrUnexpectedEOF)
		}
		s.cfg.log.Warn("source: download broke off", "url", s.name, "offset", s.off, "size", s.size, "err", rerr)
		s.pending = rerr
		if n > 0 {
			return n, nil
		}
	}
}

// current is the body being read, or errClosed.
func (s *httpSource) current() (io.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	return s.body, nil
}

// stopped reports why reading must stop (Close, or the context ended), or
// nil to go on.
func (s *httpSource) stopped() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errClosed
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("source: reading %s stopped at byte %d: %w", s.name, s.off, err)
	}
	return nil
}

// setBody makes b the body being read; false (and b closed) after Close.
func (s *httpSource) setBody(b io.ReadCloser) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		b.Close()
		return false
	}
	if s.body != nil {
		s.body.Close()
	}
	s.body = b
	return true
}

// resume continues the download at s.off after it broke off with cause.
func (s *httpSource) resume(cause error) error {
	s.mu.Lock()
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
	s.mu.Unlock()

	attempts := 0
	fail := func(err error) error {
		s.cfg.log.Warn("source: cannot resume", "url", s.name, "offset", s.off, "err", err)
		return &InterruptedError{URL: s.name, Offset: s.off, Size: s.size, Attempts: attempts, Cause: cause, Err: err}
	}
	if s.noRanges {
		return fail(fmt.Errorf("%w: it sends Accept-Ranges: none", ErrNotResumable))
	}
	validator := s.validator()
	if validator == "" {
		return fail(fmt.Errorf("%w: it gave no strong ETag or Last-Modified to prove the file unchanged", ErrNotResumable))
	}
	last := cause
	for s.failures < s.cfg.retries {
		s.failures++
		attempts++
		wait := s.cfg.backoff(s.failures)
		s.cfg.log.Info("source: resuming", "url", s.name, "offset", s.off, "attempt", attempts, "wait", wait)
		if err := ctxtime.Sleep(s.ctx, wait); err != nil {
			if stop := s.stopped(); stop != nil {
				return stop
			}
			return err
		}
		resp, err := s.get(s.off, validator)
		if err != nil {
			if stop := s.stopped(); stop != nil {
				return stop
			}
			last = err
			continue
		}
		switch resp.StatusCode {
		case http.StatusPartialContent:
			if err := s.checkPartial(resp); err != nil {
				resp.Body.Close()
				return fail(err)
			}
			if !s.setBody(resp.Body) {
				return errClosed
			}
			s.cfg.log.Info("source: resumed", "url", s.name, "offset", s.off)
			return nil
		case http.StatusOK:
			if err := s.changed(resp); err != nil {
				resp.Body.Close()
				return fail(err)
			}
			if s.off == 0 && resp.ContentLength == s.size {
				// Nothing delivered yet: the whole file will do.
				if !s.setBody(resp.Body) {
					return errClosed
				}
				return nil
			}
			resp.Body.Close()
			return fail(fmt.Errorf("%w: it answered a request for the bytes from %d on with the whole file (%s)", ErrNotResumable, s.off, resp.Status))
		default:
			se := statusError(s.name, resp)
			if !se.Temporary() {
				return fail(se)
			}
			last = se
		}
	}
	if s.cfg.retries == 0 {
		return fail(fmt.Errorf("source: retries are disabled: %w", last))
	}
	return fail(fmt.Errorf("source: giving up after %d failed requests in a row: %w", s.failures, last))
}

// checkPartial checks that a 206 reply continues the same file at s.off.
func (s *httpSource) checkPartial(resp *http.Response) error {
	cr := resp.Header.Get("Content-Range")
	start, total, ok := parseContentRange(cr)
	if !ok {
		return fmt.Errorf("%w: its 206 reply has a bad Content-Range %q", ErrNotResumable, cr)
	}
	if start != s.off {
		return fmt.Errorf("%w: asked for the bytes from %d on, it sent them from %d (Content-Range %q)", ErrNotResumable, s.off, start, cr)
	}
	if err := s.changed(resp); err != nil {
		return err
	}
	if s.size >= 0 && total >= 0 && total != s.size {
		return fmt.Errorf("%w: it had %d bytes, now %d (Content-Range %q)", ErrChanged, s.size, total, cr)
	}
	return nil
}

// changed reports, as an ErrChanged error, a reply whose validator or
// size differs from the first reply's.
func (s *httpSource) changed(resp *http.Response) error {
	if s.etag != "" {
		if et := resp.Header.Get("ETag"); et != "" && et != s.etag {
			return fmt.Errorf("%w: its ETag was %s, now %s", ErrChanged, s.etag, et)
		}
	} else if s.modified != "" {
		if lm := resp.Header.Get("Last-Modified"); lm != "" && lm != s.modified {
			return fmt.Errorf("%w: it was last modified %s, now %s", ErrChanged, s.modified, lm)
		}
	}
	if resp.StatusCode == http.StatusOK && s.size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != s.size {
		return fmt.Errorf("%w: it had %d bytes, now %d", ErrChanged, s.size, resp.ContentLength)
	}
	return nil
}

// parseContentRange parses "bytes first-last/total" (total may be "*",
// returned as -1).
func parseContentRange(s string) (first, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	last, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, false
	}
	total = -1
	if size = strings.TrimSpace(size); size != "*" {
		t, err := strconv.ParseInt(size, 10, 64)
		if err != nil || t <= last {
			return 0, 0, false
		}
		total = t
	}
	return first, total, true
}

// Close implements io.Closer. It aborts a Read in progress.
func (s *httpSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.cancel()
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
	return nil
}

// Size implements Source: the first reply's Content-Length, or -1.
func (s *httpSource) Size() int64 { return s.size }

// Name implements Source: the URL without password.
func (s *httpSource) Name() string { return s.name }

// statusError reads the start of a failed reply's body and closes it.
func statusError(name string, resp *http.Response) *StatusError {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{URL: name, StatusCode: resp.StatusCode, Status: resp.Status, Body: string(b)}
}
