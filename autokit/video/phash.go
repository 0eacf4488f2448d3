package video

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // references may be JPEG
	_ "image/png"
	"math/bits"
	"strings"
)

// Hash is a 512-bit difference hash (dHash) of an image: the image is
// shrunk to 17×16 cells by averaging and converted to luminance; for each
// of the 16×16 pairs of neighbouring cells in a row, one bit is set when
// the right cell is brighter than the left by more than a small dead zone,
// and another when it is darker. Flat areas set neither, so a dark screen
// hashes to zeros and differs from a splash by every edge of the splash.
// Images that look alike — the same screen re-encoded, captured with
// noise, at another resolution or with a slight brightness change — have
// hashes a few bits apart.
type Hash [8]uint64

// Hash size.
const (
	hashCols = 16
	hashRows = 16
	// HashBits is the number of bits in a Hash: the largest distance.
	HashBits = 2 * hashCols * hashRows
	// deadZone is how much brighter (on a 0–255 scale) the right cell
	// must be for its bit to be set, so that flat areas (a black
	// background) hash to zeros instead of to their noise.
	deadZone = 2.0
)

// DefaultMaxDistance is a distance up to which two screens are the same
// screen for boot splash checks: it tolerates capture noise, recompression
// and scaling, and rejects a black screen or a text console in place of a
// splash (see the package tests for the distances measured). A reference
// with few edges (Edges) needs a smaller threshold: a dark screen is Edges
// bits away from it.
const DefaultMaxDistance = 12

// HashImage computes img's Hash.
func HashImage(img image.Image) Hash {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var sum [hashRows][hashCols + 1]float64
	var n [hashRows][hashCols + 1]int
	if w > 0 && h > 0 {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			cy := (y - b.Min.Y) * hashRows / h
			for x := b.Min.X; x < b.Max.X; x++ {
				cx := (x - b.Min.X) * (hashCols + 1) / w
				r, g, bl, _ := img.At(x, y).RGBA()
				sum[cy][cx] += (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
				n[cy][cx]++
			}
		}
	}
	var hash Hash
	for y := range hashRows {
		for x := range hashCols {
			l, r := mean(sum[y][x], n[y][x]), mean(sum[y][x+1], n[y][x+1])
			i := 2 * (y*hashCols + x)
			switch {
			case r > l+deadZone:
				hash[i/64] |= 1 << (i % 64)
			case r < l-deadZone:
				hash[i/64] |= 2 << (i % 64)
			}
		}
	}
	return hash
}

func mean(s float64, n int) float64 {
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// Distance is the number of bits that differ between h and o (Hamming
// distance), from 0 (alike) to HashBits.
func (h Hash) Distance(o Hash) int {
	d := 0
	for i := range h {
		d += bits.OnesCount64(h[i] ^ o[i])
	}
	return d
}

// Edges is the number of bits set: how much structure the image has. It
// is the distance from h to the hash of a flat screen.
func (h Hash) Edges() int { return h.Distance(Hash{}) }

// String is the hash in hex.
func (h Hash) String() string {
	var b strings.Builder
	for _, w := range h {
		fmt.Fprintf(&b, "%016x", w)
	}
	return b.String()
}

// HashPNG decodes an encoded image (PNG or JPEG) and hashes it.
func HashPNG(data []byte) (Hash, error) {
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		head := data[:min(len(data), 8)]
		return Hash{}, fmt.Errorf("video: decoding an image of %d bytes (starting % x): %w", len(data), head, err)
	}
	_ = format
	return HashImage(img), nil
}

// Similar reports whether the encoded images a and b (PNG or JPEG; a
// screenshot and a reference) look alike: whether their hashes are at
// most maxDistance bits apart (DefaultMaxDistance suits boot splash
// checks). It returns the distance as evidence either way.
func Similar(a, b []byte, maxDistance int) (bool, int, error) {
	ha, err := HashPNG(a)
	if err != nil {
		return false, 0, fmt.Errorf("video: first image: %w", err)
	}
	hb, err := HashPNG(b)
	if err != nil {
		return false, 0, fmt.Errorf("video: second image: %w", err)
	}
	d := ha.Distance(hb)
	return d <= maxDistance, d, nil
}
