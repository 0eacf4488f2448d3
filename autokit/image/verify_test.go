package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
)

// faultyTarget is a file target that does not hold what was written to
// it at one offset, at (a sub-block's start), as a failing medium might:
// it drops that sub-block of the write that covers it, or alters a byte
// of it, and says it wrote everything.
type faultyTarget struct {
	*os.File
	at    int64
	alter bool
}

func (f *faultyTarget) WriteAt(p []byte, off int64) (int, error) {
	i := f.at - off
	if i < 0 || i >= int64(len(p)) {
		return f.File.WriteAt(p, off)
	}
	if f.alter {
		q := bytes.Clone(p)
		q[i+5] ^= 0x01
		return f.File.WriteAt(q, off)
	}
	end := min(i+SubBlock, int64(len(p)))
	if _, err := f.File.WriteAt(p[:i], off); err != nil {
		return 0, err
	}
	if _, err := f.File.WriteAt(p[end:], off+end); err != nil {
		return 0, err
	}
	return len(p), nil
}

// zeroedTarget claims to read back zeros, which a fresh file does.
type zeroedTarget struct{ dut.Target }

func (zeroedTarget) Zeroed() bool { return true }

// countingTarget counts the bytes read from it.
type countingTarget struct {
	*os.File
	read atomic.Int64
}

func (c *countingTarget) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	c.read.Add(int64(n))
	return n, err
}

func (*countingTarget) Zeroed() bool { return true }

// newFile is an empty file target in a test directory.
func newFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "target"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestVerifyCatchesBadMedium: verification of a streamed image (no block
// map) fails with a *ChecksumError naming the sub-block that does not
// hold what was written — a dropped write on a sparse file (a hole where
// data belongs, found without reading it), on a device-like target and
// over old contents, an altered write, and data where the image has
// zeros on a target that claims to read back zeros.
func TestVerifyCatchesBadMedium(t *testing.T) {
	_, img := sparseDisk(t, 11)
	img = img[:len(img)-1000]   // a short last sub-block
	const at = 9<<20 + SubBlock // inside the image's 2 MiB data extent
	const stray = 16 << 20      // zeros in the image
	for _, tc := range []struct {
		name   string
		target func(t *testing.T) dut.Target
		where  int64
		got    string
	}{
		{"write dropped on a sparse file", func(t *testing.T) dut.Target {
			return &faultyLossyZeroed{faultyTarget{File: newFile(t), at: at}}
		}, at, "a hole (zeros)"},
		{"write dropped on a device-like target", func(t *testing.T) dut.Target {
			f := newFile(t)
			f.Truncate(int64(len(img))) // a device reads zeros to its end
			return zeroedTarget{deviceTarget{&faultyTarget{File: f, at: at}}}
		}, at, "zeros"},
		{"write dropped over old contents", func(t *testing.T) dut.Target {
			return &faultyTarget{File: garbageTarget(t, len(img)), at: at}
		}, at, "different data"},
		{"write altered", func(t *testing.T) dut.Target {
			return &faultyLossyZeroed{faultyTarget{File: newFile(t), at: at, alter: true}}
		}, at, "different data"},
		{"data where the image has zeros", func(t *testing.T) dut.Target {
			f := newFile(t)
			f.WriteAt(bytes.Repeat([]byte{0xee}, 4096), stray+8192)
			return zeroedFile{f}
		}, stray, "data"},
		{"data where the image has zeros, device-like", func(t *testing.T) dut.Target {
			f := newFile(t)
			f.WriteAt(bytes.Repeat([]byte{0xee}, 4096), stray+8192)
			f.Truncate(int64(len(img)))
			return zeroedTarget{deviceTarget{f}}
		}, stray, "data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Flash(context.Background(), tc.target(t), bytes.NewReader(compress(t, Zstd, img)), Options{Verify: true})
			var ce *ChecksumError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ChecksumError", err)
			}
			if want := fmt.Sprintf("target's bytes %d-%d after writing (verify)", tc.where, tc.where+SubBlock); ce.What != want || ce.Got != tc.got {
				t.Fatalf("mismatch for the %q, got %q; want the %q, got %q", ce.What, ce.Got, want, tc.got)
			}
			var de *DirtyError
			if !errors.As(err, &de) {
				t.Errorf("err = %v, want the target marked dirty", err)
			}
		})
	}
}

// faultyLossyZeroed is a faultyTarget on a fresh file, which reads back
// zeros.
type faultyLossyZeroed struct{ faultyTarget }

func (*faultyLossyZeroed) Zeroed() bool { return true }

// TestVerifySums: a streamed image verifies on every kind of target, of
// any size, and on a sparse file only the sub-blocks that hold data are
// read back.
func TestVerifySums(t *testing.T) {
	_, img := sparseDisk(t, 12)
	ctx := context.Background()
	for _, size := range []int{len(img), len(img) - 1000, 3*SubBlock + 512} {
		img := img[:size]
		for _, tc := range []struct {
			name   string
			target func(t *testing.T) dut.Target
		}{
			{"sparse file", func(t *testing.T) dut.Target { return zeroedFile{newFile(t)} }},
			{"old contents", func(t *testing.T) dut.Target { return garbageTarget(t, len(img)+SubBlock) }},
			{"device-like", func(t *testing.T) dut.Target { return deviceTarget{garbageTarget(t, len(img))} }},
		} {
			t.Run(fmt.Sprintf("%s/%d bytes", tc.name, size), func(t *testing.T) {
				res, err := Flash(ctx, tc.target(t), bytes.NewReader(compress(t, Gzip, img)), Options{Verify: true})
				if err != nil {
					t.Fatal(err)
				}
				// Verification needs no digest of the whole image: it is
				// computed only when asked for (Digest, SHA256).
				if !res.Verified || res.Compared || res.SHA256 != "" {
					t.Fatalf("result %+v", res)
				}
			})
		}
	}
	t.Run("holes are not read", func(t *testing.T) {
		dst := &countingTarget{File: newFile(t)}
		res, err := Flash(ctx, dst, bytes.NewReader(compress(t, Zstd, img)), Options{Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := fileSpans(int(dst.Fd()), int64(len(img))); !ok {
			t.Skip("the temporary directory's filesystem cannot tell a file's holes (SEEK_HOLE)")
		}
		if res.Written == 0 || dst.read.Load() != res.Written {
			t.Fatalf("verify read %d bytes back; want what was written, %d bytes of the %d-byte image", dst.read.Load(), res.Written, len(img))
		}
	})
	t.Run("a file shorter than the image", func(t *testing.T) {
		f := newFile(t)
		sums := newBlockSums()
		for i := 0; i < len(img); i += SubBlock {
			b := img[i:min(i+SubBlock, len(img))]
			sums.add(b, allZeros(b))
		}
		f.Write(img[:len(img)-4096])
		err := verifySums(ctx, f, int64(len(img)), sums)
		if err == nil || !strings.Contains(err.Error(), "the target holds") {
			t.Fatalf("err = %v, want the target found too short", err)
		}
	})
}

func TestAllZeros(t *testing.T) {
	b := make([]byte, 3*SubBlock+7)
	if !allZeros(b) || !allZeros(nil) {
		t.Fatal("zeros not seen as zeros")
	}
	for _, i := range []int{0, SubBlock - 1, SubBlock, 2*SubBlock + 5, len(b) - 1} {
		b[i] = 1
		if allZeros(b) {
			t.Errorf("a byte at %d not seen", i)
		}
		b[i] = 0
	}
}

// TestVerifyCatchesBadDevice: on a block device, which has no holes to
// ask for, every sub-block is read back and a dropped write is found.
func TestVerifyCatchesBadDevice(t *testing.T) {
	dev, _ := loopDevice(t, 8<<20, 512)
	_, img := oddDisk(t, 3<<20+1000)
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const at = 1<<20 + 4*SubBlock // inside the image's 300 000-byte extent
	// Buffered: the faulty target's own WriteAt is the one that writes.
	_, err = Flash(context.Background(), &faultyTarget{File: f, at: at}, bytes.NewReader(compress(t, Zstd, img)), Options{Verify: true, Buffered: true})
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.What != fmt.Sprintf("target's bytes %d-%d after writing (verify)", at, at+SubBlock) {
		t.Fatalf("err = %v, want a verify mismatch at %d", err, at)
	}
}

// TestFileSpans: a file's data extents within its first size bytes, and
// none from past them.
func TestFileSpans(t *testing.T) {
	f := newFile(t)
	f.WriteAt(bytes.Repeat([]byte{1}, 8192), 1<<20)
	f.WriteAt(bytes.Repeat([]byte{1}, 8192), 4<<20)
	f.Seek(12345, io.SeekStart)
	spans, ok := fileSpans(int(f.Fd()), 2<<20)
	if !ok {
		t.Skip("the temporary directory's filesystem cannot tell a file's holes (SEEK_HOLE)")
	}
	if want := []span{{1 << 20, 1<<20 + 8192}}; !slices.Equal(spans, want) {
		t.Errorf("spans = %v, want %v", spans, want)
	}
	if at, _ := f.Seek(0, io.SeekCurrent); at != 12345 {
		t.Errorf("the file's offset moved to %d", at)
	}
}

// TestVerifySpansNamesTheSubBlock: an uncompressed image file, compared
// with the target byte for byte, names the sub-block that differs.
func TestVerifySpansNamesTheSubBlock(t *testing.T) {
	path, _ := sparseDisk(t, 5)
	const at = 9<<20 + SubBlock
	for _, delta := range []bool{false, true} {
		t.Run(fmt.Sprintf("delta=%v", delta), func(t *testing.T) {
			var dst dut.Target = &faultyLossyZeroed{faultyTarget{File: newFile(t), at: at}}
			if delta {
				dst = &faultyTarget{File: newFile(t), at: at}
			}
			_, err := Flash(context.Background(), dst, mustOpen(t, path), Options{Verify: true, Delta: delta})
			var ce *ChecksumError
			if !errors.As(err, &ce) || ce.What != fmt.Sprintf("target's bytes %d-%d after writing (verify)", at, at+SubBlock) {
				t.Fatalf("err = %v, want a mismatch of the sub-block at %d", err, at)
			}
		})
	}
}

func TestChecksumErrorMessage(t *testing.T) {
	sum := sha256Hex([]byte("x"))
	for _, tc := range []struct {
		e    ChecksumError
		want string
	}{
		{ChecksumError{"image", sum, sha256Hex(nil)}, "image: checksum mismatch for the image: want sha256 " + sum + ", got " + sha256Hex(nil)},
		{ChecksumError{"target's bytes 0-65536 after writing (verify)", "zeros", "data"}, "image: checksum mismatch for the target's bytes 0-65536 after writing (verify): want zeros, got data"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
