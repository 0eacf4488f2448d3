package image

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// zstd frame layout used by SparseZstd (RFC 8878, section 3.1.1).
const (
	zstdMagic = 0xFD2FB528
	// zstdFHD: an 8-byte Frame_Content_Size, no single segment, no
	// checksum, no dictionary.
	zstdFHD = 0xC0
	// zstdWindow: a window of 2^(10+7) = 128 KiB, the largest block.
	zstdWindow = 7 << 3
	// zstdBlockMax is the largest block a frame may hold.
	zstdBlockMax = 128 << 10
	zstdRaw      = 0
	zstdRLE      = 1
	// zstdSkippable is the magic of the skippable frame SparseZstd puts
	// first (one of the sixteen RFC 8878 reserves, 0x184D2A50–5F): a
	// zstd decoder skips it, a worker reads it as a promise that the
	// frame after it holds raw and run-length blocks only.
	zstdSkippable = 0x184D2A5C
)

// sparseMarker is the skippable frame's content.
const sparseMarker = "leviathan sparse zstd 1: raw and run-length blocks only"

// appendMarkerFrame appends the skippable frame SparseZstd puts first
// to b.
func appendMarkerFrame(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, zstdSkippable)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sparseMarker)))
	return append(b, sparseMarker...)
}

// SparseZstd reads an uncompressed image file as one zstd frame that
// costs next to nothing to produce or send for the image's zeros: its
// holes and every 128 KiB block of zeros become run-length blocks of 4
// bytes, its data raw blocks. Nothing is compressed, so no CPU is spent
// on the data either. Any zstd decoder reads the frame back as the file's
// first size bytes; a worker takes it as a flash upload with
// Content-Encoding: zstd. A skippable frame ahead of it says that it
// holds raw and run-length blocks only, so that a reader that knows
// (OpenSparseZstd) decodes it without a zstd decoder's window.
type SparseZstd struct {
	f        *os.File
	size     int64
	spans    []span
	off      int64 // the image offset encoded next
	started  bool  // the frame header was produced
	done     bool  // the last block was produced
	pending  []byte
	buf      []byte
	progress func(int64)
}

// NewSparseZstd encodes f's first size bytes, read with ReadAt (the
// file's offset is not used). progress, when not nil, is called with the
// image offset reached after each block.
func NewSparseZstd(f *os.File, size int64, progress func(int64)) *SparseZstd {
	spans, ok := fileSpans(int(f.Fd()), size)
	if !ok {
		spans = []span{{0, size}}
	}
	return &SparseZstd{f: f, size: size, spans: spans, buf: make([]byte, 0, 3+zstdBlockMax), progress: progress}
}

// Read fills p with the frame's next bytes.
func (z *SparseZstd) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(z.pending) == 0 {
			if z.done {
				break
			}
			if err := z.next(); err != nil {
				return n, err
			}
		}
		c := copy(p[n:], z.pending)
		z.pending = z.pending[c:]
		n += c
	}
	if n == 0 && z.done {
		return 0, io.EOF
	}
	return n, nil
}

// next makes the frame header or the next block pending.
func (z *SparseZstd) next() error {
	if !z.started {
		z.started = true
		b := binary.LittleEndian.AppendUint32(appendMarkerFrame(z.buf[:0]), zstdMagic)
		b = append(b, zstdFHD, zstdWindow)
		z.pending = binary.LittleEndian.AppendUint64(b, uint64(z.size))
		return nil
	}
	// The data span holding off, or the hole before the next one.
	for len(z.spans) > 0 && z.spans[0].end <= z.off {
		z.spans = z.spans[1:]
	}
	end, hole := z.size, true
	if len(z.spans) > 0 {
		if s := z.spans[0]; s.off <= z.off {
			end, hole = s.end, false
		} else {
			end = s.off
		}
	}
	n := min(end-z.off, zstdBlockMax)
	b := z.buf[:3]
	if !hole {
		b = b[:3+n]
		m, err := z.f.ReadAt(b[3:], z.off)
		if m < int(n) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("image: reading %s at %d (did it shrink while being sent?): %w", z.f.Name(), z.off, err)
		}
		hole = allZeros(b[3:])
	}
	z.off += n
	last := z.off == z.size
	if last {
		// A hole past a new end of file would be sent as zeros.
		if fi, err := z.f.Stat(); err == nil && fi.Size() < z.size {
			return fmt.Errorf("image: %s shrank from %d to %d bytes while being sent", z.f.Name(), z.size, fi.Size())
		}
	}
	if hole {
		b = append(b[:3], 0)
		putBlockHeader(b, zstdRLE, n, last)
	} else {
		putBlockHeader(b, zstdRaw, n, last)
	}
	z.pending, z.done = b, last
	if z.progress != nil {
		z.progress(z.off)
	}
	return nil
}

// putBlockHeader writes a block header into b's first 3 bytes.
func putBlockHeader(b []byte, typ int, size int64, last bool) {
	h := uint32(size)<<3 | uint32(typ)<<1
	if last {
		h |= 1
	}
	b[0], b[1], b[2] = byte(h), byte(h>>8), byte(h>>16)
}
