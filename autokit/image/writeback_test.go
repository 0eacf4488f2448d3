package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteback(t *testing.T) {
	var started []span
	wb := &writeback{start: func(off, n int64) { started = append(started, span{off, off + n}) }}
	const mib = 1 << 20
	wb.wrote(0, 10*mib)
	wb.wrote(12*mib, 4*mib) // 14 MiB waiting, over 0-16 MiB
	wb.wrote(20*mib, 3*mib) // 17 MiB: started
	wb.wrote(30*mib, 8*mib)
	wb.wrote(40*mib, 0)
	if want := []span{{0, 23 * mib}}; !slices.Equal(started, want) {
		t.Fatalf("started %v, want %v", started, want)
	}
	wb.wrote(24*mib, 8*mib) // below the last write: the stretch widens
	if want := []span{{0, 23 * mib}, {24 * mib, 38 * mib}}; !slices.Equal(started, want) {
		t.Fatalf("started %v, want %v", started, want)
	}
	var none *writeback
	none.wrote(0, 64*mib) // no descriptor: nothing to do, no panic
}

// TestWritebackTargets: writeback is started on a file target and on
// nothing else; a dense image larger than writebackEvery is written whole.
func TestWritebackTargets(t *testing.T) {
	f := newFile(t)
	if newWriteback(f) == nil || newWriteback(zeroedFile{f}) == nil {
		t.Error("no writeback for a file target")
	}
	if newWriteback(deviceTarget{f}) != nil {
		t.Error("writeback for a target without a descriptor")
	}
	img := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 6<<20)
	img[510], img[511] = 0x55, 0xaa
	p := filepath.Join(t.TempDir(), "dense")
	dst, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := Flash(context.Background(), zeroedFile{dst}, bytes.NewReader(compress(t, Zstd, img)), Options{Verify: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, img) {
		t.Fatal("the target differs from the image")
	}
}
