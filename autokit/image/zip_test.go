package image

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/image/zipstream"
)

// zipOf archives files (name, bytes pairs) the way zip(1) or a browser
// download would: deflated, sizes in a descriptor.
func zipOf(t *testing.T, files ...any) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < len(files); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: files[i].(string), Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[i+1].([]byte))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFlashZip(t *testing.T) {
	img := testDisk()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		arc    []byte
		format Format
	}{
		{"raw member", zipOf(t, "balena.img", img), Zip},
		{"gzip member", zipOf(t, "balena.img.gz", compress(t, Gzip, img)), Zip + "+gzip"},
		{"zstd member behind a directory", zipOf(t, "out/", []byte{}, "out/balena.img.zst", compress(t, Zstd, img)), Zip + "+zstd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := garbageTarget(t, 0)
			res, err := Flash(ctx, dst, bytes.NewReader(tc.arc), Options{Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format || res.ImageBytes != int64(len(img)) || !res.Verified {
				t.Fatalf("result %+v", res)
			}
			if got, _ := os.ReadFile(dst.Name()); !bytes.Equal(got, img) {
				t.Fatal("the target differs from the image")
			}
		})
	}
}

func TestFlashZipBad(t *testing.T) {
	img := bigDisk()
	ctx := context.Background()
	several := zipOf(t, "a.img", img, "b.img", img[:1024])
	t.Run("several images, streamed", func(t *testing.T) {
		dst := garbageTarget(t, len(img))
		_, err := Flash(ctx, dst, bytes.NewReader(several), Options{})
		var se *zipstream.SeveralError
		var de *DirtyError
		if !errors.As(err, &se) || !errors.As(err, &de) {
			t.Fatalf("err = %v, want a dirty several-files error", err)
		}
		for _, want := range []string{"zip with several images", `"a.img", "b.img"`, "the target was marked dirty (partition table wiped)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not say %q", err, want)
			}
		}
		wantDirty(t, dst.Name())
	})
	t.Run("several images, from a file: refused before writing", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "several.zip")
		os.WriteFile(p, several, 0o644)
		f, _ := os.Open(p)
		defer f.Close()
		dst := garbageTarget(t, 4096)
		_, err := Flash(ctx, dst, f, Options{})
		var de *DirtyError
		if err == nil || !strings.Contains(err.Error(), `zip with several images`) || errors.As(err, &de) {
			t.Fatalf("err = %v, want an early several-files error", err)
		}
		if got, _ := os.ReadFile(dst.Name()); !bytes.Equal(got, bytes.Repeat([]byte{0xee}, 4096)) {
			t.Fatal("the target was written to")
		}
	})
	crc := zipOf(t, "a.img", img)
	// The descriptor's CRC-32 is 16 bytes before the central directory.
	cd := bytes.LastIndex(crc, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(crc[cd-12:], 0xdeadbeef)
	encrypted := zipOf(t, "a.img", img)
	encrypted[6] |= 1
	method := zipOf(t, "a.img", img)
	method[8] = 14 // LZMA
	for _, tc := range []struct {
		name  string
		arc   []byte
		want  string
		dirty bool
	}{
		{"crc mismatch", crc, "CRC-32 mismatch", true},
		{"truncated early", zipOf(t, "a.img", img)[:2000], "truncated", false},
		{"truncated", zipOf(t, "a.img", img)[:8<<20], "truncated", true},
		{"encrypted", encrypted, "encrypted", false},
		{"unsupported method", method, "unsupported compression method", false},
		{"zip in a zip", zipOf(t, "inner.zip", zipOf(t, "a.img", img)), "zip inside a zip", false},
		{"no file", zipOf(t, "d/", []byte{}), "holds no file", false},
		{"not a disk image", zipOf(t, "notes.txt", []byte("hello")), "not a disk image", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := garbageTarget(t, len(img))
			_, err := Flash(ctx, dst, bytes.NewReader(tc.arc), Options{})
			var de *DirtyError
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &de) != tc.dirty {
				t.Fatalf("err = %v, want %q (dirty %v)", err, tc.want, tc.dirty)
			}
			if tc.dirty {
				wantDirty(t, dst.Name())
			}
		})
	}
}

func TestDecompressedSHA256(t *testing.T) {
	img := testDisk()
	for _, arc := range [][]byte{img, compress(t, XZ, img), zipOf(t, "a.img.gz", compress(t, Gzip, img))} {
		sum, size, _, err := DecompressedSHA256(context.Background(), bytes.NewReader(arc))
		if err != nil || sum != sha256Hex(img) || size != int64(len(img)) {
			t.Fatalf("DecompressedSHA256 = %s, %d, %v", sum, size, err)
		}
	}
	gz := compress(t, Gzip, img)
	if _, _, _, err := DecompressedSHA256(context.Background(), bytes.NewReader(gz[:len(gz)/2])); err == nil {
		t.Fatal("a truncated stream has a digest")
	}
}
