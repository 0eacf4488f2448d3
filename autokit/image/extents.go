package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

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
	var s []span
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		data, err := syscall.Seek(fd, off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			return []span{{0, size}}
		}
		hole, err := syscall.Seek(fd, data, seekHole)
		if err != nil {
			return []span{{0, size}}
		}
		s = append(s, span{data, min(hole, size)})
		off = hole
	}
	return s
}

// flashExtents writes an uncompressed image file to a target whose
// unwritten blocks need not be touched (it reads back zeros, or a block
// map says they don't matter), reading only the parts that hold data.
// Verification re-reads those parts and compares each one's SHA-256.
func flashExtents(ctx context.Context, dst dut.Target, f *os.File, size int64, o Options, zeroed bool, touched *bool) (Result, error) {
	start := time.Now()
	res := Result{Format: Raw}
	head := make([]byte, 1024)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return res, fmt.Errorf("image: reading the image: %w", err)
	}
	if !IsDiskImage(head[:n]) {
		return res, fmt.Errorf("%w (format raw)", ErrNotDiskImage)
	}
	if o.Capacity > 0 && size > o.Capacity {
		return res, fmt.Errorf("%w: %d bytes for a target of %d", ErrTooLarge, size, o.Capacity)
	}
	w := &writer{dst: dst, o: o, zeroed: zeroed, res: &res, touched: touched}
	if o.Bmap != nil {
		w.ranges = newRangeChecker(o.Bmap)
	}
	spans := dataSpans(f, size, o)
	sums := make([][sha256.Size]byte, len(spans))
	// A block map with checksums already hashes every span (the range
	// checker); verification then compares with those.
	bmapSums := o.Bmap != nil && len(o.Bmap.Ranges) > 0 && o.Bmap.Ranges[0].SHA256 != ""
	buf := make([]byte, ChunkSize)
	var visited int64
	for i, s := range spans {
		h := sha256.New()
		for off := s.off; off < s.end; {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("image: flashing stopped at %d bytes: %w", off, err)
			}
			p := buf[:min(int64(len(buf)), s.end-off)]
			if _, err := f.ReadAt(p, off); err != nil && err != io.EOF {
				return res, fmt.Errorf("image: reading the image at %d bytes: %w", off, err)
			}
			if !bmapSums {
				h.Write(p)
			}
			if err := w.chunk(off, p); err != nil {
				return res, err
			}
			off += int64(len(p))
			visited += int64(len(p))
			if o.Progress != nil {
				o.Progress(off)
			}
		}
		if bmapSums {
			hex.Decode(sums[i][:], []byte(o.Bmap.Ranges[i].SHA256))
		} else {
			h.Sum(sums[i][:0])
		}
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
	if err := dst.Sync(); err != nil {
		return res, fmt.Errorf("image: syncing the target: %w", err)
	}
	if o.Verify {
		vstart := time.Now()
		for i, s := range spans {
			h := sha256.New()
			for off := s.off; off < s.end; {
				p := buf[:min(int64(len(buf)), s.end-off)]
				if _, err := dst.ReadAt(p, off); err != nil && err != io.EOF {
					return res, fmt.Errorf("image: verify: reading the target at %d bytes: %w", off, err)
				}
				h.Write(p)
				off += int64(len(p))
			}
			var got [sha256.Size]byte
			if h.Sum(got[:0]); got != sums[i] {
				return res, &ChecksumError{What: fmt.Sprintf("target's bytes %d-%d after writing (verify)", s.off, s.end), Want: fmt.Sprintf("%x", sums[i]), Got: fmt.Sprintf("%x", got)}
			}
		}
		res.Verified = true
		res.VerifyDuration = time.Since(vstart)
	}
	res.Duration = time.Since(start)
	return res, nil
}
