package source_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/balena/leviathan-action/autokit/image/source"
)

// Download an image over HTTP; a broken connection would be resumed.
func Example() {
	img := bytes.Repeat([]byte("balenaOS"), 1<<16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"2.0.0"`)
		http.ServeContent(w, r, "balena.img", time.Time{}, bytes.NewReader(img))
	}))
	defer srv.Close()

	ctx := context.Background()
	src, err := source.Open(ctx, srv.URL+"/balena.img", source.WithRetries(3))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	h := sha256.New()
	n, err := io.Copy(h, src)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d of %d bytes, sha256 %.8x\n", n, src.Size(), h.Sum(nil))
	// Output:
	// 524288 of 524288 bytes, sha256 25ab7352a819a65b
}
