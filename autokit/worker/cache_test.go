package worker_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/image/cache"
	"github.com/balena/leviathan-action/autokit/worker"
)

// TestFlashFromCache: an uploaded image is kept by the SHA-256 of the
// upload, and a later flash names it instead of sending it again.
func TestFlashFromCache(t *testing.T) {
	imgs, err := cache.Open(t.TempDir(), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, worker.WithImageCache(imgs))
	c := e.leased(t)
	ctx := ctxT(t, 20*time.Second)
	img := duttest.GPTImage(2 << 20)
	upload := gz(t, img)
	sum := hexSHA(upload)

	if _, ok, err := c.CachedImage(ctx, sum); err != nil || ok {
		t.Fatalf("before any upload: cached=%v, %v", ok, err)
	}
	if _, err := c.Flash(ctx, bytes.NewReader(upload), int64(len(upload)), "", nil); err != nil {
		t.Fatal(err)
	}
	ci, ok, err := c.CachedImage(ctx, sum)
	if err != nil || !ok || ci.Size != int64(len(upload)) {
		t.Fatalf("after the upload: %+v cached=%v, %v", ci, ok, err)
	}
	os.Remove(e.d.Disk())
	res, err := c.FlashWith(ctx, nil, 0, api.FlashOptions{Cached: sum}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != "gzip" || res.SHA256 != hexSHA(img) || !res.Verified {
		t.Fatalf("flash from the cache: %+v", res)
	}
	if got, _ := os.ReadFile(e.d.Disk()); !bytes.Equal(got, img) {
		t.Fatal("the disk differs from the image after a flash from the cache")
	}
	_, err = c.FlashWith(ctx, nil, 0, api.FlashOptions{Cached: hexSHA([]byte("other"))}, nil)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Fatalf("flash of an image not in the cache: %v, want 404", err)
	}
}
