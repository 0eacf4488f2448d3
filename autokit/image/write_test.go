package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// zeroedFile is a fresh file target that reads back zeros.
type zeroedFile struct{ *os.File }

func (zeroedFile) Zeroed() bool { return true }

// testDisk returns a 3 MiB image with an MBR signature, 8 KiB of data at
// 2 MiB and zeros elsewhere.
func testDisk() []byte {
	img := make([]byte, 3<<20+4096)
	img[510], img[511] = 0x55, 0xaa
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 2 << 20; i < 2<<20+8192; i++ {
		img[i] = byte(rng.IntN(256))
	}
	return img
}

func compress(t *testing.T, f Format, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch f {
	case Raw:
		return p
	case Gzip:
		w := gzip.NewWriter(&b)
		w.Write(p)
		w.Close()
	case XZ:
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p)
		w.Close()
	case Zstd:
		w, _ := zstd.NewWriter(&b)
		w.Write(p)
		w.Close()
	}
	return b.Bytes()
}

func TestWriteFormats(t *testing.T) {
	img := testDisk()
	sum := sha256.Sum256(img)
	for _, f := range []Format{Raw, Gzip, XZ, Zstd} {
		for _, zeroed := range []bool{false, true} {
			t.Run(string(f), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "disk")
				fh, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				defer fh.Close()
				var last int64
				var res Result
				if zeroed {
					res, err = Write(context.Background(), zeroedFile{fh}, bytes.NewReader(compress(t, f, img)), func(n int64) { last = n })
				} else {
					res, err = Write(context.Background(), fh, bytes.NewReader(compress(t, f, img)), func(n int64) { last = n })
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Format != f || res.ImageBytes != int64(len(img)) || res.SHA256 != hex.EncodeToString(sum[:]) || last != int64(len(img)) {
					t.Fatalf("result %+v, last progress %d", res, last)
				}
				// Two sub-blocks hold data: the MBR's and the one at 2 MiB.
				if want := int64(len(img) - 2*SubBlock); zeroed && res.Skipped != want {
					t.Errorf("skipped %d bytes, want %d", res.Skipped, want)
				}
				if !zeroed && res.Skipped != 0 {
					t.Errorf("skipped %d bytes on a target that is not zeroed", res.Skipped)
				}
				got, _ := os.ReadFile(path)
				if !bytes.Equal(got, img) {
					t.Fatal("target differs from the image")
				}
			})
		}
	}
}

func TestWriteBadInput(t *testing.T) {
	img := testDisk()
	gz := compress(t, Gzip, img)
	xzFull := compress(t, XZ, img)
	xzHalf := xzFull[:len(xzFull)/2]
	rnd := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range rnd {
		rnd[i] = byte(rng.IntN(256))
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "image is empty"},
		{"random bytes", rnd, "not a disk image"},
		{"truncated gzip", gz[:len(gz)/2], "gzip stream"},
		{"truncated xz", xzHalf, "xz stream"},
		{"zip", []byte("PK\x03\x04rest"), "zip: zipstream: reading a header: zipstream: truncated archive"},
		{"gzip of random bytes", compress(t, Gzip, rnd), "not a disk image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fh, err := os.Create(filepath.Join(t.TempDir(), "disk"))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			_, err = Write(context.Background(), fh, bytes.NewReader(tc.in), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestWriteCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fh, _ := os.Create(filepath.Join(t.TempDir(), "disk"))
	defer fh.Close()
	if _, err := Write(ctx, fh, bytes.NewReader(testDisk()), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzSniff(f *testing.F) {
	for _, m := range magics {
		f.Add(m.magic)
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		got := Sniff(head)
		if got != Raw {
			found := false
			for _, m := range magics {
				if m.format == got && bytes.HasPrefix(head, m.magic) {
					found = true
				}
			}
			if !found {
				t.Fatalf("Sniff(%x) = %s without its magic", head, got)
			}
		}
	})
}

// TestXZDecoders runs both xz decoders: the system's xz (when installed)
// and the pure-Go fallback, on a good and a truncated stream.
func TestXZDecoders(t *testing.T) {
	img := testDisk()
	xzImg := compress(t, XZ, img)
	for _, cmd := range []string{"xz", ""} {
		name := "go"
		if cmd != "" {
			name = "system"
		}
		t.Run(name, func(t *testing.T) {
			defer func(old string) { xzCommand = old }(xzCommand)
			xzCommand = cmd
			if cmd != "" {
				if _, err := exec.LookPath(cmd); err != nil {
					t.Skip("xz is not installed (apt-get install xz-utils)")
				}
			}
			fh, _ := os.Create(filepath.Join(t.TempDir(), "disk"))
			defer fh.Close()
			res, err := Write(context.Background(), fh, bytes.NewReader(xzImg), nil)
			if err != nil || res.Format != XZ || res.ImageBytes != int64(len(img)) {
				t.Fatalf("%+v, %v", res, err)
			}
			_, err = Write(context.Background(), fh, bytes.NewReader(xzImg[:len(xzImg)/2]), nil)
			if err == nil || !strings.Contains(err.Error(), "xz stream") {
				t.Fatalf("truncated: %v", err)
			}
		})
	}
}

// TestXZFromFile: the system's xz reads an image file itself, from where
// the stream starts in it; without xz the Go decoder reads it from the
// same place; a truncated file fails either way.
func TestXZFromFile(t *testing.T) {
	img := testDisk()
	xzImg := compress(t, XZ, img)
	dir := t.TempDir()
	p, at := filepath.Join(dir, "disk.img.xz"), filepath.Join(dir, "at.img.xz")
	const skip = 100 // bytes before the stream, read by the caller
	os.WriteFile(p, xzImg, 0o644)
	os.WriteFile(at, append(make([]byte, skip), xzImg...), 0o644)
	cut := filepath.Join(dir, "cut.img.xz")
	os.WriteFile(cut, xzImg[:len(xzImg)/2], 0o644)
	for _, cmd := range []string{"xz", ""} {
		t.Run(fmt.Sprintf("xz=%q", cmd), func(t *testing.T) {
			defer func(old string) { xzCommand = old }(xzCommand)
			xzCommand = cmd
			if _, err := exec.LookPath(cmd); cmd != "" && err != nil {
				t.Skip("xz is not installed (apt-get install xz-utils)")
			}
			res, err := Flash(context.Background(), zeroedFile{newFile(t)}, mustOpen(t, p), Options{Verify: true, Digest: true})
			if err != nil || res.Format != XZ || res.SHA256 != sha256Hex(img) || !res.Verified {
				t.Fatalf("%+v, %v", res, err)
			}
			f := mustOpen(t, at)
			f.Seek(skip, io.SeekStart)
			r, format, release, err := Decompress(f)
			if err != nil || format != XZ {
				t.Fatalf("Decompress at %d bytes: %s, %v", skip, format, err)
			}
			got, err := io.ReadAll(r)
			release()
			if err != nil || !bytes.Equal(got, img) {
				t.Fatalf("decompressed from %d bytes into the file: %d bytes, %v; want the image", skip, len(got), err)
			}
			_, err = Flash(context.Background(), zeroedFile{newFile(t)}, mustOpen(t, cut), Options{})
			if err == nil || !strings.Contains(err.Error(), "xz stream") {
				t.Fatalf("truncated: %v", err)
			}
		})
	}
}
