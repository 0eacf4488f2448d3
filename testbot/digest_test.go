package testbot

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLaterDigest: the image file is hashed after its flash through a
// descriptor of its own, and only while it is as it was when the flash
// began; a file changed since then gives no digest.
func TestLaterDigest(t *testing.T) {
	img := []byte(strings.Repeat("leviathan image ", 1<<14))
	want := sha256.Sum256(img)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string)
		err    string
	}{
		{"unchanged", nil, ""},
		{"replaced by rename", func(t *testing.T, path string) {
			// A new file under the name: the flashed one is still hashed.
			writeFile(t, path+".new", []byte("another image"))
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"rewritten in place", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("LEVIATHAN"), 0)
			f.Close()
		}, "changed after the flash began"},
		{"touched", func(t *testing.T, path string) {
			if err := os.Chtimes(path, time.Time{}, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}, "changed after the flash began"},
		{"grown", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("more"))
			f.Close()
		}, "changed after the flash began"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "os.img")
			writeFile(t, path, img)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			l, err := keepForDigest(f, int64(len(img)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close() // the source's own descriptor ends with the flash
			if tc.change != nil {
				tc.change(t, path)
			}
			sum, err := l.start(t.Context())()
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err == "" && sum != hex.EncodeToString(want[:]):
				t.Fatalf("sha256 %s, want the flashed image's %x", sum, want)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("sha256 %q, error %v; want an error saying %q", sum, err, tc.err)
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
