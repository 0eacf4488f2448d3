package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Whence values of lseek(2) that find data and holes in a sparse file.
const (
	seekData = 3
	seekHole = 4
)

// rawFile returns src's file when src is an uncompressed image in a
// regular file, which can be read extent by extent instead of as a stream.
func rawFile(src io.Reader) (*os.File, int64) {
	f, size := regularFile(src)
	if f == nil {
		return nil, 0
	}
	head := make([]byte, 8)
	n, _ := f.ReadAt(head, 0)
	if Sniff(head[:n]) != Raw {
		return nil, 0
	}
	return f, size
}

// regularFile returns src's file and size when src is a regular file.
func regularFile(src io.Reader) (*os.File, int64) {
	var f *os.File
	switch s := src.(type) {
	case *os.File:
		f = s
	case interface{ File() *os.File }:
		f = s.File()
	default:
		return nil, 0
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0
	}
	return f, fi.Size()
}

// span is a byte range of the image that holds data.
type span struct{ off, end int64 }

// dataSpans lists the parts of f worth reading: the block map's ranges,
// or the file's data extents (SEEK_DATA/SEEK_HOLE); the whole file where
// the filesystem cannot tell.
func dataSpans(f *os.File, size int64, o Options) []span {
	if m := o.Bmap; m != nil {
		var s []span
		for _, r := range m.Ranges {
			s = append(s, span{r.First * m.BlockSize, min((r.Last+1)*m.BlockSize, size)})
		}
		return s
	}
	s, ok := fileSpans(int(f.Fd()), size)
	if !ok {
		return []span{{0, size}}
	}
	return s
}

// fileSpans lists the data extents (SEEK_DATA/SEEK_HOLE) of the file
// open as fd within its first size bytes; ok is false when the
// filesystem cannot tell. The descriptor's offset is left where it was.
func fileSpans(fd int, size int64) (s []span, ok bool) {
	if at, err := syscall.Seek(fd, 0, io.SeekCurrent); err == nil {
		defer syscall.Seek(fd, at, io.SeekStart)
	}
	for off := int64(0); off < size; {
		data, err := syscall.Seek(fd, off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			return nil, false
		}
		hole, err := syscall.Seek(fd, data, seekHole)
		if err != nil {
			return nil, false
		}
		if data >= size {
			break
		}
		s = append(s, span{data, min(hole, size)})
		off = hole
	}
	return s, true
}

// flashExtents writes an uncompressed image file to a target whose
// unwritten blocks need not be touched (it reads back zeros, or a block
// map says they don't matter), reading only the parts that hold data.
// Verification re-reads those parts and compares them with the image.
func flashExtents(ctx context.Context, dst dut.Target, f *os.File, size int64, o Options, zeroed bool, touched *bool) (Result, error) {
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
	if o.Bmap != nil && size != o.Bmap.ImageSize {
		return res, wrongBmapSize(o.Bmap, size) // before anything is written
	}
	w := &writer{dst: dst, o: o, zeroed: zeroed, res: &res, touched: touched, wb: newWriteback(dst)}
	if o.Bmap != nil {
		w.ranges = newRangeChecker(o.Bmap)
	}
	spans := dataSpans(f, size, o)
	visited, err := copySpans(ctx, w, f, spans, o.Progress)
	if err != nil {
		return res, err
	}
	if o.Bmap != nil {
		res.Unmapped += size - visited
		if err := w.ranges.finish(size); err != nil {
			return res, err
		}
	} else {
		res.Skipped += size - visited
	}
	res.ImageBytes = size
	*touched = true
	if err := setSize(dst, size, zeroed); err != nil {
		return res, err
	}
	var verify func() error
	if o.Verify {
		// The image is a file: compare the target's bytes with it
		// directly, which is stronger than comparing hashes and cheaper.
		verify = func() error { return verifySpans(ctx, dst, f, spans) }
	}
	verified, took, err := syncAndVerify(dst, true, verify)
	if err != nil {
		return res, err
	}
	res.Verified, res.Compared, res.VerifyDuration = verified, verified, took
	res.Duration = time.Since(start)
	return res, nil
}

// copySpans reads the spans of f and hands them to w, in three
// overlapping stages: a reader fills free buffers, a checker runs the
// block map's range hashes (when w has a map), and this goroutine writes.
// It returns how many bytes the spans held.
func copySpans(ctx context.Context, w *writer, f *os.File, spans []span, progress func(int64)) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	free := newChunkBuffers(pipeDepth)
	out, checked := make(chan chunk, pipeDepth), make(chan chunk, pipeDepth)
	send := func(ch chan<- chunk, c chunk) bool {
		select {
		case ch <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(out)
		// Ask the kernel to read ahead: the whole file sequentially, and
		// the spans a window ahead of what is read.
		fd := int(f.Fd())
		unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
		ahead := &readahead{fd: fd, spans: spans}
		var read int64
		for _, s := range spans {
			for off := s.off; off < s.end; {
				ahead.advance(read)
				buf, ok := free.take(ctx)
				if !ok {
					return
				}
				n := int(min(int64(len(buf)), s.end-off))
				if _, err := f.ReadAt(buf[:n], off); err != nil && err != io.EOF {
					cancel(fmt.Errorf("image: reading the image at %d bytes: %w", off, err))
					return
				}
				if !send(out, chunk{off, buf, n}) {
					return
				}
				off += int64(n)
				read += int64(n)
			}
		}
	}()
	ranges := w.ranges
	w.ranges = nil // checked in the middle stage
	go func() {
		defer close(checked)
		for c := range out {
			if ranges != nil {
				if err := ranges.add(c.off, c.buf[:c.n]); err != nil {
					cancel(err)
					return
				}
			}
			if !send(checked, c) {
				return
			}
		}
	}()
	defer func() {
		w.ranges = ranges
		for range checked { // let the stages see the cancellation and end
		}
	}()
	var visited int64
	for c := range checked {
		if err := context.Cause(ctx); err != nil {
			break
		}
		if err := w.chunk(c.off, c.buf[:c.n]); err != nil {
			cancel(err)
			break
		}
		visited += int64(c.n)
		free.give(c.buf)
		if progress != nil {
			progress(c.off + int64(c.n))
		}
	}
	if err := context.Cause(ctx); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return visited, fmt.Errorf("image: flashing stopped at %d bytes: %w", visited, err)
		}
		return visited, err
	}
	return visited, nil
}

// readaheadWindow is how far ahead of a reader, in bytes of the spans it
// reads, the kernel is asked to read.
const readaheadWindow = 32 << 20

// readahead asks the kernel to read a file's spans ahead of a reader
// (FADV_WILLNEED, at most 8 MiB at a time), so the medium has several
// requests to work on instead of the one the reader waits for. A nil
// *readahead does nothing.
type readahead struct {
	fd      int
	spans   []span
	i       int   // the first span not wholly asked for
	next    int64 // where asking goes on in spans[i]
	advised int64 // bytes of the spans asked for
}

// advance asks for the spans' bytes up to readaheadWindow past the first
// done bytes of them.
func (r *readahead) advance(done int64) {
	if r == nil {
		return
	}
	for r.i < len(r.spans) && r.advised < done+readaheadWindow {
		s := r.spans[r.i]
		from := max(s.off, r.next)
		n := min(s.end-from, 8<<20)
		unix.Fadvise(r.fd, from, n, unix.FADV_WILLNEED)
		r.advised += n
		r.next = from + n
		if r.next >= s.end {
			r.i++
		}
	}
}
