package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// flashDelta re-flashes an uncompressed image file onto a target that
// holds an earlier image, reading only what can differ: the image's data
// extents (or its block map's ranges), compared with the target's bytes
// there, and — without a block map — the target's own data extents where
// the image has holes, which must read back as zeros. Where both have
// holes nothing is read. Only differing sub-blocks are written, and
// verification re-reads only the spans something was written to: every
// other byte was just compared with the source.
//
// A target that is not a regular file (a block device) has no extents to
// ask for, so all of it is compared.
func flashDelta(ctx context.Context, dst dut.Target, f *os.File, size int64, o Options, touched *bool) (Result, error) {
	start := time.Now()
	res := Result{Format: Raw}
	head := make([]byte, 1024)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return res, fmt.Errorf("image: reading the image: %w", err)
	}
	if err := checkHead(head[:n], Raw, o.AnyImage); err != nil {
		return res, err
	}
	if o.Capacity > 0 && size > o.Capacity {
		return res, fmt.Errorf("%w: %d bytes for a target of %d", ErrTooLarge, size, o.Capacity)
	}
	w := &writer{dst: dst, o: o, res: &res, touched: touched}
	if o.Bmap != nil {
		w.ranges = newRangeChecker(o.Bmap)
	}
	srcSpans := dataSpans(f, size, o)
	var zeroSpans []span
	if o.Bmap == nil {
		tgtSpans := []span{{0, size}}
		if tf, _ := regularFile(dst); tf != nil {
			tgtSpans = dataSpans(tf, size, Options{})
		}
		zeroSpans = intersect(complement(srcSpans, size), tgtSpans)
	}

	buf := alignedBuf(ChunkSize)
	zero := alignedBuf(ChunkSize)
	var written []span // spans a write went to, for verification
	var done int64
	pass := func(s span, fromImage bool) error {
		before := res.Written
		for off := s.off; off < s.end; {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("image: flashing stopped at %d bytes: %w", off, err)
			}
			p := zero[:min(int64(len(zero)), s.end-off)]
			if fromImage {
				p = buf[:len(p)]
				if _, err := f.ReadAt(p, off); err != nil && err != io.EOF {
					return fmt.Errorf("image: reading the image at %d bytes: %w", off, err)
				}
			}
			if err := w.chunk(off, p); err != nil {
				return err
			}
			off += int64(len(p))
			done += int64(len(p))
			if o.Progress != nil {
				o.Progress(done)
			}
		}
		if res.Written != before {
			written = append(written, s)
		}
		return nil
	}
	var visited int64
	for _, s := range srcSpans {
		if err := pass(s, true); err != nil {
			return res, err
		}
		visited += s.end - s.off
	}
	for _, s := range zeroSpans {
		if err := pass(s, false); err != nil {
			return res, err
		}
		visited += s.end - s.off
	}
	if o.Bmap != nil {
		res.Unmapped += size - visited
		if err := w.ranges.finish(size); err != nil {
			return res, err
		}
	} else {
		res.Unchanged += size - visited // holes in both image and target
	}
	res.ImageBytes = size
	if err := setSize(dst, size, false); err != nil {
		return res, err
	}
	if *touched {
		if err := dst.Sync(); err != nil {
			return res, fmt.Errorf("image: syncing the target: %w", err)
		}
	}
	if o.Verify {
		vstart := time.Now()
		if err := verifySpans(ctx, dst, f, written, zero); err != nil {
			return res, err
		}
		res.Verified = true
		res.VerifyDuration = time.Since(vstart)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// verifySpans re-reads the target's spans and compares them with the
// image's bytes (zeros where the image has a hole: f is nil or the span
// lies outside its data, in which case ReadAt reads zeros anyway).
func verifySpans(ctx context.Context, dst dut.Target, f *os.File, spans []span, zero []byte) error {
	want := make([]byte, len(zero))
	got := alignedBuf(len(zero))
	for _, s := range spans {
		for off := s.off; off < s.end; {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("image: verifying stopped: %w", err)
			}
			n := int(min(int64(len(got)), s.end-off))
			if _, err := f.ReadAt(want[:n], off); err != nil && err != io.EOF {
				return fmt.Errorf("image: verify: reading the image at %d bytes: %w", off, err)
			}
			if _, err := dst.ReadAt(got[:n], off); err != nil && err != io.EOF {
				return fmt.Errorf("image: verify: reading the target at %d bytes: %w", off, err)
			}
			if !bytes.Equal(want[:n], got[:n]) {
				return &ChecksumError{What: fmt.Sprintf("target's bytes %d-%d after writing (verify)", off, off+int64(n)), Want: "the image's bytes", Got: "different bytes"}
			}
			off += int64(n)
		}
	}
	return nil
}

// complement returns the parts of [0, size) outside the sorted spans s.
func complement(s []span, size int64) []span {
	var out []span
	at := int64(0)
	for _, x := range s {
		if x.off > at {
			out = append(out, span{at, x.off})
		}
		at = max(at, x.end)
	}
	if at < size {
		out = append(out, span{at, size})
	}
	return out
}

// intersect returns the overlaps of two sorted lists of spans.
func intersect(a, b []span) []span {
	var out []span
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].off, b[j].off), min(a[i].end, b[j].end)
		if lo < hi {
			out = append(out, span{lo, hi})
		}
		if a[i].end < b[j].end {
			i++
		} else {
			j++
		}
	}
	return out
}
