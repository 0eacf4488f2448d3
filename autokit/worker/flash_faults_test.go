package worker_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/image/cache"
	"github.com/balena/leviathan-action/autokit/worker"
)

// bigImage is a GPT image of several pipeline chunks with random data
// from 1 MiB to size-1 MiB, so failures late in the stream come after
// writing started.
func bigImage(size int) []byte {
	img := duttest.GPTImage(size)
	rng := rand.New(rand.NewPCG(8, 9))
	for i := 1 << 20; i < size-1<<20; i++ {
		img[i] = byte(rng.IntN(256))
	}
	return img
}

// faultyStorage is the fake DUT with a storage that fails: open fails
// with openErr when set; otherwise writes fail with EIO once failAfter
// bytes were written (when > 0).
type faultyStorage struct {
	*duttest.DUT
	openErr   error
	failAfter int64
}

func (f *faultyStorage) Open(ctx context.Context) (dut.Target, error) {
	if f.openErr != nil {
		return nil, f.openErr
	}
	t, err := f.DUT.Open(ctx)
	if err != nil || f.failAfter == 0 {
		return t, err
	}
	return &eioTarget{Target: t, left: f.failAfter}, nil
}

// eioTarget fails writes past its first left bytes, as a card pulled out
// mid-write does; later writes fail too.
type eioTarget struct {
	dut.Target
	mu   sync.Mutex
	left int64
}

func (e *eioTarget) WriteAt(p []byte, off int64) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if int64(len(p)) > e.left {
		n, _ := e.Target.WriteAt(p[:e.left], off)
		e.left = 0
		return n, syscall.EIO
	}
	e.left -= int64(len(p))
	return e.Target.WriteAt(p, off)
}

func wantFlashState(t *testing.T, st api.FlashStatus, state string, dirty bool, says ...string) {
	t.Helper()
	if st.State != state || st.Dirty != dirty {
		t.Fatalf("FlashStatus = %+v; want state %s, dirty %v", st, state, dirty)
	}
	for _, s := range says {
		if !strings.Contains(st.Error, s) {
			t.Errorf("the recorded error %q does not say %q", st.Error, s)
		}
	}
}

// TestFlashDirty: a flash that fails after writing started leaves the
// medium's partition tables wiped and GET /v1/flash reporting it dirty,
// until a flash succeeds.
func TestFlashDirty(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	ctx := ctxT(t, 30*time.Second)
	img := bigImage(12 << 20)
	broken := gz(t, img)
	broken = broken[:len(broken)*3/4]
	_, err := c.Flash(ctx, bytes.NewReader(broken), int64(len(broken)), "", nil)
	wantStatus(t, err, http.StatusUnprocessableEntity, "gzip", "the target was marked dirty (partition table wiped)")
	st, err := c.FlashStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantFlashState(t, st, api.FlashFailed, true, "marked dirty")
	disk, _ := os.ReadFile(e.d.Disk())
	if len(disk) < image.DirtyHead || !bytes.Equal(disk[:image.DirtyHead], make([]byte, image.DirtyHead)) {
		t.Fatalf("the disk's first MiB was not wiped (%d bytes on disk)", len(disk))
	}

	// A refusal before writing leaves the mark as it is.
	_, err = c.Flash(ctx, bytes.NewReader([]byte("not an image at all")), 0, "", nil)
	wantStatus(t, err, http.StatusUnprocessableEntity, "not a disk image")
	if st, _ := c.FlashStatus(ctx); !st.Dirty {
		t.Fatalf("a flash refused before writing cleared the dirty mark: %+v", st)
	}

	if _, err := c.Flash(ctx, bytes.NewReader(img), int64(len(img)), "", nil); err != nil {
		t.Fatal(err)
	}
	st, _ = c.FlashStatus(ctx)
	wantFlashState(t, st, api.FlashDone, false)
}

// TestFlashStorageFaults: a medium that cannot be opened, and one that
// fails mid-write.
func TestFlashStorageFaults(t *testing.T) {
	img := bigImage(12 << 20)
	t.Run("open fails", func(t *testing.T) {
		e := newEnvFor(t, func(d *duttest.DUT) dut.DUT {
			return &faultyStorage{DUT: d, openErr: &os.PathError{Op: "open", Path: "/dev/sdz", Err: syscall.EROFS}}
		})
		c := e.leased(t)
		ctx := ctxT(t, 20*time.Second)
		_, err := c.Flash(ctx, bytes.NewReader(img), int64(len(img)), "", nil)
		wantStatus(t, err, http.StatusBadGateway, "opening the DUT's storage", "/dev/sdz", "read-only file system")
		st, _ := c.FlashStatus(ctx)
		wantFlashState(t, st, api.FlashFailed, false, "read-only")
	})
	t.Run("fails mid-write", func(t *testing.T) {
		e := newEnvFor(t, func(d *duttest.DUT) dut.DUT {
			return &faultyStorage{DUT: d, failAfter: 5 << 20}
		})
		c := e.leased(t)
		ctx := ctxT(t, 20*time.Second)
		_, err := c.Flash(ctx, bytes.NewReader(img), int64(len(img)), "", nil)
		wantStatus(t, err, http.StatusBadGateway, "writing to the DUT's storage", "input/output error", "marking the target dirty failed too")
		st, _ := c.FlashStatus(ctx)
		wantFlashState(t, st, api.FlashFailed, true, "writing at ")
	})
}

// TestFlashCachedChecksumRefused: a cached upload is known to decompress
// to one image; asking for another is refused before the medium is
// touched.
func TestFlashCachedChecksumRefused(t *testing.T) {
	imgs, err := cache.Open(t.TempDir(), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, worker.WithImageCache(imgs))
	c := e.leased(t)
	ctx := ctxT(t, 20*time.Second)
	img := duttest.GPTImage(2 << 20)
	upload := gz(t, img)
	if _, err := c.Flash(ctx, bytes.NewReader(upload), int64(len(upload)), "", nil); err != nil {
		t.Fatal(err)
	}
	if known, ok := imgs.DecompressedSHA256(hexSHA(upload)); !ok || known != hexSHA(img) {
		t.Fatalf("the cache recorded %q, %v; want the image's SHA-256", known, ok)
	}
	before, _ := os.ReadFile(e.d.Disk())
	_, err = c.FlashWith(ctx, nil, 0, api.FlashOptions{Cached: hexSHA(upload), SHA256: hexSHA([]byte("another image"))}, nil)
	wantStatus(t, err, http.StatusUnprocessableEntity, "refused before writing", hexSHA(img))
	if after, _ := os.ReadFile(e.d.Disk()); !bytes.Equal(before, after) {
		t.Fatal("the medium changed")
	}
	st, _ := c.FlashStatus(ctx)
	wantFlashState(t, st, api.FlashDone, false)
	if _, err := c.FlashWith(ctx, nil, 0, api.FlashOptions{Cached: hexSHA(upload), SHA256: hexSHA(img)}, nil); err != nil {
		t.Fatal(err)
	}

	// A missing cached image leaves no flash "running" behind.
	_, err = c.FlashWith(ctx, nil, 0, api.FlashOptions{Cached: hexSHA([]byte("nothing"))}, nil)
	wantStatus(t, err, http.StatusNotFound, "no image")
	if err := c.PowerOn(ctx); err != nil {
		t.Fatalf("power on after a refused cached flash: %v", err)
	}
}

// TestFlashProgress: while flashing, GET /v1/flash reports the bytes
// read of the upload's size, MB/s and an ETA.
func TestFlashProgress(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	ctx := ctxT(t, 30*time.Second)
	img := bigImage(24 << 20)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := c.Flash(ctx, pr, int64(len(img)), "", nil)
		done <- err
	}()
	// Feed 13 MiB in steps, so the worker sees a few chunks over time.
	for off := 0; off < 13<<20; off += 1 << 20 {
		pw.Write(img[off : off+1<<20])
		time.Sleep(20 * time.Millisecond)
	}
	var st api.FlashStatus
	eventually(t, "progress with a rate and an ETA", func() bool {
		var err error
		st, err = c.FlashStatus(ctx)
		return err == nil && st.State == api.FlashFlashing && st.DoneBytes >= 8<<20 && st.MBps > 0 && st.ETASeconds > 0
	})
	if st.TotalBytes != int64(len(img)) || st.ReadBytes < st.DoneBytes || st.ReadBytes > int64(len(img)) {
		t.Fatalf("FlashStatus = %+v; want total_bytes %d and read_bytes between done_bytes and it", st, len(img))
	}
	pw.Write(img[13<<20:])
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _ = c.FlashStatus(ctx)
	if st.State != api.FlashDone || st.DoneBytes != int64(len(img)) {
		t.Fatalf("after the flash: %+v", st)
	}
}
