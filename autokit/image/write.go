package image

import (
	"context"
	"io"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Result describes a finished flash.
type Result struct {
	Format     Format `json:"format"`
	ImageBytes int64  `json:"image_bytes"` // decompressed size
	Written    int64  `json:"written"`     // bytes actually written
	Skipped    int64  `json:"skipped"`     // zero bytes not written to a target that reads back zeros
	Unchanged  int64  `json:"unchanged"`   // delta: bytes the target already held
	Unmapped   int64  `json:"unmapped"`    // bmap: bytes outside the mapped ranges
	SHA256     string `json:"sha256"`      // of the decompressed image
	Verified   bool   `json:"verified"`    // the target was read back and matched
	// Compared says the read-back was compared with the image file
	// itself (an uncompressed file written by its extents or as a
	// delta), not with a record made while writing.
	Compared bool `json:"compared,omitempty"`
	// Direct says the target, a block device, was written with O_DIRECT.
	Direct bool `json:"direct,omitempty"`
	// VerifyDuration is the read-back's share of Duration.
	VerifyDuration time.Duration `json:"verify_duration"`
	Duration       time.Duration `json:"duration"`
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

// Write is Flash with only a progress callback (and the image's digest).
func Write(ctx context.Context, dst dut.Target, src io.Reader, progress func(done int64)) (Result, error) {
	return Flash(ctx, dst, src, Options{Progress: progress, Digest: true})
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
