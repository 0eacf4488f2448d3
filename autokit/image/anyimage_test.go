package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
)

// fsImage is an image without a partition table: an ext4 filesystem's
// layout (its superblock magic at 1080), data after it.
func fsImage() []byte {
	img := make([]byte, 2<<20+512)
	img[1080], img[1081] = 0x53, 0xef
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 1 << 20; i < 1<<20+70000; i++ {
		img[i] = byte(rng.IntN(255) + 1)
	}
	return img
}

// Every way Flash writes (a stream, a raw file's extents, a delta)
// refuses an image without a partition table unless AnyImage is set, and
// writes it exactly when it is.
func TestFlashAnyImage(t *testing.T) {
	img := fsImage()
	src := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(src, img, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		source func(t *testing.T) io.Reader
		zeroed bool // the target is a new file, reading back zeros
		delta  bool
	}{
		{name: "raw stream", source: func(*testing.T) io.Reader { return bytes.NewReader(img) }},
		{name: "gzip stream", source: func(t *testing.T) io.Reader { return bytes.NewReader(compress(t, Gzip, img)) }},
		{name: "raw file onto an empty target (extents)", source: openFile(src), zeroed: true},
		{name: "raw file, delta onto a used target", source: openFile(src), delta: true},
	} {
		for _, anyImage := range []bool{false, true} {
			name := tc.name + ", refused"
			if anyImage {
				name = tc.name + ", AnyImage"
			}
			t.Run(name, func(t *testing.T) {
				dst := garbageTarget(t, len(img))
				before := bytes.Repeat([]byte{0xee}, len(img))
				var target dut.Target = dst
				if tc.zeroed {
					dst.Truncate(0)
					target, before = zeroedFile{dst}, nil
				}
				res, err := Flash(ctx, target, tc.source(t), Options{Verify: true, Delta: tc.delta, AnyImage: anyImage})
				got, _ := os.ReadFile(dst.Name())
				if !anyImage {
					if !errors.Is(err, ErrNotDiskImage) || res.Written != 0 {
						t.Fatalf("err = %v, written %d; want ErrNotDiskImage and nothing written", err, res.Written)
					}
					if !bytes.Equal(got, before) {
						t.Fatal("the refused image touched the target")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !res.Verified || res.ImageBytes != int64(len(img)) {
					t.Errorf("result %+v", res)
				}
				if !bytes.Equal(got, img) {
					t.Fatal("target differs from the image")
				}
			})
		}
	}
}

func TestFlashAnyImageEmpty(t *testing.T) {
	dst := garbageTarget(t, 4096)
	_, err := Flash(context.Background(), dst, bytes.NewReader(nil), Options{AnyImage: true})
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("err = %v, want the empty image refused", err)
	}
}

func openFile(p string) func(t *testing.T) io.Reader {
	return func(t *testing.T) io.Reader {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
}
