package image

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrSparseFrame is the error of a stream that SparseZstd's skippable
// frame marks as raw and run-length blocks only but that is not.
var ErrSparseFrame = errors.New("not a frame of raw and run-length blocks as its marker says")

// OpenSparseZstd returns a reader of what SparseZstd encoded, when r
// starts with the skippable frame SparseZstd puts first, consuming that
// frame; ok is false, and nothing is consumed, for any other stream,
// which a zstd decoder must read. The reader copies raw blocks and
// fills run-length blocks, with no decoder window: it refuses (with
// ErrSparseFrame) a frame header other than SparseZstd's, a compressed
// block, a block over 128 KiB, a frame whose blocks do not add up to its
// content size and anything after the frame.
func OpenSparseZstd(r *bufio.Reader) (io.Reader, bool) {
	head := appendMarkerFrame(nil)
	if got, err := r.Peek(len(head)); err != nil || !bytes.Equal(got, head) {
		return nil, false
	}
	r.Discard(len(head))
	return &sparseDecoder{r: r}, true
}

// sparseDecoder reads a SparseZstd frame's content (OpenSparseZstd).
type sparseDecoder struct {
	r       *bufio.Reader
	started bool  // the frame header was read
	size    int64 // the frame's content size
	off     int64 // content bytes produced
	left    int64 // bytes left in the current block
	rle     bool  // the current block is run-length
	fill    byte  // its byte
	last    bool  // the current block is the frame's last
	done    bool
}

func (d *sparseDecoder) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && !d.done {
		if d.left == 0 {
			if err := d.next(); err != nil {
				return n, err
			}
			continue
		}
		k := int(min(int64(len(p)-n), d.left))
		if d.rle {
			b := p[n : n+k]
			if d.fill == 0 {
				clear(b)
			} else {
				for i := range b {
					b[i] = d.fill
				}
			}
		} else if m, err := io.ReadFull(d.r, p[n:n+k]); err != nil {
			return n + m, d.truncated(err)
		}
		n += k
		d.left -= int64(k)
		d.off += int64(k)
	}
	if n == 0 && d.done {
		return 0, io.EOF
	}
	return n, nil
}

// next reads the frame header, or the next block header, or checks the
// frame ended as it should after its last block.
func (d *sparseDecoder) next() error {
	if !d.started {
		var h [14]byte
		if _, err := io.ReadFull(d.r, h[:]); err != nil {
			return d.truncated(err)
		}
		if binary.LittleEndian.Uint32(h[:]) != zstdMagic || h[4] != zstdFHD || h[5] != zstdWindow {
			return fmt.Errorf("zstd: the frame header % x is not SparseZstd's: %w", h[:6], ErrSparseFrame)
		}
		d.started, d.size = true, int64(binary.LittleEndian.Uint64(h[6:]))
		if d.size < 0 {
			return fmt.Errorf("zstd: a content size of %d bytes: %w", uint64(d.size), ErrSparseFrame)
		}
		return nil
	}
	if d.last {
		if d.off != d.size {
			return fmt.Errorf("zstd: the blocks hold %d bytes, the frame header says %d: %w", d.off, d.size, ErrSparseFrame)
		}
		if _, err := d.r.ReadByte(); err != io.EOF {
			if err != nil {
				return err
			}
			return fmt.Errorf("zstd: more follows the frame's last block: %w", ErrSparseFrame)
		}
		d.done = true
		return nil
	}
	var h [3]byte
	if _, err := io.ReadFull(d.r, h[:]); err != nil {
		return d.truncated(err)
	}
	v := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
	d.last, d.left = v&1 == 1, int64(v>>3)
	switch typ := v >> 1 & 3; {
	case typ != zstdRaw && typ != zstdRLE:
		return fmt.Errorf("zstd: block %d bytes into the content is of type %d, neither raw nor run-length: %w", d.off, typ, ErrSparseFrame)
	case d.left > zstdBlockMax:
		return fmt.Errorf("zstd: a block of %d bytes, over the %d a block may hold: %w", d.left, zstdBlockMax, ErrSparseFrame)
	case d.off+d.left > d.size:
		return fmt.Errorf("zstd: the blocks run past the frame's content size of %d bytes: %w", d.size, ErrSparseFrame)
	case typ == zstdRLE:
		b, err := d.r.ReadByte()
		if err != nil {
			return d.truncated(err)
		}
		d.rle, d.fill = true, b
	default:
		d.rle = false
	}
	return nil
}

// truncated names a stream that ended inside the frame.
func (d *sparseDecoder) truncated(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("zstd: the frame ends early, at %d of %d content bytes: %w", d.off, d.size, err)
}
