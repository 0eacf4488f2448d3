package testbot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/suites/gotest"
)

// prepare starts Options.Prepare in the background (or hands the Plan
// over). plan waits for it; wait, deferred, stops it when the run ends
// first.
func (r *run) prepare(ctx context.Context) (plan func() (*Plan, error), wait func()) {
	if r.o.Plan != nil {
		return func() (*Plan, error) { return r.o.Plan, nil }, func() {}
	}
	type prepared struct {
		p   *Plan
		err error
	}
	ch := make(chan prepared, 1)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p, err := r.o.Prepare(pctx)
		if err == nil && len(p.Direct) > 0 {
			// Found now, the converter the suites run under does not
			// delay the first test once the DUT is up.
			_, err = gotest.FindTest2JSON()
		}
		ch <- prepared{p, err}
	}()
	plan = func() (*Plan, error) {
		got := <-ch
		return got.p, got.err
	}
	return plan, func() { cancel(); <-done }
}

// lease checks the worker's health and takes a lease unless the options
// carry one. The returned context ends with ErrLeaseLost when a lease
// taken here is lost. release, deferred with the run's error, powers the
// DUT off after a failure and releases a lease taken here.
func (r *run) lease(ctx context.Context) (context.Context, func(context.Context, error) error, error) {
	o := r.o
	nop := func(context.Context, error) error { return nil }
	admin, err := client.New(o.WorkerURL, client.WithToken(o.Token), client.WithLease(o.Lease))
	if err != nil {
		return ctx, nop, fmt.Errorf("testbot: %w", err)
	}
	h, err := admin.Health(ctx)
	if err != nil {
		return ctx, nop, fmt.Errorf("testbot: asking the worker for its health: %w", err)
	}
	if !h.OK {
		return ctx, nop, fmt.Errorf("testbot: the worker reports a problem with DUT %s: %s", h.DUT, h.Problem)
	}
	var held *client.Held
	if o.Lease == "" {
		held, ctx, err = admin.Hold(ctx, o.LeaseOwner, o.LeaseTTL, 0)
		if err != nil {
			return ctx, nop, fmt.Errorf("testbot: leasing the DUT: %w", err)
		}
		o.Lease = held.Lease.ID
		r.c = held.Client
		fmt.Fprintf(o.Out, "leased DUT %s\n", h.DUT)
	} else {
		r.c = admin
	}
	release := func(ctx context.Context, runErr error) error {
		if runErr != nil {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := r.c.PowerOff(pctx); err != nil {
				o.Log.Warn("testbot: powering the DUT off after a failure", "err", err)
				fmt.Fprintf(o.Out, "testbot: could not power the DUT off: %v\n", err)
			}
		}
		if held == nil {
			return nil
		}
		if err := held.Release(ctx); err != nil {
			return fmt.Errorf("testbot: releasing the DUT's lease: %w", err)
		}
		return nil
	}
	return ctx, release, nil
}

// serialEnd is the console log's end now: what the DUT prints from here
// on belongs to this run.
func (r *run) serialEnd(ctx context.Context) int64 {
	_, end, err := r.c.SerialLog(ctx, 1<<62)
	if err != nil {
		r.o.Log.Warn("testbot: reading the console's end", "err", err)
		return 0
	}
	return end
}

// keepSerial writes the console from mark on to serial.log, even after
// the run was cancelled.
func (r *run) keepSerial(ctx context.Context, mark int64) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	b, _, err := r.c.SerialLog(sctx, mark)
	if err != nil {
		r.o.Log.Warn("testbot: reading the console for serial.log", "err", err)
		return
	}
	if err := os.WriteFile(filepath.Join(r.o.ReportDir, "serial.log"), b, 0o644); err != nil {
		r.o.Log.Warn("testbot: writing serial.log", "err", err)
	}
}

// flash writes the image to the DUT through the worker: the worker's
// cached copy when it holds one with the image's SHA-256, otherwise the
// image as it streams from its source, after its head was checked.
func (r *run) flash(ctx context.Context) error {
	o := r.o
	fo := api.FlashOptions{SHA256: o.SHA256, NoVerify: o.NoVerify, Delta: o.Delta}
	if o.SHA256 == "" {
		fmt.Fprintf(o.Out, "warning: no sha256 given: the image from %s is not checked against a known digest\n", o.Image)
	} else if res, ok := r.flashCached(ctx, fo); ok {
		r.res.Flash, r.res.Cached = res, true
		return nil
	}
	fmt.Fprintf(o.Out, "flashing %s\n", o.Image)
	st, err := o.Image.Open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	body, format, err := image.CheckHead(st.R)
	if err != nil {
		if perr := st.Close(); perr != nil {
			return r.sourceErr(perr)
		}
		if errors.Is(err, image.ErrNotDiskImage) {
			return fmt.Errorf("testbot: %s: %w", o.Image, err)
		}
		return r.sourceErr(err)
	}
	p := newSendProgress(o.Out, st.Size)
	upload, size, sent := body, st.Size, p.sent
	var later *laterDigest
	if f, ok := st.R.(interface{ File() *os.File }); ok && format == image.Raw && st.Size > 0 {
		// A raw image file is sent without its zeros: holes and blocks
		// of zeros go as zstd run-length blocks, which the worker
		// undoes; its data is read once and not compressed.
		upload, size, sent = image.NewSparseZstd(f.File(), st.Size, p.sent), 0, nil
		fo.Encoding, fo.ImageSize = api.EncodingZstd, st.Size
		if o.SHA256 == "" {
			// Its SHA-256 is computed here, while the DUT boots, instead
			// of in the worker's pipeline, where it would be the slowest
			// stage; a given SHA-256 is still checked by the worker.
			if later, err = keepForDigest(f.File(), st.Size); err != nil {
				return r.sourceErr(err)
			}
			fo.NoDigest = true
		}
	}
	res, err := r.c.FlashWith(ctx, upload, size, fo, sent)
	p.done()
	perr := st.Close()
	r.res.Flash = res
	if later != nil {
		if err == nil && perr == nil {
			r.digest = later.start(ctx)
		} else {
			later.f.Close()
		}
	}
	switch {
	case err != nil && perr != nil: // a broken download breaks the upload: name the cause
		return r.sourceErr(perr)
	case err != nil && o.SHA256 != "" && client.IsCode(err, api.CodeChecksumMismatch):
		return fmt.Errorf("%w: the image from %s is not the one whose SHA-256 was given (%s): %w", ErrChecksumMismatch, o.Image, o.SHA256, err)
	case err != nil:
		return fmt.Errorf("testbot: flashing %s: %w", o.Image, err)
	case perr != nil:
		return r.sourceErr(perr)
	case o.SHA256 != "" && !strings.EqualFold(res.SHA256, o.SHA256):
		// The worker checks; this guards against one that did not.
		return fmt.Errorf("%w: the worker flashed an image with SHA-256 %s, want %s", ErrChecksumMismatch, res.SHA256, o.SHA256)
	}
	r.printFlash(res)
	return nil
}

// laterDigest is a raw image file kept open after its flash, to be hashed
// while the DUT boots: off the flash's path, where the hash would take a
// core from the flash and from the DUT's start. The file's identity when
// the flash began is kept too: if the file changes before it is hashed,
// the digest would not be the flashed image's, and none is given.
type laterDigest struct {
	f    *os.File
	size int64
	id   fileID
}

// fileID is what tells that a file's content may have changed: a write
// moves its modification time. (Device and inode cannot change: the file
// is read through its own descriptor.) Its change time is left out: it
// moves too when the file is only renamed over or unlinked (a build
// putting a new image in its place), which leaves this file's content as
// it was.
type fileID struct {
	size  int64
	mtime syscall.Timespec
}

func statID(f *os.File) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, fmt.Errorf("reading the state of %s: %w", f.Name(), err)
	}
	return fileID{st.Size, st.Mtim}, nil
}

// keepForDigest opens a second descriptor of f (the image source closes
// its own when the flash ends) and notes f's identity.
func keepForDigest(f *os.File, size int64) (*laterDigest, error) {
	id, err := statID(f)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("keeping %s open: %w", f.Name(), err)
	}
	syscall.CloseOnExec(fd)
	return &laterDigest{f: os.NewFile(uintptr(fd), f.Name()), size: size, id: id}, nil
}

// start hashes the file in the background; the function it returns waits
// for the hex SHA-256 (once: imageDigest drops it after the call).
func (l *laterDigest) start(ctx context.Context) func() (string, error) {
	type result struct {
		sum string
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer l.f.Close()
		sum, err := image.FileSHA256(ctx, l.f, l.size)
		if err == nil {
			err = l.unchanged()
		}
		done <- result{sum, err}
	}()
	return func() (string, error) {
		r := <-done
		return r.sum, r.err
	}
}

// unchanged fails when the file is not as it was when the flash began.
func (l *laterDigest) unchanged() error {
	id, err := statID(l.f)
	if err != nil {
		return err
	}
	if id != l.id {
		return fmt.Errorf("%s changed after the flash began (its size or modification time is not the same), so its SHA-256 now is not the flashed image's", l.f.Name())
	}
	return nil
}

// imageDigest waits for the SHA-256 computed while the DUT booted, if
// any, and records it in the result; without it the run goes on, with a
// warning: the tests ran on the image flashed either way.
func (r *run) imageDigest() {
	if r.digest == nil {
		return
	}
	sum, err := r.digest()
	r.digest = nil
	if err != nil {
		fmt.Fprintf(r.o.Out, "warning: the image's SHA-256 is not known: %v\n", err)
		return
	}
	r.res.Flash.SHA256 = sum
	fmt.Fprintf(r.o.Out, "image %s: sha256 %s\n", r.o.Image, sum)
}

// flashCached flashes the worker's cached copy of the image, when it has
// one; ok is false when it has none or the entry went meanwhile.
func (r *run) flashCached(ctx context.Context, fo api.FlashOptions) (api.FlashResult, bool) {
	if _, ok, err := r.c.CachedImage(ctx, fo.SHA256); err != nil || !ok {
		return api.FlashResult{}, false
	}
	fmt.Fprintf(r.o.Out, "flashing the worker's cached copy of image %s\n", fo.SHA256)
	fo.Cached = fo.SHA256
	res, err := r.c.FlashWith(ctx, nil, 0, fo, nil)
	if err != nil {
		// The entry may have been evicted meanwhile: send the image.
		r.o.Log.Info("testbot: flashing the cached image failed; sending it", "err", err)
		return api.FlashResult{}, false
	}
	r.printFlash(res)
	return res, true
}

func (r *run) sourceErr(err error) error {
	return fmt.Errorf("testbot: reading the image from %s: %w", r.o.Image, err)
}

func (r *run) printFlash(res api.FlashResult) {
	verified := "not verified"
	if res.Verified {
		verified = "verified"
	}
	rate := 0.0
	if s := res.Duration.Seconds(); s > 0 {
		rate = float64(res.ImageBytes) / 1e6 / s
	}
	sum := "sha256 " + res.SHA256
	if res.SHA256 == "" && r.digest != nil {
		sum = "sha256 computed while the DUT boots"
	}
	fmt.Fprintf(r.o.Out, "flashed %s: %s (%s) in %v, %.0f MB/s, %s of zeros skipped, %s, %s\n",
		r.o.Image, mib(res.ImageBytes), res.Format, res.Duration.Round(10*time.Millisecond), rate,
		mib(res.Skipped), verified, sum)
}

// boot powers the DUT on and waits until it runs commands, showing the
// console's latest line meanwhile. The worker fails fast on a kernel
// panic; its error carries the last console lines.
func (r *run) boot(ctx context.Context, mark int64) error {
	o := r.o
	fmt.Fprintf(o.Out, "booting the DUT (timeout %v)\n", o.BootTimeout)
	start := time.Now()
	r.at.powerOn = start
	if err := r.c.PowerOn(ctx); err != nil {
		return fmt.Errorf("testbot: powering the DUT on: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := r.c.WaitOnline(wctx, o.BootTimeout); done <- err }()
	// The console is read often enough to time the boot's stages; the
	// status line is redrawn on a terminal and printed now and then
	// otherwise.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	status := newStatusLine(o.Out, 10*time.Second)
	marks := &bootMarks{t: &r.res.Timings}
	line := ""
	for {
		select {
		case err := <-done:
			status.clear()
			if err != nil {
				return bootErr(ctx, err)
			}
			r.res.Boot = time.Since(start)
			r.lastConsoleLine(ctx, mark, line, marks, r.res.Boot)
			r.res.Timings.Boot = r.res.Boot
			fmt.Fprintf(o.Out, "DUT online after %v\n", r.res.Boot.Round(10*time.Millisecond))
			return nil
		case <-tick.C:
			at := time.Since(start)
			line, mark = r.lastConsoleLine(ctx, mark, line, marks, at)
			status.show(fmt.Sprintf("  booting %4.0fs  %s", at.Seconds(), line))
		}
	}
}

// lastConsoleLine returns the last line the console printed since mark
// (or line when it printed none), cut to 60 characters, and the new mark;
// marks sees what was printed, at (since power-on).
func (r *run) lastConsoleLine(ctx context.Context, mark int64, line string, marks *bootMarks, at time.Duration) (string, int64) {
	b, end, err := r.c.SerialLog(ctx, mark)
	if err != nil {
		return line, mark
	}
	marks.saw(b, at)
	if last := strings.TrimSpace(dut.TailLines(b, 1)); last != "" {
		line = last
	}
	if runes := []rune(line); len(runes) > 60 {
		line = string(runes[:60]) + "…"
	}
	return line, end
}

func bootErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("testbot: stopped while waiting for the DUT to come online: %w (%w)", context.Cause(ctx), err)
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		// The worker's message carries the last console lines.
		return fmt.Errorf("%w: %s (%w)", ErrBoot, ce.Message, err)
	}
	return fmt.Errorf("%w: %w", ErrBoot, err)
}
