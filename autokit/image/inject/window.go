package inject

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"math"

	"github.com/balena/leviathan-action/autokit/bootpart"
)

// pullSize is how much the window reads from the stream at least, when it
// must read.
const pullSize = 1 << 20

// maxEmptyReads is how many reads in a row may return no bytes and no
// error before the source counts as stuck (as bufio does).
const maxEmptyReads = 100

// input is the stream being transformed: it counts and hashes what is
// read from it and remembers how it ended.
type input struct {
	r     io.Reader
	h     hash.Hash
	n     int64 // bytes read
	eof   bool
	err   error // a read error other than io.EOF
	empty int   // reads in a row that returned nothing
}

// read reads once into p; it returns how many bytes it got.
func (in *input) read(p []byte) int {
	if in.eof || in.err != nil || len(p) == 0 {
		return 0
	}
	n, err := in.r.Read(p)
	if n < 0 || n > len(p) {
		in.err = fmt.Errorf("inject: reading the image at %d bytes: the source returned %d bytes for a %d-byte read", in.n, n, len(p))
		return 0
	}
	in.h.Write(p[:n])
	in.n += int64(n)
	switch {
	case err == io.EOF:
		in.eof = true
	case err != nil:
		in.err = fmt.Errorf("inject: reading the image at %d bytes: %w", in.n, err)
	case n == 0:
		if in.empty++; in.empty >= maxEmptyReads {
			in.err = fmt.Errorf("inject: reading the image at %d bytes: %w", in.n, io.ErrNoProgress)
		}
	default:
		in.empty = 0
	}
	return n
}

// window holds the bytes [base, base+len(buf)) of the image, read from the
// stream on demand and never more than limit of them. It is the disk that
// bootpart reads the partition table and the FAT through, and that the
// files are written into.
type window struct {
	in      *input
	base    int64
	buf     []byte
	limit   int64
	refused error // the first read the window could not serve
}

var _ bootpart.Storage = (*window)(nil)

// end is the image offset just past the bytes held, which is also how far
// the stream was read.
func (w *window) end() int64 { return w.base + int64(len(w.buf)) }

// fill reads from the stream until the window holds the bytes before to
// (at most limit bytes from base), or the stream ends or fails.
func (w *window) fill(to int64) {
	for w.end() < to && !w.in.eof && w.in.err == nil {
		want := min(max(to, w.end()+pullSize), w.base+w.limit) - w.end()
		if want <= 0 {
			return
		}
		w.grow(int(want))
		n := w.in.read(w.buf[len(w.buf) : len(w.buf)+int(want)])
		w.buf = w.buf[:len(w.buf)+n]
	}
}

// grow makes room for n more bytes, allocating no more than limit.
func (w *window) grow(n int) {
	if cap(w.buf)-len(w.buf) >= n {
		return
	}
	c := int(min(max(2*int64(cap(w.buf)), int64(len(w.buf)+n)), w.limit))
	b := make([]byte, len(w.buf), c)
	copy(b, w.buf)
	w.buf = b
}

// take hands over the first n bytes held and forgets them.
func (w *window) take(n int64) []byte {
	b := w.buf[:n:n]
	w.buf = w.buf[n:]
	w.base += n
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return b
}

func (w *window) refuse(err error) error {
	if w.refused == nil {
		w.refused = err
	}
	return err
}

// ReadAt implements io.ReaderAt over the image, reading the stream as far
// as needed.
func (w *window) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if off < 0 {
		return 0, errors.New("inject: read at a negative offset")
	}
	if off < w.base {
		return 0, w.refuse(fmt.Errorf("the bytes at offset %d were already passed on", off))
	}
	if w.in.eof && off >= w.end() {
		return 0, io.EOF
	}
	end := off + int64(len(p))
	if end < off {
		end = math.MaxInt64
	}
	if end-w.base > w.limit && !w.in.eof {
		return 0, w.refuse(fmt.Errorf("reading bytes %d-%d would hold %d bytes of the image in memory", off, end-1, end-w.base))
	}
	w.fill(end)
	if off >= w.end() {
		if w.in.err != nil {
			return 0, w.in.err
		}
		return 0, io.EOF
	}
	n := copy(p, w.buf[off-w.base:])
	if n < len(p) {
		if w.in.err != nil {
			return n, w.in.err
		}
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements io.WriterAt over the bytes held.
func (w *window) WriteAt(p []byte, off int64) (int, error) {
	if off < w.base || off > w.end() || int64(len(p)) > w.end()-off {
		return 0, fmt.Errorf("inject: write to bytes %d-%d outside the %d bytes held from offset %d", off, off+int64(len(p))-1, len(w.buf), w.base)
	}
	return copy(w.buf[off-w.base:], p), nil
}
