package video

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"
)

// splash draws a boot splash: a light logo (a ring and a block) and a
// progress bar centred on a dark background, at any size.
func splash(w, h int, progress float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{8, 10, 20, 255}), image.Point{}, draw.Src)
	cx, cy, r := w/2, h*2/5, h/6
	for y := range h {
		for x := range w {
			dx, dy := x-cx, y-cy
			d2 := dx*dx + dy*dy
			if d2 <= r*r && d2 >= (r*2/3)*(r*2/3) {
				img.Set(x, y, color.RGBA{230, 230, 240, 255})
			}
			if abs(dx) < r/4 && abs(dy) < r/4 {
				img.Set(x, y, color.RGBA{0, 180, 220, 255})
			}
			bx0, bx1, by := w/4, w*3/4, h*3/4
			if x >= bx0 && x < bx1 && y >= by && y < by+h/40 {
				c := color.RGBA{60, 60, 70, 255}
				if float64(x-bx0) < progress*float64(bx1-bx0) {
					c = color.RGBA{220, 220, 220, 255}
				}
				img.Set(x, y, c)
			}
		}
	}
	return img
}

// console draws a text console: rows of light "words" from the left edge.
func console(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	rng := rand.New(rand.NewPCG(1, 2))
	for row := 0; row*16+12 < h; row++ {
		x := 4
		for x < w && rng.IntN(10) > 0 {
			n := 8 * (2 + rng.IntN(8))
			draw.Draw(img, image.Rect(x, row*16+2, min(x+n, w), row*16+12), image.NewUniform(color.Gray{200}), image.Point{}, draw.Src)
			x += n + 8
			if x > w*2/3 && rng.IntN(3) == 0 {
				break
			}
		}
	}
	return img
}

// shifted moves src's content dy pixels down (up when negative).
func shifted(src *image.RGBA, dy int) *image.RGBA {
	img := image.NewRGBA(src.Bounds())
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{8, 10, 20, 255}), image.Point{}, draw.Src)
	draw.Draw(img, img.Bounds().Add(image.Pt(0, dy)), src, image.Point{}, draw.Src)
	return img
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// noisy adds uniform noise of ±amp and a brightness offset to every pixel.
func noisy(src image.Image, amp, offset int) *image.RGBA {
	b := src.Bounds()
	img := image.NewRGBA(b)
	rng := rand.New(rand.NewPCG(3, 4))
	clamp := func(v int) uint8 { return uint8(max(0, min(255, v))) }
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := src.At(x, y).RGBA()
			n := rng.IntN(2*amp+1) - amp + offset
			img.Set(x, y, color.RGBA{clamp(int(r>>8) + n), clamp(int(g>>8) + n), clamp(int(bl>>8) + n), 255})
		}
	}
	return img
}

// scaled resizes src to w×h by nearest neighbour, as a capture card at
// another resolution would show it.
func scaled(src image.Image, w, h int) *image.RGBA {
	b := src.Bounds()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, src.At(b.Min.X+x*b.Dx()/w, b.Min.Y+y*b.Dy()/h))
		}
	}
	return img
}

func encPNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegRoundTrip re-encodes img through JPEG at quality 70 and back to PNG.
func jpegRoundTrip(t *testing.T, img image.Image) []byte {
	t.Helper()
	var j bytes.Buffer
	if err := jpeg.Encode(&j, img, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	back, err := jpeg.Decode(&j)
	if err != nil {
		t.Fatal(err)
	}
	return encPNG(t, back)
}

func TestSimilar(t *testing.T) {
	ref := encPNG(t, splash(640, 480, 0.3))
	black := image.NewRGBA(image.Rect(0, 0, 640, 480))
	draw.Draw(black, black.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	for _, tc := range []struct {
		name    string
		img     []byte
		similar bool
	}{
		{"identical", ref, true},
		{"re-encoded through JPEG", jpegRoundTrip(t, splash(640, 480, 0.3)), true},
		{"noise ±12 and brighter by 6", encPNG(t, noisy(splash(640, 480, 0.3), 12, 6)), true},
		{"captured at 1280×720", encPNG(t, noisy(scaled(splash(640, 480, 0.3), 1280, 720), 8, 0)), true},
		{"progress bar further on", encPNG(t, splash(640, 480, 0.6)), true},
		{"black screen", encPNG(t, black), false},
		{"text console", encPNG(t, console(640, 480)), false},
		{"the logo moved to the top", encPNG(t, shifted(splash(640, 480, 0.3), -120)), false},
	} {
		ok, d, err := Similar(ref, tc.img, DefaultMaxDistance)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		t.Logf("%-45s distance %3d of %d", tc.name, d, HashBits)
		if ok != tc.similar {
			t.Errorf("%s: similar = %v (distance %d, threshold %d), want %v", tc.name, ok, d, DefaultMaxDistance, tc.similar)
		}
	}
}

func TestSimilarBadInput(t *testing.T) {
	ref := encPNG(t, splash(64, 48, 0))
	if _, _, err := Similar(ref, []byte("not an image"), 10); err == nil || !strings.Contains(err.Error(), "video: second image: video: decoding an image of 12 bytes") {
		t.Errorf("Similar with garbage = %v", err)
	}
	if _, _, err := Similar(nil, ref, 10); err == nil || !strings.HasPrefix(err.Error(), "video: first image") {
		t.Errorf("Similar with nothing = %v", err)
	}
}

func TestHashTinyImage(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 3, 2))
	img.Pix = []byte{0, 100, 200, 0, 100, 200}
	h := HashImage(img)
	if h == (Hash{}) {
		t.Error("a 3×2 gradient hashed to zeros")
	}
	if d := h.Distance(h); d != 0 {
		t.Errorf("Distance to itself = %d", d)
	}
	if len(h.String()) != 128 || h.Edges() == 0 {
		t.Errorf("String = %q", h.String())
	}
}
