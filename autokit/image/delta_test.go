package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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
	if got, want := merge([]span{{30, 40}, {0, 10}, {10, 15}, {35, 50}, {60, 70}}), []span{{0, 15}, {30, 50}, {60, 70}}; !slices.Equal(got, want) {
		t.Errorf("merge = %v, want %v", got, want)
	}
}

// unreadableTarget fails reads from at on.
type unreadableTarget struct {
	dut.Target
	at int64
}

func (u unreadableTarget) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > u.at {
		return 0, syscall.EIO
	}
	return u.Target.ReadAt(p, off)
}

// TestFlashDeltaFailures: a delta flash stops at a target it cannot
// read, or when cancelled while its readers are ahead of the writer, and
// says why.
func TestFlashDeltaFailures(t *testing.T) {
	path, img := sparseDisk(t, 1)
	open := func() *os.File {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	t.Run("unreadable target", func(t *testing.T) {
		dst := unreadableTarget{garbageTarget(t, len(img)), 9 << 20}
		_, err := Flash(context.Background(), dst, open(), Options{Delta: true})
		if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "reading the target") {
			t.Fatalf("err = %v, want the target's read error", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var calls int
		_, err := Flash(ctx, garbageTarget(t, len(img)), open(), Options{Delta: true, Progress: func(int64) {
			if calls++; calls == 2 {
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want cancellation", err)
		}
	})
}

// TestReadahead: the kernel is asked for the spans a window ahead of the
// reader, 8 MiB at a time, and for nothing past them.
func TestReadahead(t *testing.T) {
	const mib = 1 << 20
	f := newFile(t)
	r := &readahead{fd: int(f.Fd()), spans: []span{{0, 20 * mib}, {30 * mib, 31 * mib}, {40 * mib, 80 * mib}}}
	r.advance(0)
	if r.advised != 37*mib || r.i != 2 || r.next != 56*mib {
		t.Fatalf("after advance(0): advised %d MiB, span %d from %d MiB; want 37 MiB, span 2 from 56 MiB", r.advised/mib, r.i, r.next/mib)
	}
	r.advance(10 * mib)
	if r.advised != 45*mib || r.next != 64*mib {
		t.Fatalf("after advance(10 MiB): advised %d MiB up to %d MiB; want 45, 64", r.advised/mib, r.next/mib)
	}
	r.advance(1 << 40)
	if r.advised != 61*mib || r.i != 3 {
		t.Fatalf("at the end: advised %d MiB, span %d; want all 61 MiB of the 3 spans", r.advised/mib, r.i)
	}
	var none *readahead
	none.advance(0)
}
