package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
)

// deviceTarget hides the file behind a target, as a block device's
// target has no extents to ask for.
type deviceTarget struct{ dut.Target }

func TestFlashDeltaFromFile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		target func(t *testing.T, size int) (dut.Target, string)
	}{
		{"file target", func(t *testing.T, size int) (dut.Target, string) {
			f := garbageTarget(t, size)
			return f, f.Name()
		}},
		{"device-like target", func(t *testing.T, size int) (dut.Target, string) {
			f := garbageTarget(t, size)
			return deviceTarget{f}, f.Name()
		}},
		{"sparse file target holding an earlier image", func(t *testing.T, size int) (dut.Target, string) {
			old, _ := sparseDisk(t, 9) // data where the new image may have holes
			p := filepath.Join(t.TempDir(), "target")
			b, _ := os.ReadFile(old)
			os.WriteFile(p, b, 0o644)
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f, p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, img := sparseDisk(t, 1)
			dst, name := tc.target(t, len(img))
			src := func(p string) *os.File {
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				return f
			}
			first, err := Flash(ctx, dst, src(path), Options{Delta: true, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(name); !bytes.Equal(got, img) {
				t.Fatalf("after a delta flash over other contents the target differs from the image (%+v)", first)
			}
			again, err := Flash(ctx, dst, src(path), Options{Delta: true, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if again.Written != 0 || again.Unchanged != int64(len(img)) || !again.Verified {
				t.Fatalf("re-flash of the same image: %+v", again)
			}
			// A second image: different bytes in the same extents.
			path2, img2 := sparseDisk(t, 2)
			third, err := Flash(ctx, dst, src(path2), Options{Delta: true, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(name); !bytes.Equal(got, img2) {
				t.Fatal("target differs from the second image")
			}
			if third.Written == 0 || third.Written > 4<<20 {
				t.Errorf("the second image wrote %d bytes; want only its changed data extents", third.Written)
			}
		})
	}
}

func TestSpanSets(t *testing.T) {
	s := []span{{10, 20}, {30, 40}}
	if got, want := complement(s, 50), []span{{0, 10}, {20, 30}, {40, 50}}; !slices.Equal(got, want) {
		t.Errorf("complement = %v, want %v", got, want)
	}
	if got, want := complement(nil, 5), []span{{0, 5}}; !slices.Equal(got, want) {
		t.Errorf("complement of nothing = %v, want %v", got, want)
	}
	if got, want := intersect([]span{{0, 10}, {20, 30}}, []span{{5, 25}}), []span{{5, 10}, {20, 25}}; !slices.Equal(got, want) {
		t.Errorf("intersect = %v, want %v", got, want)
	}
}
