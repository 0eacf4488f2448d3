package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Source is an opened image: its bytes, its size and a name for logs.
type Source interface {
	io.ReadCloser
	// Size is the image's size in bytes as known when it was opened, or
	// -1 when unknown (a pipe, a chunked HTTP reply).
	Size() int64
	// Name identifies the image in logs and errors: the path, or the URL
	// with any password removed.
	Name() string
}

// Defaults for the options.
const (
	DefaultRetries    = 5
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// errClosed is returned by Read after Close.
var errClosed = errors.New("source: read after close")

type config struct {
	client     *http.Client
	retries    int
	log        *slog.Logger
	minBackoff time.Duration
	maxBackoff time.Duration
}

// Option tunes Open.
type Option func(*config)

// WithHTTPClient makes Open use c for HTTP(S) URLs. The default client
// follows redirects and waits at most a minute for response headers.
func WithHTTPClient(c *http.Client) Option {
	return func(cf *config) {
		if c != nil {
			cf.client = c
		}
	}
}

// WithRetries sets how many times in a row a failed HTTP request is
// retried (DefaultRetries). A request that brings bytes resets the count.
// Zero never retries; a negative n counts as zero.
func WithRetries(n int) Option {
	return func(cf *config) { cf.retries = max(n, 0) }
}

// WithLogger makes the source log requests, breaks and resumes to l. The
// default is silent.
func WithLogger(l *slog.Logger) Option {
	return func(cf *config) {
		if l != nil {
			cf.log = l
		}
	}
}

// WithBackoff sets the wait before a retry: min before the first, doubling
// up to max (DefaultMinBackoff, DefaultMaxBackoff). A max below min counts
// as min.
func WithBackoff(min, max time.Duration) Option {
	return func(cf *config) {
		cf.minBackoff = fmax(min, 0)
		cf.maxBackoff = fmax(max, cf.minBackoff)
	}
}

func fmax(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// backoff is the wait before retry number n (1-based).
func (c *config) backoff(n int) time.Duration {
	d := c.minBackoff
	for i := 1; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	return min(d, c.maxBackoff)
}

var defaultClient = sync.OnceValue(func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
})

// Open opens the image at ref: an http:// or https:// URL, or else a local
// file path. ctx governs the whole life of the source, including requests
// made during Read to resume a broken download.
func Open(ctx context.Context, ref string, opts ...Option) (Source, error) {
	cfg := config{
		retries:    DefaultRetries,
		log:        slog.New(slog.DiscardHandler),
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.client == nil {
		cfg.client = defaultClient()
	}
	if ref == "" {
		return nil, errors.New("source: no image given (empty path or URL)")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("source: opening %s: %w", ref, err)
	}
	if scheme, _, ok := strings.Cut(ref, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
		switch strings.ToLower(scheme) {
		case "http", "https":
			u, err := url.Parse(ref)
			if err != nil {
				return nil, fmt.Errorf("source: bad image URL: %w", err)
			}
			if u.Host == "" {
				return nil, fmt.Errorf("source: bad image URL %s: no host", u.Redacted())
			}
			return openHTTP(ctx, u, cfg)
		default:
			return nil, fmt.Errorf("source: %q: unsupported URL scheme %q (want a file path, http:// or https://)", ref, scheme)
		}
	}
	return openFile(ctx, ref)
}

// fileSource is a local image file.
type fileSource struct {
	ctx  context.Context
	f    *os.File
	size int64
}

var _ Source = (*fileSource)(nil)

// File is the open image file, for readers that can use random access
// (reading a sparse raw image extent by extent).
func (s *fileSource) File() *os.File { return s.f }

func openFile(ctx context.Context, path string) (*fileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source: opening the image file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("source: opening the image file: %w", err)
	}
	size := int64(-1)
	switch m := st.Mode(); {
	case m.IsDir():
		f.Close()
		return nil, fmt.Errorf("source: %s is a directory, not an image file", path)
	case m.IsRegular():
		size = st.Size()
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0:
		// A block device knows its size through seeking.
		if end, err := f.Seek(0, io.SeekEnd); err == nil {
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				size = end
			}
		}
	}
	return &fileSource{ctx: ctx, f: f, size: size}, nil
}

// Read implements io.Reader. It fails once the context given to Open ends.
func (s *fileSource) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, fmt.Errorf("source: reading %s: %w", s.f.Name(), err)
	}
	n, err := s.f.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("source: reading the image file: %w", err)
	}
	return n, err
}

// Close implements io.Closer.
func (s *fileSource) Close() error { return s.f.Close() }

// Size implements Source.
func (s *fileSource) Size() int64 { return s.size }

// Name implements Source.
func (s *fileSource) Name() string { return s.f.Name() }
