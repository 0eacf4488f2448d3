package testmode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/image/source"
)

// headSize is how much of the upload is read before flashing, to check
// that it is a disk image.
const headSize = 1 << 20

// stream is an opened image: its bytes, its size (0 when unknown) and the
// error of the producer behind a pipe, once it has stopped.
type stream struct {
	r    io.Reader
	size int64
	// close stops the producer and returns its error (nil when it
	// finished, or when close stopped it).
	close func() error
}

// open opens the image source as one stream, without a temporary copy:
// files and URLs through package source, artifacts through an io.Pipe fed
// by the artifact client.
func (o *Options) open(ctx context.Context) (*stream, error) {
	s := o.Source
	switch {
	case s.Path != "" || s.URL != "":
		ref := s.Path
		if s.URL != "" {
			ref = s.URL
		}
		sopts := []source.Option{source.WithLogger(o.Log)}
		if o.HTTPClient != nil {
			sopts = append(sopts, source.WithHTTPClient(o.HTTPClient))
		}
		src, err := source.Open(ctx, ref, sopts...)
		if err != nil {
			return nil, fmt.Errorf("testmode: opening the image %s: %w", s, err)
		}
		return &stream{r: src, size: max(src.Size(), 0), close: func() error { src.Close(); return nil }}, nil
	case s.Artifact != "":
		return o.pipe(ctx, func(ctx context.Context, w io.Writer) error {
			_, err := o.Artifacts.Extract(ctx, s.Artifact, s.Member, w)
			return err
		}), nil
	default:
		owner, repo, _ := strings.Cut(s.Repo, "/")
		return o.pipe(ctx, func(ctx context.Context, w io.Writer) error {
			_, err := o.Artifacts.DownloadByID(ctx, o.GitHub, owner, repo, s.ArtifactID, s.Member, w)
			return err
		}), nil
	}
}

// pipe runs produce in a goroutine writing into a pipe and returns the
// pipe's reading end. The size is unknown: the upload is chunked.
func (o *Options) pipe(ctx context.Context, produce func(context.Context, io.Writer) error) *stream {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	var perr error
	done := make(chan struct{})
	go func() {
		perr = produce(ctx, pw)
		close(done)             // before the reader can see perr
		pw.CloseWithError(perr) // nil: EOF
	}()
	var once sync.Once
	var err error
	return &stream{r: pr, close: func() error {
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
	}}
}

// errStopped closes a pipe whose reader no longer needs the image.
var errStopped = errors.New("testmode: the image is no longer read")

// flash writes the image to the DUT through the worker. When the worker's
// cache holds an upload whose SHA-256 is the image's (a raw image flashed
// before), it flashes that without downloading anything.
func (o *Options) flash(ctx context.Context, c *client.Client) (api.FlashResult, bool, error) {
	fo := api.FlashOptions{SHA256: o.SHA256, NoVerify: o.NoVerify, Delta: o.Delta}
	if o.SHA256 == "" {
		fmt.Fprintf(o.Out, "warning: no sha256 given: the image from %s is not checked against a known digest\n", o.Source)
	} else if _, ok, err := c.CachedImage(ctx, o.SHA256); err == nil && ok {
		fmt.Fprintf(o.Out, "flashing the worker's cached copy of image %s\n", o.SHA256)
		fo.Cached = o.SHA256
		res, err := c.FlashWith(ctx, nil, 0, fo, nil)
		if err == nil {
			o.printFlash(res)
			return res, true, nil
		}
		// The entry may have been evicted meanwhile: send the image.
		o.Log.Info("testmode: flashing the cached image failed; sending it", "err", err)
		fo.Cached = ""
	}

	fmt.Fprintf(o.Out, "flashing %s\n", o.Source)
	st, err := o.open(ctx)
	if err != nil {
		return api.FlashResult{}, false, err
	}
	defer st.close()
	body, err := checkDiskImage(st.r)
	if err != nil {
		if perr := st.close(); perr != nil {
			return api.FlashResult{}, false, o.sourceErr(perr)
		}
		if errors.Is(err, ErrNotDiskImage) {
			return api.FlashResult{}, false, fmt.Errorf("testmode: %s: %w", o.Source, err)
		}
		return api.FlashResult{}, false, o.sourceErr(err)
	}
	p := &progress{w: o.Out, size: st.size, every: 5 * time.Second}
	res, err := c.FlashWith(ctx, body, st.size, fo, p.sent)
	perr := st.close()
	if err != nil {
		// A broken download also breaks the upload: name the cause.
		if perr != nil {
			return res, false, o.sourceErr(perr)
		}
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status == http.StatusUnprocessableEntity && o.SHA256 != "" && strings.Contains(ce.Message, "SHA-256") {
			return res, false, fmt.Errorf("%w: the image from %s is not the one whose SHA-256 was given (%s): %w", ErrChecksumMismatch, o.Source, o.SHA256, err)
		}
		return res, false, fmt.Errorf("testmode: flashing %s: %w", o.Source, err)
	}
	if perr != nil {
		return res, false, o.sourceErr(perr)
	}
	if o.SHA256 != "" && !strings.EqualFold(res.SHA256, o.SHA256) {
		// The worker checks; this guards against one that did not.
		return res, false, fmt.Errorf("%w: the worker flashed an image with SHA-256 %s, want %s", ErrChecksumMismatch, res.SHA256, o.SHA256)
	}
	o.printFlash(res)
	return res, false, nil
}

func (o *Options) sourceErr(err error) error {
	return fmt.Errorf("testmode: reading the image from %s: %w", o.Source, err)
}

func (o *Options) printFlash(res api.FlashResult) {
	verified := "not verified"
	if res.Verified {
		verified = "verified"
	}
	fmt.Fprintf(o.Out, "flashed %s (%s) in %v, %s, sha256 %s\n",
		mib(res.ImageBytes), res.Format, res.Duration.Round(10*time.Millisecond), verified, res.SHA256)
}

// checkDiskImage reads the head of r and checks, after decompression, that
// it starts with a partition table. It returns a reader of all of r.
func checkDiskImage(r io.Reader) (io.Reader, error) {
	head := make([]byte, headSize)
	n, err := io.ReadFull(r, head)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
	case err != nil:
		return nil, err
	}
	head = head[:n]
	if n == 0 {
		return nil, fmt.Errorf("%w: the image is empty", ErrNotDiskImage)
	}
	dr, format, release, err := image.Decompress(bytes.NewReader(head))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotDiskImage, err)
	}
	first := make([]byte, 1024)
	m, _ := io.ReadFull(dr, first) // a cut-off compressed head ends early
	release()
	if !image.IsDiskImage(first[:m]) {
		return nil, fmt.Errorf("%w (%s): no MBR or GPT partition table in the first sectors", ErrNotDiskImage, format)
	}
	return io.MultiReader(bytes.NewReader(head), r), nil
}

// progress prints the bytes sent at most once per interval.
type progress struct {
	w     io.Writer
	size  int64
	every time.Duration
	last  time.Time
}

func (p *progress) sent(n int64) {
	now := time.Now()
	if p.last.IsZero() {
		p.last = now
		return
	}
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	if p.size > 0 {
		fmt.Fprintf(p.w, "  sent %s of %s (%d%%)\n", mib(n), mib(p.size), n*100/p.size)
		return
	}
	fmt.Fprintf(p.w, "  sent %s\n", mib(n))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
