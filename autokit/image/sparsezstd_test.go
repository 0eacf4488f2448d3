package image_test

import (
	"bytes"
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
		// frame's headers.
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
			if int64(len(enc)) > tt.most {
				t.Errorf("encoded %d bytes for %d, want at most %d", len(enc), len(want), tt.most)
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
	})
}
