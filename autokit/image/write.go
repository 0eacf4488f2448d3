package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// BlockSize is the unit of reads, zero detection and writes.
const BlockSize = 1 << 20

// Result describes a finished flash.
type Result struct {
	Format     Format        `json:"format"`
	ImageBytes int64         `json:"image_bytes"` // decompressed size
	Written    int64         `json:"written"`     // bytes actually written
	Skipped    int64         `json:"skipped"`     // zero bytes not written
	SHA256     string        `json:"sha256"`      // of the decompressed image
	Duration   time.Duration `json:"duration"`
}

// MBps is the decompressed throughput in MB/s.
func (r Result) MBps() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.ImageBytes) / 1e6 / r.Duration.Seconds()
}

// truncater is implemented by file targets, so that trailing zero blocks
// that were skipped still count towards the file's size.
type truncater interface {
	Truncate(size int64) error
}

// Write decompresses src and writes it to dst from offset 0. progress, when
// not nil, is called with the decompressed bytes done so far. It fails
// without writing anything when src is not a disk image.
func Write(ctx context.Context, dst dut.Target, src io.Reader, progress func(done int64)) (Result, error) {
	start := time.Now()
	r, format, release, err := Decompress(src)
	if err != nil {
		return Result{}, err
	}
	defer release()
	res := Result{Format: format}

	skipZeros := false
	if z, ok := dst.(dut.Zeroed); ok {
		skipZeros = z.Zeroed()
	}
	h := sha256.New()
	buf := make([]byte, BlockSize)
	zero := make([]byte, BlockSize)
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("image: flashing stopped at %d bytes: %w", off, err)
		}
		n, rerr := fill(r, buf)
		if rerr != nil && rerr != io.EOF {
			return res, fmt.Errorf("image: reading the %s stream at %d bytes: %w", format, off, rerr)
		}
		if off == 0 && !IsDiskImage(buf[:n]) {
			return res, fmt.Errorf("%w (format %s)", ErrNotDiskImage, format)
		}
		if n == 0 {
			break
		}
		block := buf[:n]
		h.Write(block)
		if skipZeros && bytes.Equal(block, zero[:n]) {
			res.Skipped += int64(n)
		} else {
			if _, err := dst.WriteAt(block, off); err != nil {
				return res, fmt.Errorf("image: writing at %d bytes: %w", off, err)
			}
			res.Written += int64(n)
		}
		off += int64(n)
		if progress != nil {
			progress(off)
		}
		if rerr != nil {
			break
		}
	}
	if t, ok := dst.(truncater); ok && skipZeros {
		if err := t.Truncate(off); err != nil {
			return res, fmt.Errorf("image: setting the target's size: %w", err)
		}
	}
	if err := dst.Sync(); err != nil {
		return res, fmt.Errorf("image: syncing the target: %w", err)
	}
	res.ImageBytes = off
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	res.Duration = time.Since(start)
	return res, nil
}

// fill reads until buf is full or the stream ends. Unlike io.ReadFull it
// returns io.EOF only for a clean end, so a decoder's own
// io.ErrUnexpectedEOF (a truncated stream) stays an error.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
