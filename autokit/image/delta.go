package image

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
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
	w := &writer{dst: dst, o: o, res: &res, touched: touched, wb: newWriteback(dst)}
	if o.Bmap != nil {
		w.ranges = newRangeChecker(o.Bmap)
	}
	srcSpans := dataSpans(f, size, o)
	var zeroSpans []span
	if o.Bmap == nil {
		tgtSpans, ok := targetData(dst, size)
		if !ok {
			tgtSpans = []span{{0, size}}
		}
		zeroSpans = intersect(complement(srcSpans, size), tgtSpans)
	}

	visited, written, err := compareSpans(ctx, w, f, size, srcSpans, zeroSpans, o.Progress)
	if err != nil {
		return res, err
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
	var verify func() error
	if o.Verify {
		verify = func() error { return verifySpans(ctx, dst, f, written) }
	}
	verified, took, err := syncAndVerify(dst, *touched, verify)
	if err != nil {
		return res, err
	}
	res.Verified, res.Compared, res.VerifyDuration = verified, verified, took
	res.Duration = time.Since(start)
	return res, nil
}

// Delta flashes read deltaReaders pieces of deltaPiece bytes at once: a
// block device read with O_DIRECT gets that many requests in flight, and
// the buffers stay small. Small matters: a one-shot flash touches them
// fresh, and first touching fresh memory is dear on some hosts (see
// chunkBuffers); with 1 MiB pieces a delta of an unchanged 2 GiB image
// took 22-26 % of a full flash, with 256 KiB 16-21 %.
const (
	deltaReaders   = 4
	deltaPieceSize = 256 << 10
)

// deltaPiece is a piece of a delta flash: the image's bytes at off (its
// data, or zeros in one of its holes) and the target's, read by a reader
// and handed to the writer in order.
type deltaPiece struct {
	span
	fromImage bool
	bufs      [2][]byte // the pool's buffers behind img and old
	img, old  []byte
	same      bool // img and old were compared and are equal
	err       error
	done      chan struct{} // closed once read
}

// compareSpans hands w, in order, the image's bytes in srcSpans (read
// from f) and zeros in zeroSpans, each deltaPieceSize piece with the target's
// bytes there. Readers read and compare deltaReaders pieces at once, the
// kernel is asked to read both files ahead of them (readahead), and the
// writer writes what differs as the pieces arrive, so reading the image,
// the target and writing overlap. It returns how many bytes the spans
// held and the pieces that were written to, for verification.
//
// Both files are read into small buffers with pread(2), never mapped:
// comparing two mappings copies nothing, but each page mapped costs a
// page-table update, which some virtual machines make dearer than the
// copy (a 2 GiB image with 462 MiB of data, both in the page cache:
// 0.28 s mapped, 0.10 s read, on a 2-core AMD EPYC guest).
func compareSpans(ctx context.Context, w *writer, f *os.File, size int64, srcSpans, zeroSpans []span, progress func(int64)) (int64, []span, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var all []deltaPiece
	for _, p := range pieces(srcSpans, deltaPieceSize) {
		all = append(all, deltaPiece{span: p, fromImage: true})
	}
	for _, p := range pieces(zeroSpans, deltaPieceSize) {
		all = append(all, deltaPiece{span: p})
	}
	slices.SortFunc(all, func(a, b deltaPiece) int { return cmp.Compare(a.off, b.off) })

	zero := alignedBuf(deltaPieceSize)
	free := make(chan [2][]byte, deltaReaders+2)
	for range cap(free) {
		free <- [2][]byte{alignedBuf(deltaPieceSize), alignedBuf(deltaPieceSize)}
	}
	work := make(chan *deltaPiece)
	order := make(chan *deltaPiece, cap(free))
	go func() {
		defer close(order)
		defer close(work)
		// The kernel reads both files a window ahead of the readers (not
		// a block device read with O_DIRECT, which has no page cache).
		imgAhead := &readahead{fd: int(f.Fd()), spans: srcSpans}
		var tgtAhead *readahead
		if fd, ok := fileDescriptor(w.dst); ok {
			if _, direct := w.dst.(*directTarget); !direct {
				tgtAhead = &readahead{fd: fd, spans: merge(append(slices.Clone(srcSpans), zeroSpans...))}
			}
		}
		var imgQueued, queued int64
		for i := range all {
			var bufs [2][]byte
			select {
			case bufs = <-free:
			case <-ctx.Done():
				return
			}
			p := &all[i]
			n := p.end - p.off
			p.bufs, p.img, p.old, p.done = bufs, bufs[0][:n], bufs[1][:n], make(chan struct{})
			if p.fromImage {
				imgQueued += n
			}
			queued += n
			imgAhead.advance(imgQueued)
			tgtAhead.advance(queued)
			select {
			case order <- p:
			case <-ctx.Done():
				return
			}
			select {
			case work <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	var readers sync.WaitGroup
	for range deltaReaders {
		readers.Go(func() {
			for p := range work {
				if p.fromImage {
					if _, err := f.ReadAt(p.img, p.off); err != nil && err != io.EOF {
						p.err = fmt.Errorf("image: reading the image at %d bytes: %w", p.off, err)
					}
				} else {
					p.img = zero[:len(p.img)]
				}
				if p.err == nil {
					p.err = readTarget(w.dst, p.old, p.off)
				}
				if p.err == nil && w.ranges == nil {
					// Compared here, while both are in the CPU's cache
					// and several pieces at once; the writer then skips
					// what is unchanged.
					p.same = bytes.Equal(p.img, p.old)
				}
				close(p.done)
			}
		})
	}
	defer readers.Wait()

	var visited int64
	var written []span
	for p := range order {
		select {
		case <-p.done:
		case <-ctx.Done():
		}
		if err := context.Cause(ctx); err != nil {
			break
		}
		if p.err != nil {
			cancel(p.err)
			break
		}
		before := w.res.Written
		if p.same {
			w.res.Unchanged += p.end - p.off
		} else if err := w.chunkOver(p.off, p.img, p.old); err != nil {
			cancel(err)
			break
		}
		if w.res.Written != before {
			written = append(written, p.span)
		}
		visited += p.end - p.off
		if progress != nil {
			progress(visited)
		}
		free <- p.bufs
	}
	if err := context.Cause(ctx); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return visited, written, fmt.Errorf("image: flashing stopped at %d bytes: %w", visited, err)
		}
		return visited, written, err
	}
	return visited, written, nil
}

// verifySpans re-reads the target's spans and compares them with the
// image file's bytes (zeros where the span lies in one of its holes),
// several pieces at once. A mismatch is a *ChecksumError naming the
// sub-block of the first byte that differs.
func verifySpans(ctx context.Context, dst dut.Target, f *os.File, spans []span) error {
	const half = verifyBuffer // of each worker's buffer: the image's bytes, the target's
	ps := pieces(spans, half)
	return eachPiece(ctx, len(ps), 2*half, func(k int, buf []byte) error {
		off, n := ps[k].off, ps[k].end-ps[k].off
		want, got := buf[:n], buf[half:half+n]
		if _, err := f.ReadAt(want, off); err != nil && err != io.EOF {
			return fmt.Errorf("image: verify: reading the image at %d bytes: %w", off, err)
		}
		if err := readFull(dst, got, off); err != nil {
			return err
		}
		if bytes.Equal(want, got) {
			return nil
		}
		at := off + int64(firstDifference(want, got))
		from := max(off, at/SubBlock*SubBlock)
		return verifyError(from, min(from+SubBlock, ps[k].end), "the image's bytes", "different bytes")
	})
}

// firstDifference is the index of the first byte where a and b (of one
// length) differ, or len(a).
func firstDifference(a, b []byte) int {
	for i := 0; i < len(a); i += SubBlock {
		j := min(i+SubBlock, len(a))
		if !bytes.Equal(a[i:j], b[i:j]) {
			for ; i < j && a[i] == b[i]; i++ {
			}
			return i
		}
	}
	return len(a)
}

// merge sorts spans and joins those that touch or overlap.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.off, b.off) })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && s.off <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
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
