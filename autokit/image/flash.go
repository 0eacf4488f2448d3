package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image/bmap"
)

// Chunk sizes of the pipeline: reads and writes move ChunkSize bytes;
// zero detection and delta comparison look at SubBlock bytes at a time.
const (
	ChunkSize = 4 << 20
	SubBlock  = 64 << 10
	pipeDepth = 4
)

// Options tune Flash. The zero value writes everything it must, verifies
// nothing and reports no progress.
type Options struct {
	// Progress, when not nil, is called with the decompressed bytes done.
	Progress func(done int64)
	// Bmap, when set, limits writing to the blocks it maps and checks each
	// mapped range's SHA-256 as it streams past.
	Bmap *bmap.Map
	// Verify re-reads what was written and compares it with the image:
	// with a block map, each mapped range's SHA-256 with the map's; from
	// an uncompressed image file, byte for byte with the file; from a
	// stream, each 64 KiB with a record made while writing (a keyed hash,
	// or "all zeros"), reading nothing where a file target has holes and
	// the image had zeros. It does not need the image's SHA-256.
	Verify bool
	// Delta compares each block with what the target already holds and
	// writes only blocks that differ. It needs a target that kept its
	// contents (not a dut.Zeroed one).
	Delta bool
	// SHA256, when set, is the expected hex SHA-256 of the decompressed
	// image. It is known only once the whole image streamed past, so a
	// different image fails the flash after it was written, before the
	// target is synced, and the target is marked dirty (see DirtyError).
	// To refuse before writing, check first: PrecheckSHA256 for a local
	// file, or the digest a cache recorded for the same upload.
	SHA256 string
	// SourceSHA256, when set, is the expected hex SHA-256 of src's bytes
	// as read (the download or upload, before decompression), such as a
	// server publishes next to an image. src is then read to its end,
	// hashed as it streams, and a mismatch fails the flash before the
	// target is synced; the target is marked dirty. It also fails the
	// flash after writing: nothing can be refused before the whole
	// download was read.
	SourceSHA256 string
	// Digest computes the decompressed image's SHA-256 for Result.SHA256
	// when SHA256 does not ask for it. Verify does not need it: the
	// target is compared with a record made while writing, the block
	// map's checksums or the image file itself. Hashing a whole image is
	// a serial stage of the pipeline: it is done only when wanted.
	Digest bool
	// AnyImage writes an image whatever its first sectors hold: a
	// filesystem image, a firmware blob, an eMMC boot partition, as
	// bmaptool copy does. Without it an image without an MBR or GPT
	// partition table is refused before anything is written, with an
	// error wrapping ErrNotDiskImage. An empty image is refused either way.
	AnyImage bool
	// Capacity, when > 0, is the target's size: an image that expands past
	// it is stopped at that point (decompression bombs included). Targets
	// that know their size (Capacity() int64) need not set it.
	Capacity int64
	// Buffered writes a block device through the page cache, as regular
	// files always are. Without it a block-device target is written with
	// O_DIRECT (see the package doc).
	Buffered bool
	// Log, when not nil, receives notices about the flash (an xz image
	// that decodes on one core, a block device that could not be opened
	// with O_DIRECT). Flash is silent without it.
	Log *slog.Logger
}

// Capacitor is implemented by targets that know their size.
type Capacitor interface {
	Capacity() int64
}

// ChecksumError is a source whose SHA-256 is not the expected one, or a
// target that does not hold what was written to it (verify).
type ChecksumError struct {
	What string // "image", which bmap range, or which of the target's bytes
	// Want and Got are hex SHA-256s or, for the target's bytes, what they
	// should hold and what they held ("zeros", "the image's data", …).
	Want, Got string
}

func (e *ChecksumError) Error() string {
	if b, err := hex.DecodeString(e.Want); err == nil && len(b) == sha256.Size {
		return fmt.Sprintf("image: checksum mismatch for the %s: want sha256 %s, got %s", e.What, e.Want, e.Got)
	}
	return fmt.Sprintf("image: checksum mismatch for the %s: want %s, got %s", e.What, e.Want, e.Got)
}

// checkHead refuses, before anything is written, an image whose first
// bytes are not a disk image's (unless anyImage) or that is empty.
func checkHead(first []byte, format Format, anyImage bool) error {
	switch {
	case !anyImage && !IsDiskImage(first):
		return fmt.Errorf("%w (format %s)", ErrNotDiskImage, format)
	case len(first) == 0:
		return fmt.Errorf("image: the image is empty (format %s)", format)
	}
	return nil
}

// ErrTooLarge is returned when an image expands past the target's capacity.
var ErrTooLarge = errors.New("image: the image is larger than the target")

// Flash decompresses src and writes it to dst from offset 0, as Options
// say. Decompression and hashing overlap with writing. It fails without
// writing anything when src is not a disk image (unless o.AnyImage) or
// its first bytes cannot be decompressed. A failure after writing started (a corrupt or
// truncated stream, a checksum mismatch, a zip found to hold a second
// file, a write error, cancellation) marks the target dirty: its
// partition tables are wiped (see MarkDirty) and the error is a
// *DirtyError. Nothing is reported as success unless all went well.
func Flash(ctx context.Context, dst dut.Target, src io.Reader, o Options) (Result, error) {
	target := dst
	var direct *directTarget
	if !o.Buffered {
		d, err := openDirect(dst)
		switch {
		case err != nil:
			logf(o.Log, "writing the block device through the page cache", "reason", err)
		case d != nil:
			direct, target = d, d
			defer d.close()
		}
	}
	if o.Capacity == 0 {
		if c, ok := target.(Capacitor); ok {
			o.Capacity = c.Capacity()
		}
	}
	var touched bool
	res, err := flash(ctx, target, src, o, &touched)
	res.Direct = direct != nil
	if err != nil && touched {
		// Through target: a caller's descriptor opened with O_DIRECT
		// could not write MarkDirty's unaligned buffers itself.
		return res, dirty(target, o.Capacity, err)
	}
	return res, err
}

// logf logs a notice to log, when there is one.
func logf(log *slog.Logger, msg string, args ...any) {
	if log != nil {
		log.Warn(msg, args...)
	}
}

// flash is Flash; it sets *touched before the first write to dst.
func flash(ctx context.Context, dst dut.Target, src io.Reader, o Options, touched *bool) (Result, error) {
	zeroed := false
	if z, ok := dst.(dut.Zeroed); ok {
		zeroed = z.Zeroed()
	}
	if o.Delta && zeroed {
		o.Delta = false // nothing to compare with: the target was emptied
	}
	// An uncompressed image file is read only where it holds data, when
	// the target's other blocks need not be written and no whole-image
	// digest is asked for.
	if f, size := rawFile(src); f != nil && o.SHA256 == "" && !o.Digest && o.SourceSHA256 == "" {
		switch {
		case o.Delta:
			return flashDelta(ctx, dst, f, size, o, touched)
		case zeroed || o.Bmap != nil:
			return flashExtents(ctx, dst, f, size, o, zeroed, touched)
		}
	}
	return flashStream(ctx, dst, src, o, zeroed, touched)
}

// flashStream is flash for an image read as a stream: it decompresses
// src through a pipeline, writes what must be written, checks the
// digests that streamed past, then sizes, syncs and verifies the target.
func flashStream(ctx context.Context, dst dut.Target, src io.Reader, o Options, zeroed bool, touched *bool) (Result, error) {
	start := time.Now()
	var dlHash hash.Hash // the source as read, for SourceSHA256
	if o.SourceSHA256 != "" {
		dlHash = sha256.New()
		src = io.TeeReader(src, dlHash)
	}
	r, format, release, err := Decompress(src)
	if err != nil {
		return Result{}, err
	}
	if decodesOnOneCore(r) {
		logf(o.Log, oneCoreNotice)
	}
	p := newPipeline(o.SHA256 != "" || o.Digest)
	p.anyImage = o.AnyImage
	defer p.release(release)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.start(ctx, r, format)

	res := Result{Format: format}
	w := &writer{dst: dst, o: o, zeroed: zeroed, res: &res, touched: touched, wb: newWriteback(dst)}
	if o.Bmap != nil {
		w.ranges = newRangeChecker(o.Bmap)
	} else if o.Verify {
		w.sums = newBlockSums()
	}
	off, err := w.drain(ctx, p)
	if err != nil {
		return res, err
	}
	res.ImageBytes = off
	res.SHA256 = p.sum()
	if err := checkStreamed(w, o, res.SHA256, off, src, dlHash); err != nil {
		return res, err
	}
	*touched = true
	if err := commit(ctx, dst, off, zeroed, o, w.sums, &res); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// drain writes the chunks p delivers, in order, and returns the image's
// size. It stops at cancellation, at an image that expands past the
// target's capacity, at a write error and at a reading error.
func (w *writer) drain(ctx context.Context, p *pipeline) (int64, error) {
	var off int64
	for c := range p.full {
		if err := ctx.Err(); err != nil {
			return off, fmt.Errorf("image: flashing stopped at %d bytes: %w", off, err)
		}
		if w.o.Capacity > 0 && c.off+int64(c.n) > w.o.Capacity {
			return off, fmt.Errorf("%w: it expands past %d bytes, the target's capacity", ErrTooLarge, w.o.Capacity)
		}
		if err := w.chunk(c.off, c.buf[:c.n]); err != nil {
			return off, err
		}
		off = c.off + int64(c.n)
		p.free.give(c.buf)
		if w.o.Progress != nil {
			w.o.Progress(off)
		}
	}
	// On cancellation the stages stop early and readErr may still be
	// written; look at it only after a clean end.
	if err := ctx.Err(); err != nil {
		return off, fmt.Errorf("image: flashing stopped at %d bytes: %w", off, err)
	}
	return off, p.readErr
}

// checkStreamed compares what streamed past with what o expects: the
// bmap's ranges (which w checked), the image's SHA-256 (sum) and the
// download's. For the download it reads the rest of src, which dlHash
// hashes as it is read.
func checkStreamed(w *writer, o Options, sum string, size int64, src io.Reader, dlHash hash.Hash) error {
	if w.ranges != nil {
		if err := w.ranges.finish(size); err != nil {
			return err
		}
	}
	if o.SHA256 != "" && o.SHA256 != sum {
		return &ChecksumError{What: "image", Want: o.SHA256, Got: sum}
	}
	if dlHash == nil {
		return nil
	}
	// What follows the image in the source (a zip's central directory,
	// padding) is part of the download's digest.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return fmt.Errorf("image: reading the rest of the source: %w", err)
	}
	if got := hex.EncodeToString(dlHash.Sum(nil)); got != o.SourceSHA256 {
		return &ChecksumError{What: "download", Want: o.SourceSHA256, Got: got}
	}
	return nil
}

// commit makes the written image final: it sets a file target's size,
// syncs the target and, with o.Verify, reads it back and compares it
// with the block map's checksums or, without one, with sums, the record
// made while writing; it records the verification in res.
func commit(ctx context.Context, dst dut.Target, size int64, zeroed bool, o Options, sums *blockSums, res *Result) error {
	if err := setSize(dst, size, zeroed); err != nil {
		return err
	}
	var verify func() error
	switch {
	case !o.Verify:
	case o.Bmap != nil:
		verify = func() error { return verifyBmap(ctx, dst, size, o.Bmap) }
	default:
		verify = func() error { return verifySums(ctx, dst, size, sums) }
	}
	verified, took, err := syncAndVerify(dst, true, verify)
	if err != nil {
		return err
	}
	res.Verified, res.VerifyDuration = verified, took
	return nil
}

// writer decides, per sub-block, what reaches the target.
type writer struct {
	dst     dut.Target
	o       Options
	zeroed  bool
	res     *Result
	ranges  *rangeChecker
	sums    *blockSums // the record verify compares the target with
	wb      *writeback
	old     []byte // delta: a buffer for the target's current bytes
	touched *bool  // set before the first write
}

var zeros = make([]byte, SubBlock)

// chunk writes what must be written of p, the image's bytes at off,
// reading the target's bytes there first in delta mode.
func (w *writer) chunk(off int64, p []byte) error {
	if !w.o.Delta {
		return w.chunkOver(off, p, nil)
	}
	if cap(w.old) < len(p) {
		w.old = alignedBuf(len(p))
	}
	if err := readTarget(w.dst, w.old[:len(p)], off); err != nil {
		return err
	}
	return w.chunkOver(off, p, w.old[:len(p)])
}

// chunkOver is chunk with the target's bytes at off, old, already read
// (nil unless in delta mode).
func (w *writer) chunkOver(off int64, p, old []byte) error {
	if w.ranges != nil {
		if err := w.ranges.add(off, p); err != nil {
			return err
		}
	}
	return w.write(off, p, old)
}

// readTarget fills p with the target's bytes at off, zeros past its end.
func readTarget(dst io.ReaderAt, p []byte, off int64) error {
	n, err := dst.ReadAt(p, off)
	if err != nil && err != io.EOF {
		return fmt.Errorf("image: reading the target at %d bytes: %w", off+int64(n), err)
	}
	clear(p[n:])
	return nil
}

// write writes the sub-blocks of p, the image's bytes at off, that must
// be written; old, in delta mode, is what the target holds there.
func (w *writer) write(off int64, p, old []byte) error {
	// Coalesce the sub-blocks that must be written into runs.
	runStart := -1
	flush := func(end int) error {
		if runStart < 0 {
			return nil
		}
		first := !*w.touched
		*w.touched = true
		if n, err := w.dst.WriteAt(p[runStart:end], off+int64(runStart)); err != nil {
			if first && n == 0 && notWritable(err) {
				// Refused outright: nothing reached the target.
				*w.touched = false
				return fmt.Errorf("image: the target is not writable: %w", err)
			}
			return fmt.Errorf("image: writing at %d bytes: %w", off+int64(runStart)+int64(n), err)
		}
		w.res.Written += int64(end - runStart)
		w.wb.wrote(off+int64(runStart), int64(end-runStart))
		runStart = -1
		return nil
	}
	for i := 0; i < len(p); i += SubBlock {
		j := min(i+SubBlock, len(p))
		zero := false
		if w.sums != nil {
			zero = allZeros(p[i:j])
			w.sums.add(p[i:j], zero)
		}
		if w.skip(off+int64(i), p[i:j], old, i, j, zero) {
			if err := flush(i); err != nil {
				return err
			}
			continue
		}
		if runStart < 0 {
			runStart = i
		}
	}
	return flush(len(p))
}

// skip reports whether the sub-block b (at image offset at, chunk
// positions i:j; old holds the target's bytes in delta mode) need not be
// written, and counts why. zero is b's all-zeros test when w records
// sums (which made it); otherwise skip makes it, only when it matters.
func (w *writer) skip(at int64, b, old []byte, i, j int, zero bool) bool {
	n := int64(len(b))
	switch {
	case w.o.Bmap != nil && !mapped(w.o.Bmap, at, n):
		w.res.Unmapped += n
		return true
	case w.o.Delta && bytes.Equal(b, old[i:j]):
		w.res.Unchanged += n
		return true
	case w.zeroed && (zero || w.sums == nil && allZeros(b)):
		w.res.Skipped += n
		return true
	}
	return false
}

// setSize makes a file target as long as the image: exactly, when it was
// emptied (skipped zeros at the end still count); at least, otherwise.
func setSize(dst dut.Target, size int64, zeroed bool) error {
	t, ok := dst.(truncater)
	if !ok {
		return nil
	}
	if !zeroed {
		fi, err := dst.Stat()
		if err != nil || !fi.Mode().IsRegular() || fi.Size() >= size {
			return nil
		}
	}
	if err := t.Truncate(size); err != nil {
		return fmt.Errorf("image: setting the target's size: %w", err)
	}
	return nil
}

// notWritable reports whether err is a refusal to write at all (a target
// opened read-only, a read-only medium or filesystem) rather than a
// failure partway.
func notWritable(err error) bool {
	return errors.Is(err, syscall.EBADF) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}
