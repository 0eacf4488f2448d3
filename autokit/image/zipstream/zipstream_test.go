package zipstream

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
)

// testMember describes one member of a test archive.
type testMember struct {
	name   string
	data   []byte
	method uint16
	// sized writes the sizes in the local header (CreateRaw); otherwise
	// they follow the data in a descriptor, as a streaming writer does.
	sized bool
}

// build writes an archive with archive/zip, as other tools would.
func build(tb testing.TB, ms ...testMember) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		var w io.Writer
		var err error
		body := m.data
		switch {
		case strings.HasSuffix(m.name, "/"):
			_, err = zw.Create(m.name)
		case m.sized:
			if m.method == zip.Deflate {
				var c bytes.Buffer
				fw, _ := flate.NewWriter(&c, flate.BestSpeed)
				fw.Write(m.data)
				fw.Close()
				body = c.Bytes()
			}
			w, err = zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: m.method, CRC32: crc32.ChecksumIEEE(m.data),
				CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(m.data))})
		default:
			w, err = zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		}
		if err != nil {
			tb.Fatal(err)
		}
		if w != nil {
			w.Write(body)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/4096)
	}
	return p
}

func TestReaderMembers(t *testing.T) {
	big := payload(3 << 20)
	arc := build(t,
		testMember{name: "dir/"},
		testMember{name: "dir/deflate-descr", data: big, method: zip.Deflate},
		testMember{name: "dir/stored-sized", data: []byte("stored bytes"), method: zip.Store, sized: true},
		testMember{name: "dir/deflate-sized", data: big[:100000], method: zip.Deflate, sized: true},
		testMember{name: "empty", data: nil, method: zip.Deflate},
	)
	for _, read := range []bool{true, false} {
		z := NewReader(bytes.NewReader(arc))
		var names []string
		for {
			e, err := z.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read=%v: Next: %v", read, err)
			}
			names = append(names, e.Name)
			if !read {
				continue // Next skips
			}
			got, err := io.ReadAll(z)
			if err != nil {
				t.Fatalf("%s: %v", e.Name, err)
			}
			var want []byte
			switch e.Name {
			case "dir/deflate-descr":
				want = big
			case "dir/stored-sized":
				want = []byte("stored bytes")
				if e.Size != int64(len(want)) || e.CompressedSize != int64(len(want)) {
					t.Errorf("stored entry %+v", e)
				}
			case "dir/deflate-sized":
				want = big[:100000]
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes differ from the %d written", e.Name, len(got), len(want))
			}
		}
		if got := strings.Join(names, ","); got != "dir/,dir/deflate-descr,dir/stored-sized,dir/deflate-sized,empty" {
			t.Fatalf("read=%v: members %s", read, got)
		}
		if _, err := z.Next(); err != io.EOF {
			t.Fatalf("Next after the end: %v", err)
		}
	}
}

func TestOne(t *testing.T) {
	img := payload(1 << 20)
	t.Run("one file behind directories", func(t *testing.T) {
		arc := build(t, testMember{name: "out/"}, testMember{name: "out/balena.img", data: img, method: zip.Deflate}, testMember{name: "out/empty/"})
		name, r, err := One(bytes.NewReader(arc))
		if err != nil || name != "out/balena.img" {
			t.Fatalf("One = %q, %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, img) {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
	})
	t.Run("several files", func(t *testing.T) {
		arc := build(t, testMember{name: "a.img", data: img, method: zip.Deflate}, testMember{name: "d/"},
			testMember{name: "b.img", data: img[:10], method: zip.Store, sized: true}, testMember{name: "c.txt", data: []byte("x"), method: zip.Deflate})
		name, r, err := One(bytes.NewReader(arc))
		if err != nil || name != "a.img" {
			t.Fatalf("One = %q, %v", name, err)
		}
		got, err := io.ReadAll(r)
		var se *SeveralError
		if !errors.As(err, &se) || strings.Join(se.Names, ",") != "a.img,b.img,c.txt" || se.More {
			t.Fatalf("err = %v, want a SeveralError naming the three files", err)
		}
		if !strings.Contains(err.Error(), `"a.img", "b.img", "c.txt"`) {
			t.Errorf("message %q does not name the files", err)
		}
		if len(got) != len(img) {
			t.Errorf("the first file streamed %d bytes before the error", len(got))
		}
	})
	t.Run("no file", func(t *testing.T) {
		if _, _, err := One(bytes.NewReader(build(t, testMember{name: "d/"}))); !errors.Is(err, ErrNoFile) {
			t.Fatalf("err = %v", err)
		}
	})
}

// header returns the offset of the first local header's field at off.
func patch16(arc []byte, off int, v uint16) []byte {
	b := bytes.Clone(arc)
	binary.LittleEndian.PutUint16(b[off:], v)
	return b
}

func TestBadArchives(t *testing.T) {
	img := payload(200000)
	deflated := build(t, testMember{name: "a.img", data: img, method: zip.Deflate})
	stored := build(t, testMember{name: "a.img", data: img, method: zip.Store, sized: true})
	flipStored := bytes.Clone(stored)
	flipStored[30+len("a.img")+1000] ^= 0xff
	flipDeflated := bytes.Clone(deflated)
	flipDeflated[len(flipDeflated)-200] ^= 0xff // the descriptor's CRC
	for _, tc := range []struct {
		name string
		arc  []byte
		want error
	}{
		{"not a zip", []byte("hello, world"), ErrNotZip},
		{"empty", nil, ErrTruncated},
		{"encrypted", patch16(deflated, 6, 0x9), ErrEncrypted},
		{"method 12 (bzip2)", patch16(deflated, 8, 12), ErrMethod},
		{"stored behind a descriptor", build(t, testMember{name: "a.img", data: img, method: zip.Store}), ErrNotStreamable},
		{"crc mismatch, stored", flipStored, ErrChecksum},
		{"corrupt deflate", flipDeflated, nil},
		{"truncated header", deflated[:20], ErrTruncated},
		{"truncated deflate", deflated[:len(deflated)/2], ErrTruncated},
		{"truncated stored", stored[:len(stored)/2], ErrTruncated},
		{"truncated before the end record", stored[:30+len("a.img")+len(img)], ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r, err := One(bytes.NewReader(tc.arc))
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "zipstream: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestReadBeforeNext(t *testing.T) {
	if _, err := NewReader(strings.NewReader("")).Read(make([]byte, 1)); err == nil {
		t.Fatal("Read before Next succeeded")
	}
}
