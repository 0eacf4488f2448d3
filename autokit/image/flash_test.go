package image

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/balena/leviathan-action/autokit/image/bmap"
)

// sparseDisk writes a sparse image file: an MBR, then data extents of
// varied sizes at scattered offsets, holes elsewhere. It returns the
// path and the image's bytes.
func sparseDisk(t *testing.T, seed uint64) (string, []byte) {
	t.Helper()
	img := make([]byte, 24<<20)
	img[510], img[511] = 0x55, 0xaa
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, ext := range [][2]int{{1 << 20, 4096}, {3<<20 + 12288, 70000}, {9 << 20, 2 << 20}, {20<<20 + 4096, 8192}} {
		for i := ext[0]; i < ext[0]+ext[1]; i++ {
			img[i] = byte(rng.IntN(255) + 1)
		}
	}
	p := filepath.Join(t.TempDir(), "sparse.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Truncate(int64(len(img)))
	for off := 0; off < len(img); off += 4096 {
		if !bytes.Equal(img[off:off+4096], zeros[:4096]) {
			f.WriteAt(img[off:off+4096], int64(off))
		}
	}
	return p, img
}

// createBmap runs the real bmaptool on path.
func createBmap(t *testing.T, path string) *bmap.Map {
	t.Helper()
	if _, err := exec.LookPath("bmaptool"); err != nil {
		t.Skip("bmaptool is not installed (apt-get install bmap-tools); it makes the block maps these tests read")
	}
	out, err := exec.Command("bmaptool", "create", path).Output()
	if err != nil {
		t.Fatalf("bmaptool create: %v", err)
	}
	m, err := bmap.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// garbageTarget is a target file already full of non-zero bytes, like a
// used SD card.
func garbageTarget(t *testing.T, size int) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "target"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	f.Write(bytes.Repeat([]byte{0xee}, size))
	return f
}

func TestFlashWithBmap(t *testing.T) {
	path, img := sparseDisk(t, 1)
	m := createBmap(t, path)
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(img)
	zw.Close()
	dst := garbageTarget(t, len(img))
	res, err := Flash(context.Background(), dst, bytes.NewReader(zs.Bytes()), Options{Bmap: m, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Unmapped == 0 || res.Written+res.Unmapped != int64(len(img)) {
		t.Fatalf("result %+v", res)
	}
	got, _ := os.ReadFile(dst.Name())
	for _, r := range m.Ranges {
		from, to := r.First*m.BlockSize, min((r.Last+1)*m.BlockSize, int64(len(img)))
		if !bytes.Equal(got[from:to], img[from:to]) {
			t.Fatalf("mapped range %d-%d differs on the target", r.First, r.Last)
		}
	}
}

func TestFlashBmapOfAnotherImage(t *testing.T) {
	pathA, _ := sparseDisk(t, 1)
	_, imgB := sparseDisk(t, 2)
	m := createBmap(t, pathA)
	_, err := Flash(context.Background(), garbageTarget(t, len(imgB)), bytes.NewReader(imgB), Options{Bmap: m})
	var ce *ChecksumError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "does not match its bmap") {
		t.Fatalf("err = %v, want a bmap checksum mismatch", err)
	}
}

// TestFlashFileBmapMismatch: an image file (read extent by extent) fails
// against a block map made for
// another image, and against one made for another size before anything
// is written.
func TestFlashFileBmapMismatch(t *testing.T) {
	pathA, imgA := sparseDisk(t, 1)
	m := createBmap(t, pathA)
	pathB, _ := sparseDisk(t, 2)
	longer := filepath.Join(t.TempDir(), "longer.img")
	if err := os.WriteFile(longer, append(bytes.Clone(imgA), make([]byte, 4096)...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want    string
		checksum, untouched bool
	}{
		{"another image", pathB, "does not match its bmap", true, false},
		{"another size", longer, "wrong bmap for this image", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			dst := garbageTarget(t, len(imgA))
			_, err = Flash(context.Background(), dst, f, Options{Bmap: m, Verify: true})
			var ce *ChecksumError
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &ce) != tc.checksum {
				t.Fatalf("err = %v, want one saying %q (a checksum error: %v)", err, tc.want, tc.checksum)
			}
			if got, _ := os.ReadFile(dst.Name()); tc.untouched && !bytes.Equal(got, bytes.Repeat([]byte{0xee}, len(imgA))) {
				t.Error("the target was written although the bmap was refused first")
			}
		})
	}
}

func TestFlashDelta(t *testing.T) {
	_, img := sparseDisk(t, 1)
	dst := garbageTarget(t, len(img))
	ctx := context.Background()
	full, err := Flash(ctx, dst, bytes.NewReader(img), Options{Delta: true})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Flash(ctx, dst, bytes.NewReader(img), Options{Delta: true, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Written != 0 || again.Unchanged != int64(len(img)) || !again.Verified {
		t.Fatalf("re-flash of the same image: %+v (first flash wrote %d)", again, full.Written)
	}
	changed := bytes.Clone(img)
	changed[9<<20+5] ^= 0xff
	third, err := Flash(ctx, dst, bytes.NewReader(changed), Options{Delta: true, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if third.Written != SubBlock {
		t.Fatalf("one changed byte wrote %d bytes, want one sub-block (%d)", third.Written, SubBlock)
	}
	if got, _ := os.ReadFile(dst.Name()); !bytes.Equal(got, changed) {
		t.Fatal("target differs from the changed image")
	}
}

// lossyTarget drops one write, as a failing card might.
type lossyTarget struct {
	*os.File
	dropped bool
}

func (l *lossyTarget) WriteAt(p []byte, off int64) (int, error) {
	if !l.dropped && off > 0 {
		l.dropped = true
		return len(p), nil
	}
	return l.File.WriteAt(p, off)
}

func TestFlashVerifyCatchesBadMedium(t *testing.T) {
	_, img := sparseDisk(t, 3)
	dst := &lossyTarget{File: garbageTarget(t, len(img))}
	_, err := Flash(context.Background(), dst, bytes.NewReader(img), Options{Verify: true})
	var ce *ChecksumError
	if !errors.As(err, &ce) || !strings.Contains(ce.What, "verify") {
		t.Fatalf("err = %v, want a verify mismatch", err)
	}
}

func TestFlashLimits(t *testing.T) {
	_, img := sparseDisk(t, 4)
	ctx := context.Background()
	t.Run("expected sha256", func(t *testing.T) {
		_, err := Flash(ctx, garbageTarget(t, len(img)), bytes.NewReader(img), Options{SHA256: strings.Repeat("0", 64)})
		var ce *ChecksumError
		if !errors.As(err, &ce) || ce.What != "image" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("decompression bomb", func(t *testing.T) {
		// 256 MiB of zeros compress to almost nothing; the target holds 8 MiB.
		var zs bytes.Buffer
		zw, _ := zstd.NewWriter(&zs)
		zw.Write(img[:4096])
		zw.Write(make([]byte, 256<<20))
		zw.Close()
		var done int64
		_, err := Flash(ctx, garbageTarget(t, 0), bytes.NewReader(zs.Bytes()), Options{Capacity: 8 << 20, Progress: func(n int64) { done = n }})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
		if done > 8<<20 {
			t.Errorf("kept going to %d bytes past an 8 MiB target", done)
		}
	})
}

// TestFlashRawFileExtents: a raw image file is read only where it holds
// data, with or without a block map, and verified extent by extent.
func TestFlashRawFileExtents(t *testing.T) {
	path, img := sparseDisk(t, 5)
	ctx := context.Background()
	t.Run("sparse file onto an empty target", func(t *testing.T) {
		f, _ := os.Open(path)
		defer f.Close()
		dst, _ := os.Create(filepath.Join(t.TempDir(), "t"))
		defer dst.Close()
		res, err := Flash(ctx, zeroedFile{dst}, f, Options{Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Verified || res.ImageBytes != int64(len(img)) || res.Skipped < int64(len(img))/2 {
			t.Fatalf("result %+v", res)
		}
		if got, _ := os.ReadFile(dst.Name()); !bytes.Equal(got, img) {
			t.Fatal("target differs from the image")
		}
	})
	t.Run("bmap onto a used target", func(t *testing.T) {
		m := createBmap(t, path)
		f, _ := os.Open(path)
		defer f.Close()
		dst := garbageTarget(t, len(img))
		res, err := Flash(ctx, dst, f, Options{Bmap: m, Verify: true})
		if err != nil || !res.Verified || res.Unmapped == 0 {
			t.Fatalf("result %+v, %v", res, err)
		}
		got, _ := os.ReadFile(dst.Name())
		for _, r := range m.Ranges {
			from, to := r.First*m.BlockSize, min((r.Last+1)*m.BlockSize, int64(len(img)))
			if !bytes.Equal(got[from:to], img[from:to]) {
				t.Fatalf("mapped range %d-%d differs", r.First, r.Last)
			}
		}
	})
	t.Run("verify catches a bad medium", func(t *testing.T) {
		f, _ := os.Open(path)
		defer f.Close()
		dst, _ := os.Create(filepath.Join(t.TempDir(), "t"))
		defer dst.Close()
		_, err := Flash(ctx, &lossyZeroed{lossyTarget{File: dst}}, f, Options{Verify: true})
		var ce *ChecksumError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want a verify mismatch", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		f, _ := os.Open(path)
		defer f.Close()
		dst, _ := os.Create(filepath.Join(t.TempDir(), "t"))
		defer dst.Close()
		if _, err := Flash(ctx, zeroedFile{dst}, f, Options{Capacity: 1 << 20}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
}

type lossyZeroed struct{ lossyTarget }

func (*lossyZeroed) Zeroed() bool { return true }
