package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
)

// wantDirty checks the file at path starts with DirtyHead zeros (or is
// all zeros when shorter) and ends with DirtyTail zeros.
func wantDirty(t *testing.T, path string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head := got[:min(len(got), DirtyHead)]
	if !bytes.Equal(head, make([]byte, len(head))) {
		t.Fatal("the target's first MiB was not wiped")
	}
	if len(got) > DirtyHead {
		tail := got[len(got)-min(DirtyTail, len(got)-DirtyHead):]
		if !bytes.Equal(tail, make([]byte, len(tail))) {
			t.Fatal("the target's backup GPT was not wiped")
		}
	}
}

// failingTarget fails every write once n bytes were written: a card
// pulled out, a USB reader that resets. With once, only the write that
// crosses n fails (a transient fault), so marking it dirty succeeds.
type failingTarget struct {
	dut.Target
	n       int64
	once    bool
	written int64
	failed  bool
}

func (f *failingTarget) WriteAt(p []byte, off int64) (int, error) {
	if (!f.failed || !f.once) && f.written+int64(len(p)) > f.n {
		f.failed = true
		k := max(f.n-f.written, 0)
		n, _ := f.Target.WriteAt(p[:k], off)
		f.written += int64(n)
		return n, syscall.EIO
	}
	n, err := f.Target.WriteAt(p, off)
	f.written += int64(n)
	return n, err
}

func (f *failingTarget) Sync() error {
	if f.failed && !f.once {
		return syscall.EIO
	}
	return f.Target.Sync()
}

func TestFlashFailureMarksDirty(t *testing.T) {
	img := bigDisk()
	ctx := context.Background()
	t.Run("corrupt stream after writing started", func(t *testing.T) {
		gz := compress(t, Gzip, img)
		dst := garbageTarget(t, 8<<20)
		_, err := Flash(ctx, dst, bytes.NewReader(gz[:len(gz)*3/4]), Options{})
		var de *DirtyError
		if !errors.As(err, &de) || de.MarkErr != nil || !strings.Contains(err.Error(), "the target was marked dirty (partition table wiped)") {
			t.Fatalf("err = %v", err)
		}
		wantDirty(t, dst.Name())
	})
	t.Run("checksum known only at the end", func(t *testing.T) {
		dst := garbageTarget(t, 0)
		_, err := Flash(ctx, dst, bytes.NewReader(img), Options{SHA256: strings.Repeat("1", 64)})
		var ce *ChecksumError
		var de *DirtyError
		if !errors.As(err, &ce) || !errors.As(err, &de) {
			t.Fatalf("err = %v", err)
		}
		wantDirty(t, dst.Name())
	})
	t.Run("delta that wrote nothing is not dirty", func(t *testing.T) {
		dst := garbageTarget(t, 0)
		if _, err := Flash(ctx, dst, bytes.NewReader(img), Options{}); err != nil {
			t.Fatal(err)
		}
		_, err := Flash(ctx, dst, bytes.NewReader(img), Options{Delta: true, SHA256: strings.Repeat("1", 64)})
		var de *DirtyError
		if err == nil || errors.As(err, &de) {
			t.Fatalf("err = %v, want a clean checksum failure", err)
		}
		if got, _ := os.ReadFile(dst.Name()); !bytes.Equal(got, img) {
			t.Fatal("the target changed")
		}
	})
	t.Run("source sha256 mismatch", func(t *testing.T) {
		gz := compress(t, Gzip, img)
		dst := garbageTarget(t, 0)
		_, err := Flash(ctx, dst, bytes.NewReader(gz), Options{SourceSHA256: strings.Repeat("2", 64)})
		var ce *ChecksumError
		if !errors.As(err, &ce) || ce.What != "download" || !strings.Contains(err.Error(), "marked dirty") {
			t.Fatalf("err = %v", err)
		}
		wantDirty(t, dst.Name())
		dst = garbageTarget(t, 0)
		if _, err := Flash(ctx, dst, bytes.NewReader(gz), Options{SourceSHA256: sha256Hex(gz)}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFlashTargetFaults: targets that refuse writes or fail partway.
func TestFlashTargetFaults(t *testing.T) {
	img := bigDisk()
	ctx := context.Background()
	t.Run("read-only", func(t *testing.T) {
		rw := garbageTarget(t, 4096)
		ro, err := os.Open(rw.Name())
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		_, err = Flash(ctx, ro, bytes.NewReader(img), Options{})
		var de *DirtyError
		if err == nil || !strings.Contains(err.Error(), "not writable") || errors.As(err, &de) {
			t.Fatalf("err = %v, want a not-writable error, not a dirty one", err)
		}
	})
	for _, once := range []bool{true, false} {
		name := "disappears mid-write"
		if once {
			name = "one failed write"
		}
		t.Run(name, func(t *testing.T) {
			f := garbageTarget(t, len(img))
			dst := &failingTarget{Target: f, n: 2<<20 + 100, once: once}
			_, err := Flash(ctx, dst, bytes.NewReader(img), Options{Verify: true})
			var de *DirtyError
			if !errors.As(err, &de) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "writing at 2097252 bytes") {
				t.Fatalf("err = %v, want EIO at the failing offset", err)
			}
			if once {
				if de.MarkErr != nil {
					t.Fatalf("marking failed: %v", de.MarkErr)
				}
				wantDirty(t, f.Name())
			} else if de.MarkErr == nil || !strings.Contains(err.Error(), "marking the target dirty failed too") {
				t.Fatalf("err = %v, want marking to fail too", err)
			}
		})
	}
}

func TestMarkDirtyDoesNotGrowAFile(t *testing.T) {
	f := garbageTarget(t, 10000)
	if err := MarkDirty(f, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f.Name()); !bytes.Equal(got, make([]byte, 10000)) {
		t.Fatalf("after MarkDirty the file holds %d bytes, not 10000 zeros", len(got))
	}
}

func sha256Hex(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

// bigDisk is an image of several pipeline chunks: an MBR, then random
// data from 1 MiB to 9 MiB, so a failure late in the stream comes after
// writing started.
func bigDisk() []byte {
	img := make([]byte, 10<<20)
	img[510], img[511] = 0x55, 0xaa
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 1 << 20; i < 9<<20; i++ {
		img[i] = byte(rng.IntN(256))
	}
	return img
}
