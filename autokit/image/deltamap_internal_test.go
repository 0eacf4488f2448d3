package image

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeltaMapsShrunk: a target that shrinks under a delta flash's
// mapping fails the comparison with an error instead of crashing the
// process.
func TestDeltaMapsShrunk(t *testing.T) {
	const size = 1 << 20
	dir := t.TempDir()
	img, err := os.Create(filepath.Join(dir, "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	tgt, err := os.Create(filepath.Join(dir, "tgt"))
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	for _, f := range []*os.File{img, tgt} { // written, so in the page cache
		if _, err := f.Write(bytes.Repeat([]byte{1}, size)); err != nil {
			t.Fatal(err)
		}
	}
	m, ok := mapForDelta(img, size, tgt)
	if !ok {
		t.Fatal("a regular file target was not mapped")
	}
	defer m.close()
	p := &deltaPiece{span: span{0, size}, fromImage: true}
	if !m.piece(p) {
		t.Fatal("a piece within the target was not mapped")
	}
	if err := tgt.Truncate(0); err != nil {
		t.Fatal(err)
	}
	err = guardFaults(func() error {
		var sum byte
		for _, b := range p.old[size-10:] {
			sum += b
		}
		t.Logf("read %d from a page that is gone", sum)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("err = %v, want the shrink named", err)
	}
}

// TestDeltaMapsNotMapped: a target that is not a regular file, that is
// shorter than a piece or whose pages are not in the page cache is read
// into buffers instead.
func TestDeltaMapsNotMapped(t *testing.T) {
	dir := t.TempDir()
	img, err := os.Create(filepath.Join(dir, "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if err := img.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if m, ok := mapForDelta(img, 1<<20, null); ok {
		m.close()
		t.Fatal("a character device was mapped")
	}
	short, err := os.Create(filepath.Join(dir, "short"))
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if err := short.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	m, ok := mapForDelta(img, 1<<20, short)
	if !ok {
		t.Fatal("a short regular file was not mapped")
	}
	defer m.close()
	if m.piece(&deltaPiece{span: span{0, 8192}}) {
		t.Fatal("a piece past the target's end was mapped")
	}
	if m.piece(&deltaPiece{span: span{0, 4096}}) {
		t.Fatal("a piece of a hole, not in the page cache, was mapped")
	}
	if _, err := short.WriteAt(make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	if !m.piece(&deltaPiece{span: span{0, 4096}}) {
		t.Fatal("a piece in the page cache was not mapped")
	}
}
