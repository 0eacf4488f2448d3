package syncio

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrent writes from several goroutines while reading; run with
// -race it fails on any unguarded access.
func TestConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("ab"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); len(got) != 800 || strings.Count(got, "ab") != 400 {
		t.Fatalf("got %d bytes, %d pairs; want 800 bytes of 400 whole writes", len(got), strings.Count(got, "ab"))
	}
}
