package worker

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/session"
	"github.com/klauspost/compress/zstd"
)

func (w *Worker) getFlash(rw http.ResponseWriter, r *http.Request) error {
	w.mu.Lock()
	st := w.flash
	w.mu.Unlock()
	if st.State != api.FlashIdle {
		st.DoneBytes = w.flashDone.Load()
	}
	writeJSON(rw, http.StatusOK, st)
	return nil
}

// setFlash records the flash's state for GET /v1/flash. The medium's
// dirty mark is kept across flashes: a failure after writing started sets
// it, a successful flash clears it, anything else leaves it.
func (w *Worker) setFlash(state string, res *api.FlashResult, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dirty := w.flash.Dirty
	var de *image.DirtyError
	switch {
	case state == api.FlashDone:
		dirty = false
	case state == api.FlashFailed && errors.As(err, &de):
		dirty = true
	}
	total := w.flash.TotalBytes
	if state == api.FlashFlashing {
		total = 0
	}
	w.flash = api.FlashStatus{State: state, Result: res, Dirty: dirty, TotalBytes: total}
	if err != nil {
		w.flash.Error = err.Error()
		w.flash.ErrorCode = codeOf(err)
	}
	switch state {
	case api.FlashFailed:
		w.stats.Flashes++
		w.stats.FlashFailures++
	case api.FlashDone:
		w.stats.Flashes++
		if res != nil && res.Duration > 0 {
			w.stats.LastFlashMBps = float64(res.ImageBytes) / res.Duration.Seconds() / 1e6
		}
	}
	w.flashing = state == api.FlashFlashing
}

// setProgress records the running flash's progress: done decompressed
// bytes, read bytes of total, and the rates over the meters' window.
func (w *Worker) setProgress(done, read int64, doneRate, readRate *image.Meter) {
	doneRate.Set(done)
	readRate.Set(read)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flash.State != api.FlashFlashing {
		return
	}
	w.flash.ReadBytes = read
	w.flash.MBps = doneRate.Rate() / 1e6
	w.flash.ETASeconds = 0
	if eta, ok := image.ETA(read, w.flash.TotalBytes, readRate.Rate()); ok {
		w.flash.ETASeconds = eta.Seconds()
	}
	w.recordFlash(session.FlashProgress, done, read, w.flash.TotalBytes)
}

func (w *Worker) putFlash(rw http.ResponseWriter, r *http.Request) error {
	st, ok := dut.As[dut.Storage](w.d, dut.CapStorage)
	if !ok && w.proc == nil {
		return notImplemented(dut.CapStorage)
	}
	want := strings.ToLower(r.URL.Query().Get(api.QuerySHA256))
	if want != "" {
		if b, err := hex.DecodeString(want); err != nil || len(b) != 32 {
			return errorf(api.CodeBadRequest, "worker: sha256=%q is not a hex SHA-256", want)
		}
	}
	encoding, imageSize, err := uploadEncoding(r)
	if err != nil {
		return err
	}
	digest := true
	switch d := r.URL.Query().Get(api.QueryDigest); {
	case d == "0" && want != "":
		return errorf(api.CodeBadRequest, "worker: digest=0 with sha256=: checking the image's SHA-256 needs it computed; drop one of them")
	case d == "0":
		digest = false
	case d != "" && d != "1":
		return errorf(api.CodeBadRequest, "worker: digest=%q: use digest=0 to skip the image's SHA-256, or leave it out", d)
	}
	if !w.flashMu.TryLock() {
		return errorf(api.CodeBusy, "worker: a flash is already running")
	}
	defer w.flashMu.Unlock()
	ctx := r.Context()
	state, err := w.d.State(ctx)
	if err != nil {
		return errorf(api.CodeDeviceError, "worker: reading the power state: %w", err)
	}
	if state == dut.PowerOn {
		return errorf(api.CodePoweredOn, "worker: the DUT is powered on; power it off before flashing")
	}
	body := io.Reader(r.Body)
	total := max(r.ContentLength, 0)
	var commit func() (string, error)
	cached := r.URL.Query().Get(api.QueryCached)
	if cached != "" {
		// Refusals come before the flash starts: the medium is not
		// touched and the flash state is left as it was.
		if w.images == nil {
			return errorf(api.CodeNotFound, "worker: this worker keeps no image cache; send the image")
		}
		f, size, ok, err := w.images.Get(cached)
		if err != nil {
			return errorf(api.CodeBadRequest, "worker: cached=%q: %w", cached, err)
		}
		if !ok {
			return errorf(api.CodeNotFound, "worker: no image %s in the cache; send the image", cached)
		}
		defer f.Close()
		if known, ok := w.images.DecompressedSHA256(cached); ok && want != "" && known != want {
			return errorf(api.CodeChecksumMismatch, "worker: refused before writing: cached image %s decompresses to an image with SHA-256 %s, not the %s asked for", cached, known, want)
		}
		body, total = f, size
	} else {
		if encoding == api.EncodingZstd {
			// A raw image file sent by SparseZstd says so ahead of its
			// frame; it is read without a zstd decoder, which would copy
			// every byte, zeros included, through its window.
			br := bufio.NewReaderSize(body, 64<<10)
			if sr, ok := image.OpenSparseZstd(br); ok {
				body = decodeErrors{sr}
			} else {
				zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxUploadWindow))
				if err != nil {
					return errorf(api.CodeInternal, "worker: starting the upload's zstd decoder: %w", err)
				}
				defer zr.Close()
				body = decodeErrors{zr}
			}
			total = imageSize
		}
		if w.images != nil {
			body, commit = w.images.Tee(body, "")
		}
	}
	w.flashDone.Store(0)
	w.setFlash(api.FlashFlashing, nil, nil)
	w.mu.Lock()
	w.flash.TotalBytes = total
	w.mu.Unlock()
	w.recordFlash(session.FlashStart, 0, 0, total)
	w.log.Info("flash started", "dut", w.d.Name(), "content_length", r.ContentLength, "cached", cached)
	opts := image.Options{
		SHA256: want,
		Digest: digest,
		Verify: r.URL.Query().Get(api.QueryVerify) != "0",
		Delta:  r.URL.Query().Get(api.QueryDelta) == "1",
		Log:    w.log,
	}
	res, err := w.flashTo(ctx, st, body, opts)
	if commit != nil {
		if err == nil {
			io.Copy(io.Discard, body) // whatever follows the image, so the cached copy is the whole upload
		}
		if sum, cerr := commit(); cerr == nil {
			w.log.Info("image cached", "sha256", sum)
			cached = sum
		} else if err == nil {
			w.log.Warn("the upload was not cached", "err", cerr)
		}
	}
	if err != nil {
		w.recordFlashEnd(session.FlashFailed)
		w.setFlash(api.FlashFailed, nil, err)
		w.log.Warn("flash failed", "dut", w.d.Name(), "done_bytes", w.flashDone.Load(), "err", err)
		return err
	}
	if cached != "" && w.images != nil && res.SHA256 != "" {
		// A later flash of this upload that expects another image is
		// refused before writing.
		if nerr := w.images.SetDecompressedSHA256(cached, res.SHA256); nerr != nil {
			w.log.Warn("the image's SHA-256 was not recorded in the cache", "err", nerr)
		}
	}
	w.recordFlashEnd(session.FlashDone)
	w.setFlash(api.FlashDone, &res, nil)
	w.log.Info("flash done", "dut", w.d.Name(), "format", res.Format, "image_bytes", res.ImageBytes,
		"written", res.Written, "duration", res.Duration)
	writeJSON(rw, http.StatusOK, res)
	return nil
}

// decodeErrors marks the errors of the upload's decoder as codingErrors.
type decodeErrors struct{ r io.Reader }

func (d decodeErrors) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = &codingError{err}
	}
	return n, err
}

// codingError is an upload whose Content-Encoding could not be undone: a
// bad request, not a bad image.
type codingError struct{ err error }

func (e *codingError) Error() string {
	return "undoing the upload's Content-Encoding: zstd: " + e.err.Error()
}
func (e *codingError) Unwrap() error { return e.err }

// maxUploadWindow bounds the memory a zstd-encoded upload may ask the
// decoder for (zstd --long uses 128 MiB).
const maxUploadWindow = 128 << 20

// uploadEncoding checks a flash request's Content-Encoding and returns it
// with the image's size once it is undone (0 when not given).
func uploadEncoding(r *http.Request) (string, int64, error) {
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	q := r.URL.Query()
	switch {
	case enc == "" || enc == "identity":
		return "", 0, nil
	case enc != api.EncodingZstd:
		return "", 0, errorf(api.CodeBadRequest, "worker: Content-Encoding %q is not supported: send the image as it is (raw or compressed, the format is detected) or with Content-Encoding: zstd", enc)
	case q.Get(api.QueryCached) != "":
		return "", 0, errorf(api.CodeBadRequest, "worker: Content-Encoding with cached= (a cached flash has no body): drop one of them")
	}
	var size int64
	if s := q.Get(api.QuerySize); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return "", 0, errorf(api.CodeBadRequest, "worker: size=%q is not a size in bytes", s)
		}
		size = n
	}
	return enc, size, nil
}

// flashTo writes the image in body to the DUT's storage, checks its
// digest against want (when set), provisions it and closes the target —
// or, with a procedure, runs the procedure with that as its flash step. A
// failure after writing started leaves the medium marked dirty (the
// error is then an *image.DirtyError).
func (w *Worker) flashTo(ctx context.Context, st dut.Storage, body io.Reader, opts image.Options) (api.FlashResult, error) {
	if w.proc != nil {
		return w.flashByProcedure(ctx, body, opts)
	}
	t, err := st.Open(ctx)
	if err != nil {
		if errors.Is(err, dut.ErrPoweredOn) {
			return api.FlashResult{}, errorf(api.CodePoweredOn, "worker: opening the DUT's storage: %w", err)
		}
		return api.FlashResult{}, errorf(api.CodeDeviceError, "worker: opening the DUT's storage: %w", err)
	}
	res, err := w.writeImage(ctx, t, body, opts)
	if cerr := t.Close(); cerr != nil && err == nil {
		err = errorf(api.CodeDeviceError, "worker: closing the DUT's storage: %w", cerr)
	}
	return res, err
}

// flashByProcedure runs the worker's procedure, its flash step writing
// body. The DUT is off when it returns with an error (the procedure
// powers it off on failure).
func (w *Worker) flashByProcedure(ctx context.Context, body io.Reader, opts image.Options) (api.FlashResult, error) {
	devs := w.procDevs
	if devs.Power == nil {
		devs.Power = w.d
	}
	devs.Power = recordingPower{devs.Power, w}
	if devs.Storage == nil {
		devs.Storage, _ = dut.As[dut.Storage](w.d, dut.CapStorage)
	}
	if devs.Console == nil {
		devs.Console, _ = dut.As[dut.Console](w.d, dut.CapConsole)
	}
	if devs.Relay == nil {
		devs.Relay, _ = dut.As[dut.Relay](w.d, dut.CapRelay)
	}
	devs.Logger = w.log.With("dut", w.d.Name())
	var res api.FlashResult
	written := false
	devs.Flash = func(ctx context.Context, t dut.Target) error {
		if written {
			// A second flash step would find the upload consumed.
			return errors.New("the image was already written by an earlier flash step; a procedure flashes once")
		}
		written = true
		var err error
		res, err = w.writeImage(ctx, t, body, opts)
		return err
	}
	w.log.Info("flashing procedure", "dut", w.d.Name(), "procedure", w.proc.Name, "file", w.proc.File, "steps", len(w.proc.Steps))
	start := time.Now()
	if err := w.proc.Run(ctx, devs); err != nil {
		var se *statusError
		if errors.As(err, &se) {
			// The flash step's own failure keeps its status; the
			// message names the step it failed in.
			return api.FlashResult{}, &statusError{code: se.code, err: err}
		}
		code := api.CodeProcedureFailed
		if ctx.Err() != nil {
			code = api.CodeCanceled
		}
		return api.FlashResult{}, errorf(code, "worker: flashing procedure %q failed (the DUT was powered off): %w", w.proc.Name, err)
	}
	if !written {
		return api.FlashResult{}, errorf(api.CodeInternal, "worker: flashing procedure %q has no flash step; nothing was written", w.proc.Name)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// writeImage writes the image in body to the open target t and
// provisions it; it does not close t.
func (w *Worker) writeImage(ctx context.Context, t dut.Target, body io.Reader, opts image.Options) (api.FlashResult, error) {
	src := &recordingReader{r: body}
	dst := &recordingTarget{Target: t}
	doneRate, readRate := image.NewMeter(0), image.NewMeter(0)
	opts.Progress = func(done int64) {
		w.flashDone.Store(done)
		w.setProgress(done, src.n.Load(), doneRate, readRate)
	}
	res, err := image.Flash(ctx, dst, src, opts)
	var sumErr *image.ChecksumError
	var de *image.DirtyError
	dirty := ""
	if errors.As(err, &de) {
		dirty = "; the target was marked dirty (partition table wiped)"
		if de.MarkErr != nil {
			dirty = fmt.Sprintf("; marking the target dirty failed too: %v", de.MarkErr)
		}
	}
	switch {
	case err == nil:
	case errors.As(err, &sumErr) && sumErr.What == "image":
		err = errorf(api.CodeChecksumMismatch, "worker: flash failed: the decompressed image's SHA-256 is %s but the upload said %s: the image is corrupt or not the one meant%s: %w", sumErr.Got, sumErr.Want, dirty, err)
	case errors.As(err, new(*codingError)):
		err = errorf(api.CodeBadRequest, "worker: flash failed after %d bytes of the image: the upload does not decode%s: %w", src.n.Load(), dirty, err)
	case src.err != nil:
		err = errorf(api.CodeCanceled, "worker: reading the upload after %d bytes: %w", src.n.Load(), err)
	case dst.err != nil:
		err = errorf(api.CodeDeviceError, "worker: writing to the DUT's storage: %w", err)
	case ctx.Err() != nil:
		err = errorf(api.CodeCanceled, "worker: the upload was abandoned: %w", err)
	default:
		err = errorf(imageErrorCode(err), "worker: flash failed: %w", err)
	}
	if err == nil && w.provision != nil {
		if perr := w.provision(ctx, t); errors.Is(perr, errors.ErrUnsupported) {
			// An image the hook cannot configure (no boot partition) is
			// still flashed; it boots with its own settings.
			w.log.Warn("the flashed image was not provisioned", "dut", w.d.Name(), "reason", perr)
		} else if perr != nil {
			// A flashed but unconfigured image must not boot as if it
			// were ready.
			err = errorf(api.CodeInternal, "worker: provisioning the flashed image: %w",
				&image.DirtyError{Err: perr, MarkErr: image.MarkDirty(t, 0)})
		}
	}
	if err != nil {
		return api.FlashResult{}, err
	}
	return api.FlashResult{
		Format:         string(res.Format),
		ImageBytes:     res.ImageBytes,
		Written:        res.Written,
		Skipped:        res.Skipped,
		Unchanged:      res.Unchanged,
		Unmapped:       res.Unmapped,
		SHA256:         res.SHA256,
		Verified:       res.Verified,
		VerifyDuration: res.VerifyDuration,
		Duration:       res.Duration,
	}, nil
}

// imageErrorCode is the code of an image the pipeline refused.
func imageErrorCode(err error) api.ErrorCode {
	switch {
	case errors.Is(err, image.ErrNotDiskImage):
		return api.CodeNotDiskImage
	case errors.Is(err, image.ErrTooLarge):
		return api.CodeImageTooLarge
	}
	return api.CodeBadImage
}

// recordingReader remembers the upload's read error, to tell a broken
// upload from a bad image.
type recordingReader struct {
	r   io.Reader
	n   atomic.Int64 // read by the progress callback
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// recordingTarget remembers the medium's write error, to tell a failing
// medium from a bad image. It keeps the target's Zeroed and Truncate.
type recordingTarget struct {
	dut.Target
	err error
}

// OSFile returns the wrapped target's file when it offers one, so that
// the image's verify can skip a file medium's holes.
func (t *recordingTarget) OSFile() *os.File {
	if f, ok := t.Target.(interface{ OSFile() *os.File }); ok {
		return f.OSFile()
	}
	return nil
}

func (t *recordingTarget) note(err error) error {
	if err != nil && t.err == nil {
		t.err = err
	}
	return err
}

// WriteAt implements io.WriterAt.
func (t *recordingTarget) WriteAt(p []byte, off int64) (int, error) {
	n, err := t.Target.WriteAt(p, off)
	return n, t.note(err)
}

// Sync implements dut.Target.
func (t *recordingTarget) Sync() error { return t.note(t.Target.Sync()) }

// Zeroed implements dut.Zeroed when the wrapped target does.
func (t *recordingTarget) Zeroed() bool {
	z, ok := t.Target.(dut.Zeroed)
	return ok && z.Zeroed()
}

// Truncate sets the size of a file target; other targets ignore it.
func (t *recordingTarget) Truncate(size int64) error {
	if tr, ok := t.Target.(interface{ Truncate(int64) error }); ok {
		return t.note(tr.Truncate(size))
	}
	return nil
}

// Capacity implements image.Capacitor when the wrapped target does, so
// that an image larger than the medium is stopped there.
func (t *recordingTarget) Capacity() int64 {
	if c, ok := t.Target.(image.Capacitor); ok {
		return c.Capacity()
	}
	return 0
}

var (
	_ image.Capacitor = (*recordingTarget)(nil)
	_ dut.Target      = (*recordingTarget)(nil)
	_ dut.Zeroed      = (*recordingTarget)(nil)
)

func (w *Worker) getImage(rw http.ResponseWriter, r *http.Request) error {
	if w.images == nil {
		return errorf(api.CodeNotFound, "worker: this worker keeps no image cache")
	}
	sum := r.PathValue("sha256")
	f, size, ok, err := w.images.Get(sum)
	if err != nil {
		return errorf(api.CodeBadRequest, "worker: %w", err)
	}
	if !ok {
		return errorf(api.CodeNotFound, "worker: no image %s in the cache", sum)
	}
	f.Close()
	writeJSON(rw, http.StatusOK, api.CachedImage{SHA256: sum, Size: size})
	return nil
}
