package artifact

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Archives written by archive/zip, as other uploaders would: deflated
// members with data descriptors, stored members with known sizes.
func TestExtractStreamForeignArchives(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("image/notes.txt")
	w.Write([]byte(strings.Repeat("deflated ", 1000)))
	zw.Create("image/")
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "image/balena.img", Method: zip.Deflate})
	w.Write(bytes.Repeat([]byte{0, 1, 2, 3}, 50000))
	zw.Close()

	var got bytes.Buffer
	n, err := extractStream(bytes.NewReader(buf.Bytes()), "image/balena.img", &got)
	if err != nil || n != 200000 || !bytes.Equal(got.Bytes(), bytes.Repeat([]byte{0, 1, 2, 3}, 50000)) {
		t.Errorf("extract = %d, %v", n, err)
	}
	got.Reset()
	if _, err := extractStream(bytes.NewReader(buf.Bytes()), "", &got); err != nil || !strings.HasPrefix(got.String(), "deflated") {
		t.Errorf("first member: %v", err)
	}

	// A stored member behind a data descriptor has no size up front.
	buf.Reset()
	zw = zip.NewWriter(&buf)
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "raw", Method: zip.Store})
	w.Write([]byte("x"))
	zw.Close()
	if _, err := extractStream(bytes.NewReader(buf.Bytes()), "", &got); err == nil || !strings.Contains(err.Error(), "cannot be read from a stream") {
		t.Errorf("stored with descriptor: %v", err)
	}

	// A corrupted member fails its CRC.
	var good bytes.Buffer
	writeZip(&good, []File{{Name: "f", Reader: strings.NewReader(strings.Repeat("abc", 1000))}})
	bad := bytes.Clone(good.Bytes())
	bad[100] ^= 0xff
	if _, err := extractStream(bytes.NewReader(bad), "f", &got); err == nil || !strings.Contains(err.Error(), "CRC-32") {
		t.Errorf("corrupt member: %v", err)
	}
	if _, err := extractStream(strings.NewReader("hello"), "", &got); err == nil || errors.Is(err, ErrNoMember) {
		t.Errorf("not a zip: %v", err)
	}
}
