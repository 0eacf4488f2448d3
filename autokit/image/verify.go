package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"sync"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image/bmap"
)

// blockSums is the record of an image that verification compares the
// target with, made as the image streams past: per sub-block, 0 when it
// is all zeros, otherwise a 64-bit keyed hash of its bytes (hash/maphash,
// never 0). The key (the seed) is drawn at random for each flash, so no
// image and no fault of a medium can be made to match a wrong block; a
// wrong block matches by chance once in 2⁶⁴. It costs 8 bytes per
// sub-block (128 KiB per GiB of image) and hashes at memory speed, where
// SHA-256 runs at a tenth of it.
type blockSums struct {
	seed maphash.Seed
	sums []uint64
}

func newBlockSums() *blockSums {
	return &blockSums{seed: maphash.MakeSeed()}
}

// sum is the record of the sub-block b, whose all-zeros test is zero.
func (s *blockSums) sum(b []byte, zero bool) uint64 {
	if zero {
		return 0
	}
	if h := maphash.Bytes(s.seed, b); h != 0 {
		return h
	}
	return 1
}

// add records the next sub-block of the image, b.
func (s *blockSums) add(b []byte, zero bool) {
	s.sums = append(s.sums, s.sum(b, zero))
}

// allZeros reports whether b holds only zero bytes.
func allZeros(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// verifySums reads back the first size bytes of dst and compares each
// sub-block with the record s made while writing. On a target that is a
// regular file, sub-blocks that lie wholly in its holes read as zeros by
// definition and are not read: they pass where the image had zeros and
// fail where it had data. A mismatch is a *ChecksumError naming the
// sub-block's bytes.
func verifySums(ctx context.Context, dst dut.Target, size int64, s *blockSums) error {
	if want := (size + SubBlock - 1) / SubBlock; int64(len(s.sums)) != want {
		return fmt.Errorf("image: verify: %d sub-blocks recorded for a %d-byte image", len(s.sums), size)
	}
	spans := []span{{0, size}}
	holes, ok, err := targetHoles(dst, size)
	if err != nil {
		return err
	}
	if ok {
		spans = complement(holes, size)
		for _, h := range holes {
			for i := h.off / SubBlock; i*SubBlock < h.end; i++ {
				if s.sums[i] != 0 {
					return verifyError(i*SubBlock, min((i+1)*SubBlock, size), "the image's data", "a hole (zeros)")
				}
			}
		}
	}
	ps := pieces(spans, verifyBuffer)
	return eachPiece(ctx, len(ps), verifyBuffer, func(k int, buf []byte) error {
		off, p := ps[k].off, buf[:ps[k].end-ps[k].off]
		if err := readFull(dst, p, off); err != nil {
			return err
		}
		for i := 0; i < len(p); i += SubBlock {
			b := p[i:min(i+SubBlock, len(p))]
			at := off + int64(i)
			want := s.sums[at/SubBlock]
			zero := allZeros(b)
			if s.sum(b, zero) == want {
				continue
			}
			switch {
			case want == 0:
				return verifyError(at, at+int64(len(b)), "zeros", "data")
			case zero:
				return verifyError(at, at+int64(len(b)), "the image's data", "zeros")
			default:
				return verifyError(at, at+int64(len(b)), "the image's data", "different data")
			}
		}
		return nil
	})
}

// verifyError is the *ChecksumError of the target's bytes from-to that
// do not hold what was written.
func verifyError(from, to int64, want, got string) error {
	return &ChecksumError{What: fmt.Sprintf("target's bytes %d-%d after writing (verify)", from, to), Want: want, Got: got}
}

// targetData returns the data extents of dst's first size bytes when dst
// is a regular file with a descriptor whose filesystem can tell its holes
// (SEEK_HOLE); ok is false otherwise.
func targetData(dst dut.Target, size int64) (data []span, ok bool) {
	fd, ok := fileDescriptor(dst)
	if !ok {
		return nil, false
	}
	if fi, err := dst.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	return fileSpans(fd, size)
}

// targetHoles returns the parts of dst's first size bytes that are holes
// in a regular file, narrowed to whole sub-blocks (a sub-block with any
// data in it is read). ok is false when dst is not a regular file with a
// descriptor, or its filesystem cannot tell its holes: then all of it
// must be read. A regular file shorter than size is an error: it does not
// hold the image.
func targetHoles(dst dut.Target, size int64) (holes []span, ok bool, err error) {
	data, ok := targetData(dst, size)
	if !ok {
		return nil, false, nil
	}
	if fi, err := dst.Stat(); err == nil && fi.Size() < size {
		return nil, false, fmt.Errorf("image: verify: the target holds %d bytes, the image %d", fi.Size(), size)
	}
	for _, h := range complement(data, size) {
		// Only sub-blocks wholly inside the hole; the last one of the
		// image may be short.
		from := (h.off + SubBlock - 1) / SubBlock * SubBlock
		to := h.end / SubBlock * SubBlock
		if h.end == size {
			to = size
		}
		if from < to {
			holes = append(holes, span{from, to})
		}
	}
	return holes, true, nil
}

// fileDescriptor returns dst's file descriptor when it has one: an
// *os.File, a type embedding one, or one that offers its file as
// OSFile (as dut storage targets do).
func fileDescriptor(dst dut.Target) (int, bool) {
	switch t := dst.(type) {
	case fder:
		return int(t.Fd()), true
	case interface{ OSFile() *os.File }:
		if f := t.OSFile(); f != nil {
			return int(f.Fd()), true
		}
	}
	return 0, false
}

// verifyWorkers is how many pieces verification reads and checks at
// once: it keeps both cores busy hashing a file target's pages and a
// few reads in flight on a device.
const verifyWorkers = 4

// verifyBuffer is the size of each verify worker's buffer: reads of 1 MiB
// keep a device busy, and four workers touch 4 MiB of fresh memory, not
// the 16 MiB that ChunkSize buffers took (fresh memory is dear to touch
// on some hosts; see chunkBuffers).
const verifyBuffer = 1 << 20

// eachPiece calls fn(i, buf) for i in [0, n) on verifyWorkers goroutines,
// each with its own buffer of size bytes, and returns the error of the lowest
// i that failed: once one failed, no higher i is started, and every lower
// one still runs, so the first failing piece is the one reported.
func eachPiece(ctx context.Context, n, size int, fn func(i int, buf []byte) error) error {
	var (
		mu     sync.Mutex
		next   int
		failed = n // the lowest i that failed
		first  error
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= failed {
			return 0, false
		}
		next++
		return next - 1, true
	}
	fail := func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if i < failed {
			failed, first = i, err
		}
	}
	var wg sync.WaitGroup
	for range min(verifyWorkers, n) {
		wg.Go(func() {
			buf := alignedBuf(size)
			for {
				i, ok := take()
				if !ok {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(i, fmt.Errorf("image: verifying stopped: %w", err))
					return
				}
				if err := fn(i, buf); err != nil {
					fail(i, err)
				}
			}
		})
	}
	wg.Wait()
	return first
}

// readFull reads len(p) bytes of dst at off for verification.
func readFull(dst io.ReaderAt, p []byte, off int64) error {
	n, err := dst.ReadAt(p, off)
	if err != nil && !(err == io.EOF && n == len(p)) {
		return fmt.Errorf("image: verify: reading the target at %d bytes: %w", off+int64(n), err)
	}
	return nil
}

// pieces splits spans into pieces of at most n bytes (a multiple of
// SubBlock); a span that starts on a sub-block is split on sub-blocks.
func pieces(spans []span, n int64) []span {
	var out []span
	for _, s := range spans {
		for off := s.off; off < s.end; off += n {
			out = append(out, span{off, min(off+n, s.end)})
		}
	}
	return out
}

// verifyBmap re-reads dst's ranges that m maps and compares each one's
// SHA-256 with the block map's, several ranges at once.
func verifyBmap(ctx context.Context, dst dut.Target, size int64, m *bmap.Map) error {
	return eachPiece(ctx, len(m.Ranges), verifyBuffer, func(i int, buf []byte) error {
		rg := m.Ranges[i]
		h := sha256.New()
		for off, end := rg.First*m.BlockSize, min((rg.Last+1)*m.BlockSize, size); off < end; {
			p := buf[:min(int64(len(buf)), end-off)]
			if err := readFull(dst, p, off); err != nil {
				return err
			}
			h.Write(p)
			off += int64(len(p))
		}
		if rg.SHA256 == "" {
			return nil
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != rg.SHA256 {
			return &ChecksumError{What: fmt.Sprintf("target's bmap range %d (blocks %d-%d) after writing (verify)", i, rg.First, rg.Last), Want: rg.SHA256, Got: got}
		}
		return nil
	})
}
