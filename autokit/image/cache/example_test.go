package cache_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/balena/leviathan-action/autokit/image/cache"
)

// Keeping images on a worker: look an image up by digest, and download
// it only on a miss.
func Example() {
	dir, err := os.MkdirTemp("", "images")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(dir, 8<<30) // 8 GiB of images
	if err != nil {
		log.Fatal(err)
	}

	download := strings.NewReader("an OS image") // an HTTP body, say
	sum, size, err := c.Put(context.Background(), download, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(size, "bytes cached")

	f, _, ok, err := c.Get(sum)
	if err != nil {
		log.Fatal(err)
	}
	if ok {
		defer f.Close()
		b, _ := io.ReadAll(f)
		fmt.Printf("hit: %q\n", b)
	}
	// Output:
	// 11 bytes cached
	// hit: "an OS image"
}

// Flashing an upload and caching it in the same pass.
func ExampleCache_Tee() {
	dir, err := os.MkdirTemp("", "images")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(dir, 8<<30)
	if err != nil {
		log.Fatal(err)
	}

	upload := strings.NewReader("an OS image")
	r, commit := c.Tee(upload, "")
	var flash strings.Builder // the flash target
	if _, err := io.Copy(&flash, r); err != nil {
		commit() // aborts: nothing is cached
		log.Fatal(err)
	}
	sum, err := commit()
	if err != nil {
		// The flash went through; only caching failed.
		log.Print(err)
	}
	fmt.Println(flash.Len(), "bytes flashed;", c.Len(), "entry cached:", sum[:12])
	// Output:
	// 11 bytes flashed; 1 entry cached: 6f147e613985
}
