package image_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/balena/leviathan-action/autokit/image"
)

// piece is a part of a test file: n bytes of data (seeded random bytes, or
// zeros written as data) or a hole of n bytes.
type piece struct {
	kind byte // 'd' data, 'z' written zeros, 'h' hole
	n    int64
}

// sparseFile writes the pieces to a new file and returns it open.
func sparseFile(t testing.TB, pieces []piece) (*os.File, []byte) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var want []byte
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range pieces {
		b := make([]byte, p.n)
		if p.kind == 'd' {
			for i := range b {
				b[i] = byte(rng.UintN(255) + 1)
			}
		}
		if p.kind != 'h' {
			if _, err := f.WriteAt(b, int64(len(want))); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, b...)
	}
	if err := f.Truncate(int64(len(want))); err != nil {
		t.Fatal(err)
	}
	return f, want
}

// markerFrame is the size of the skippable frame SparseZstd puts first.
const markerFrame = 8 + 55

// decodeSparse reads a SparseZstd stream back through OpenSparseZstd.
func decodeSparse(t testing.TB, enc []byte) []byte {
	t.Helper()
	r, ok := image.OpenSparseZstd(bufio.NewReader(bytes.NewReader(enc)))
	if !ok {
		t.Fatal("OpenSparseZstd does not know SparseZstd's marker")
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("OpenSparseZstd: %v", err)
	}
	return got
}

// decodeZstd decodes a zstd stream with an independent decoder.
func decodeZstd(t testing.TB, enc []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(enc))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("decoding the frame: %v", err)
	}
	return got
}

func TestSparseZstd(t *testing.T) {
	const K, M = 1 << 10, 1 << 20
	tests := []struct {
		name   string
		pieces []piece
		// most is the largest encoding allowed: the data plus the
		// frame's headers, after the marker frame.
		most int64
	}{
		{"empty", nil, 20},
		{"one byte", []piece{{'d', 1}}, 21},
		{"data only, not a whole block", []piece{{'d', 200*K + 7}}, 200*K + 7 + 20},
		{"hole only", []piece{{'h', 5 * M}}, 14 + 4*40},
		{"written zeros cost as little as a hole", []piece{{'z', 5 * M}}, 14 + 4*40},
		{"data, hole, data, hole at the end", []piece{{'d', 64 * K}, {'h', 3 * M}, {'d', 4 * K}, {'h', M + 512}}, 68*K + 14 + 4*40},
		{"zeros inside data", []piece{{'d', 128 * K}, {'z', 256 * K}, {'d', 100}}, 128*K + 100 + 14 + 4*4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, want := sparseFile(t, tt.pieces)
			var last int64
			enc, err := io.ReadAll(image.NewSparseZstd(f, int64(len(want)), func(off int64) {
				if off <= last && len(want) > 0 {
					t.Errorf("progress went from %d to %d", last, off)
				}
				last = off
			}))
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeZstd(t, enc); !bytes.Equal(got, want) {
				t.Fatalf("decoded %d bytes, not the file's %d", len(got), len(want))
			}
			if got := decodeSparse(t, enc); !bytes.Equal(got, want) {
				t.Fatalf("OpenSparseZstd read %d bytes, not the file's %d", len(got), len(want))
			}
			if int64(len(enc)) > tt.most+markerFrame {
				t.Errorf("encoded %d bytes for %d, want at most %d", len(enc), len(want), tt.most+markerFrame)
			}
			if last != int64(len(want)) {
				t.Errorf("progress ended at %d, want %d", last, len(want))
			}
		})
	}
}

// TestSparseZstdSmallReads reads the frame a few bytes at a time.
func TestSparseZstdSmallReads(t *testing.T) {
	f, want := sparseFile(t, []piece{{'d', 1000}, {'h', 300 << 10}, {'d', 130 << 10}})
	var enc []byte
	z := image.NewSparseZstd(f, int64(len(want)), nil)
	p := make([]byte, 7)
	for {
		n, err := z.Read(p)
		enc = append(enc, p[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(decodeZstd(t, enc), want) {
		t.Fatal("the frame read 7 bytes at a time does not decode to the file")
	}
	if !bytes.Equal(decodeSparse(t, enc), want) {
		t.Fatal("the frame read 7 bytes at a time does not read back through OpenSparseZstd")
	}
}

// TestSparseZstdShrunk: a file cut short while being sent fails the
// stream instead of sending zeros for what is gone.
func TestSparseZstdShrunk(t *testing.T) {
	for _, cut := range []int64{100 << 10, 700 << 10} { // inside data; inside the trailing hole
		f, want := sparseFile(t, []piece{{'d', 200 << 10}, {'h', 600 << 10}})
		z := image.NewSparseZstd(f, int64(len(want)), nil)
		if err := f.Truncate(cut); err != nil {
			t.Fatal(err)
		}
		_, err := io.ReadAll(z)
		if err == nil || !strings.Contains(err.Error(), f.Name()) {
			t.Errorf("cut to %d: err = %v, want an error naming the file", cut, err)
		}
	}
}

// FuzzSparseZstd: any file of data, written zeros and holes decodes back
// to itself.
func FuzzSparseZstd(f *testing.F) {
	f.Add([]byte{'d', 3, 'h', 200, 'z', 1})
	f.Add([]byte{'h', 255, 'h', 255, 'd', 255})
	f.Fuzz(func(t *testing.T, spec []byte) {
		var pieces []piece
		for i := 0; i+1 < len(spec) && len(pieces) < 8; i += 2 {
			kind := "dzh"[int(spec[i])%3]
			pieces = append(pieces, piece{kind, int64(spec[i+1]) * 4099})
		}
		file, want := sparseFile(t, pieces)
		enc, err := io.ReadAll(image.NewSparseZstd(file, int64(len(want)), nil))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(decodeZstd(t, enc), want) {
			t.Fatalf("pieces %v: the frame does not decode to the file", pieces)
		}
		if !bytes.Equal(decodeSparse(t, enc), want) {
			t.Fatalf("pieces %v: the frame does not read back through OpenSparseZstd", pieces)
		}
	})
}

// sparseStream is SparseZstd's marker frame, then a frame header for a
// content of size bytes, then blocks (each a 3-byte header and its
// bytes), then tail.
func sparseStream(size uint64, blocks [][]byte, tail ...byte) []byte {
	marker := "leviathan sparse zstd 1: raw and run-length blocks only"
	b := binary.LittleEndian.AppendUint32(nil, 0x184D2A5C)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(marker)))
	b = append(b, marker...)
	b = binary.LittleEndian.AppendUint32(b, 0xFD2FB528)
	b = append(b, 0xC0, 7<<3)
	b = binary.LittleEndian.AppendUint64(b, size)
	for _, bl := range blocks {
		b = append(b, bl...)
	}
	return append(b, tail...)
}

// block is a block header (type typ, size n, last or not) and its bytes.
func block(typ, n int, last bool, content ...byte) []byte {
	h := uint32(n)<<3 | uint32(typ)<<1
	if last {
		h |= 1
	}
	return append([]byte{byte(h), byte(h >> 8), byte(h >> 16)}, content...)
}

// TestOpenSparseZstdRefuses: a stream marked as raw and run-length
// blocks only that is not fails with a named error, and an unmarked one
// is left for a zstd decoder, unread.
func TestOpenSparseZstdRefuses(t *testing.T) {
	raw4 := block(0, 4, true, 1, 2, 3, 4)
	for _, tc := range []struct {
		name   string
		stream []byte
		want   error
		says   string
	}{
		{"a compressed block", sparseStream(10, [][]byte{block(2, 10, true, make([]byte, 10)...)}), image.ErrSparseFrame, "neither raw nor run-length"},
		{"another frame header", func() []byte { s := sparseStream(4, [][]byte{raw4}); s[8+55+4] = 0x20; return s }(), image.ErrSparseFrame, "frame header"},
		{"a block over 128 KiB", sparseStream(200<<10, [][]byte{block(1, 128<<10+1, true, 0)}), image.ErrSparseFrame, "over the"},
		{"blocks past the content size", sparseStream(4, [][]byte{block(1, 8, true, 0)}), image.ErrSparseFrame, "run past"},
		{"blocks short of the content size", sparseStream(10, [][]byte{raw4}), image.ErrSparseFrame, "hold 4 bytes"},
		{"data after the frame", sparseStream(4, [][]byte{raw4}, 0), image.ErrSparseFrame, "more follows"},
		{"cut inside a raw block", sparseStream(4, [][]byte{raw4[:5]}), io.ErrUnexpectedEOF, "ends early"},
		{"cut before the frame header", sparseStream(4, nil)[:8+55+6], io.ErrUnexpectedEOF, "ends early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := image.OpenSparseZstd(bufio.NewReader(bytes.NewReader(tc.stream)))
			if !ok {
				t.Fatal("the marker was not recognised")
			}
			_, err := io.ReadAll(r)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	t.Run("an unmarked zstd stream", func(t *testing.T) {
		var enc bytes.Buffer
		zw, _ := zstd.NewWriter(&enc)
		zw.Write([]byte("an image"))
		zw.Close()
		br := bufio.NewReader(bytes.NewReader(enc.Bytes()))
		if _, ok := image.OpenSparseZstd(br); ok {
			t.Fatal("an ordinary zstd stream was taken for a sparse one")
		}
		if rest, _ := io.ReadAll(br); !bytes.Equal(rest, enc.Bytes()) {
			t.Fatal("OpenSparseZstd consumed part of a stream it did not take")
		}
	})
}

// FuzzOpenSparseZstd: whatever follows the marker, OpenSparseZstd does
// not panic, and what it accepts an independent zstd decoder decodes to
// the same bytes.
func FuzzOpenSparseZstd(f *testing.F) {
	f.Add(sparseStream(4, [][]byte{block(0, 4, true, 1, 2, 3, 4)})[8+55:])
	f.Add(sparseStream(300, [][]byte{block(1, 100, false, 0), block(0, 200, true, make([]byte, 200)...)})[8+55:])
	f.Fuzz(func(t *testing.T, frame []byte) {
		stream := append(sparseStream(0, nil)[:8+55], frame...)
		r, ok := image.OpenSparseZstd(bufio.NewReader(bytes.NewReader(stream)))
		if !ok {
			t.Fatal("the marker was not recognised")
		}
		got, err := io.ReadAll(io.LimitReader(r, 64<<20))
		if err != nil {
			return
		}
		zr, zerr := zstd.NewReader(bytes.NewReader(stream))
		if zerr != nil {
			t.Fatal(zerr)
		}
		defer zr.Close()
		want, zerr := io.ReadAll(io.LimitReader(zr, 64<<20))
		if zerr != nil {
			t.Fatalf("OpenSparseZstd read %d bytes from a stream the zstd decoder refuses: %v", len(got), zerr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("OpenSparseZstd read %d bytes, the zstd decoder %d, and they differ", len(got), len(want))
		}
	})
}
