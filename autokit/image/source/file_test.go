package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(img, testData, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Size() != int64(len(testData)) || src.Name() != img {
		t.Errorf("Size() = %d, Name() = %q", src.Size(), src.Name())
	}
	got, err := io.ReadAll(src)
	if err != nil || !bytes.Equal(got, testData) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.img")
	tests := []struct {
		name string
		ref  string
		is   error  // nil: do not check
		say  string // in the message
	}{
		{"missing", missing, fs.ErrNotExist, missing},
		{"directory", dir, nil, dir + " is a directory"},
		{"empty", "", nil, "no image given"},
		{"ftp", "ftp://example.com/x.img", nil, `unsupported URL scheme "ftp"`},
		{"no host", "http:///x.img", nil, "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := Open(t.Context(), tt.ref)
			if err == nil {
				src.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.say) || !strings.HasPrefix(err.Error(), "source: ") {
				t.Errorf("error %q does not say %q with the package prefix", err, tt.say)
			}
		})
	}
}

func TestFileCancel(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, testData, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	src, err := Open(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cancel()
	if _, err := src.Read(make([]byte, 10)); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %v", err)
	}
}
