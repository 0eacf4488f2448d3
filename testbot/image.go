package testbot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/image/source"
)

// Image is where the image to flash comes from.
type Image interface {
	// String names the image in progress lines and errors; it holds no
	// secret (a URL's credentials and query are dropped).
	String() string
	// Open starts reading the image as published (raw or compressed).
	Open(ctx context.Context) (*Stream, error)
}

// Stream is an opened image.
type Stream struct {
	// R reads the image's bytes.
	R io.Reader
	// Size is the image's size in bytes, 0 when unknown (the upload is
	// then chunked).
	Size int64
	// Close stops reading and returns the producer's error: nil when it
	// finished, or when Close stopped it.
	Close func() error
}

// Ref is an image file or an http(s) URL, read with package source (a
// broken download resumes with Range requests).
type Ref struct {
	// Ref is the path or URL.
	Ref string
	// HTTPClient fetches URLs (package source's default when nil).
	HTTPClient *http.Client
	// Log receives the source's debug logs; silent when nil.
	Log *slog.Logger
}

// String is the path, or the URL without credentials and query.
func (r Ref) String() string { return RedactURL(r.Ref) }

// Open opens the file or starts the download.
func (r Ref) Open(ctx context.Context) (*Stream, error) {
	var opts []source.Option
	if r.Log != nil {
		opts = append(opts, source.WithLogger(r.Log))
	}
	if r.HTTPClient != nil {
		opts = append(opts, source.WithHTTPClient(r.HTTPClient))
	}
	src, err := source.Open(ctx, r.Ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("testbot: opening the image %s: %w", r, err)
	}
	return &Stream{R: src, Size: max(src.Size(), 0), Close: func() error { src.Close(); return nil }}, nil
}

// Pipe is an image produced by a function writing into a pipe (an
// artifact extracted as it downloads); its size is unknown.
type Pipe struct {
	// Name names the image.
	Name string
	// Produce writes the image to w.
	Produce func(ctx context.Context, w io.Writer) error
}

func (p Pipe) String() string { return p.Name }

// errStopped closes a pipe whose reader no longer needs the image.
var errStopped = errors.New("testbot: the image is no longer read")

// Open runs Produce in a goroutine and returns the pipe's reading end.
func (p Pipe) Open(ctx context.Context) (*Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	var perr error
	done := make(chan struct{})
	go func() {
		perr = p.Produce(ctx, pw)
		close(done)             // before the reader can see perr
		pw.CloseWithError(perr) // nil: EOF
	}()
	var once sync.Once
	var err error
	return &Stream{R: pr, Close: func() error {
		once.Do(func() {
			select {
			case <-done: // it stopped by itself: its error stands
				err = perr
			default: // stopped here: what it says next is a consequence
				pr.CloseWithError(errStopped)
				cancel()
				<-done
			}
			cancel()
		})
		return err
	}}, nil
}

// CheckFile fails early, before any DUT is touched, when the image file
// at path is missing, is not a regular file or holds no disk image (after
// decompression). It returns the image's format.
func CheckFile(path string) (image.Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("testbot: image %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return "", fmt.Errorf("testbot: image %s: %w", path, err)
	case fi.IsDir():
		return "", fmt.Errorf("testbot: image %s is a directory; give the image file", path)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("testbot: image %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	_, format, err := image.CheckHead(f)
	if err != nil {
		return format, fmt.Errorf("testbot: image %s: %w", path, err)
	}
	return format, nil
}

// RedactURL drops a URL's password and query (signed URLs carry secrets
// there); anything else is returned as it is.
func RedactURL(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 && strings.Contains(s, "://") {
		s = s[:i]
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			rest = rest[at+1:]
		}
		return scheme + "://" + rest
	}
	return s
}
