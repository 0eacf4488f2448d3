package testimage

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestUpToDate(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "leviathan-testos.img")
	if err := os.WriteFile(img, []byte("disk image bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := fileSHA256(img)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Name: Name, Version: Version, Kernel: "6.1.0-56-amd64", Image: img, SHA256: sum, Size: 16}
	if err := writeJSON(ManifestPath(img), m); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(img)
	if err := writeAtomic(stampPath(img), stamp("recipe-1", fi.ModTime())); err != nil {
		t.Fatal(err)
	}

	if got, ok := upToDate(img, "recipe-1"); !ok || got.SHA256 != sum {
		t.Fatalf("fresh image: ok=%v %+v", ok, got)
	}
	if _, ok := upToDate(img, "recipe-2"); ok {
		t.Error("other inputs: reported up to date")
	}

	// Touched but unchanged: hashed again and still good.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(img, later, later); err != nil {
		t.Fatal(err)
	}
	if _, ok := upToDate(img, "recipe-1"); !ok {
		t.Error("touched image: not up to date")
	}

	// Changed in place, same size: rebuilt.
	if err := os.WriteFile(img, []byte("DISK IMAGE BYTES"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := upToDate(img, "recipe-1"); ok {
		t.Error("modified image: reported up to date")
	}
	if err := os.WriteFile(img, []byte("disk image bytes"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Moved with its directory: the manifest follows.
	moved := filepath.Join(t.TempDir(), "out")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	img2 := filepath.Join(moved, filepath.Base(img))
	got, ok := upToDate(img2, "recipe-1")
	if !ok || got.Image != img2 {
		t.Fatalf("moved image: ok=%v %+v", ok, got)
	}

	// Missing pieces.
	for _, p := range []string{stampPath(img2), ManifestPath(img2)} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if _, ok := upToDate(img2, "recipe-1"); ok {
			t.Errorf("without %s: reported up to date", filepath.Base(p))
		}
	}
}

func TestImagePath(t *testing.T) {
	if got := ImagePath(Options{OutDir: "/b"}); got != "/b/leviathan-testos.img" {
		t.Error(got)
	}
	if got := ImagePath(Options{OutDir: "/b", Panic: true}); got != "/b/leviathan-testos-panic.img" {
		t.Error(got)
	}
}
