package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestAlignedBuf(t *testing.T) {
	for _, n := range []int{1, 4096, ChunkSize, 1000} {
		b := alignedBuf(n)
		if len(b) != n || cap(b) != n || !isAligned(b, bufAlign) {
			t.Errorf("alignedBuf(%d): len %d cap %d aligned %v", n, len(b), cap(b), isAligned(b, bufAlign))
		}
	}
}

// loopDevice attaches a loop device with direct I/O and the given
// logical block size over a file of size bytes in t.TempDir(), and
// returns the device's path and the backing file's. It skips when not
// root or without losetup.
func loopDevice(t *testing.T, size int64, sector int) (dev, backing string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("attaching a loop device needs root; the O_DIRECT tests write to one")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup is not installed (apt-get install mount); the O_DIRECT tests write to a loop device")
	}
	backing = filepath.Join(t.TempDir(), "backing")
	if err := os.WriteFile(backing, bytes.Repeat([]byte{0xee}, int(size)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--direct-io=on", "--sector-size", fmt.Sprint(sector), "--find", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("cannot attach a loop device here (%v: %s); the O_DIRECT tests need one", err, bytes.TrimSpace(out))
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev, backing
}

// oddDisk returns a disk image of n bytes: an MBR signature, random
// extents (one running to the end) and zeros between them, written to a
// sparse file too.
func oddDisk(t *testing.T, n int) (string, []byte) {
	t.Helper()
	img := make([]byte, n)
	img[510], img[511] = 0x55, 0xaa
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	for _, ext := range [][2]int{{64 << 10, 12288}, {1<<20 + 4096, 300000}, {n - 70000, 70000}} {
		for i := ext[0]; i < ext[0]+ext[1]; i++ {
			img[i] = byte(rng.IntN(255) + 1)
		}
	}
	p := filepath.Join(t.TempDir(), "odd.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, img
}

// systemXZ compresses p with the system's xz, with the given flags.
func systemXZ(t *testing.T, p []byte, flags ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz is not installed (apt-get install xz-utils)")
	}
	cmd := exec.Command("xz", append(flags, "-c")...)
	cmd.Stdin = bytes.NewReader(p)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %v: %v", flags, err)
	}
	return out
}

// TestFlashDirect writes every kind of image to a loop device with
// direct I/O, of 512- and 4096-byte logical blocks, from images whose
// length is a multiple of neither, and compares the backing file with
// the image byte for byte; what lies past the image is left as it was.
func TestFlashDirect(t *testing.T) {
	const devSize = 8 << 20
	for _, sector := range []int{512, 4096} {
		for _, n := range []int{3<<20 + 1000, 3<<20 + 1536, 3 << 20} {
			t.Run(fmt.Sprintf("sector%d/len%d", sector, n), func(t *testing.T) {
				dev, backing := loopDevice(t, devSize, sector)
				path, img := oddDisk(t, n)
				var gz, zs bytes.Buffer
				gw := gzip.NewWriter(&gz)
				gw.Write(img)
				gw.Close()
				zw, _ := zstd.NewWriter(&zs)
				zw.Write(img)
				zw.Close()
				xzImg := systemXZ(t, img, "-T2", "--block-size=1MiB", "-1")
				m := createBmap(t, path)
				cases := []struct {
					name   string
					src    func() io.Reader
					o      Options
					format Format
				}{
					{"raw stream", func() io.Reader { return bytes.NewReader(img) }, Options{}, Raw},
					{"raw file", func() io.Reader { return mustOpen(t, path) }, Options{}, Raw},
					{"gz", func() io.Reader { return bytes.NewReader(gz.Bytes()) }, Options{}, Gzip},
					{"zst", func() io.Reader { return bytes.NewReader(zs.Bytes()) }, Options{}, Zstd},
					{"xz", func() io.Reader { return bytes.NewReader(xzImg) }, Options{}, XZ},
					{"bmap", func() io.Reader { return mustOpen(t, path) }, Options{Bmap: m}, Raw},
					{"delta", func() io.Reader { return mustOpen(t, path) }, Options{Delta: true}, Raw},
				}
				for _, c := range cases {
					t.Run(c.name, func(t *testing.T) {
						// Zeros where the image goes (so that the bmap's
						// unmapped holes read as the image's), garbage after.
						if err := os.WriteFile(backing, append(make([]byte, n), bytes.Repeat([]byte{0xee}, devSize-n)...), 0o644); err != nil {
							t.Fatal(err)
						}
						f, err := os.OpenFile(dev, os.O_RDWR, 0)
						if err != nil {
							t.Fatal(err)
						}
						defer f.Close()
						o := c.o
						o.Verify = true
						res, err := Flash(context.Background(), f, c.src(), o)
						if err != nil {
							t.Fatalf("Flash: %v", err)
						}
						if !res.Direct || !res.Verified || res.Format != c.format || res.ImageBytes != int64(n) {
							t.Fatalf("result %+v: want direct, verified, format %s, %d bytes", res, c.format, n)
						}
						got, err := os.ReadFile(backing)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got[:n], img) {
							t.Fatalf("the device differs from the image at byte %d", firstDiff(got[:n], img))
						}
						if i := firstDiff(got[n:], bytes.Repeat([]byte{0xee}, devSize-n)); i >= 0 {
							t.Fatalf("the bytes after the image changed, first at byte %d", n+i)
						}
						if c.o.Delta {
							// Again: nothing differs, nothing is written.
							res, err := Flash(context.Background(), f, c.src(), o)
							if err != nil || res.Written != 0 || res.Unchanged != int64(n) || !res.Direct {
								t.Fatalf("unchanged delta: %+v, %v", res, err)
							}
						}
					})
				}
			})
		}
	}
}

// TestFlashDirectTooSmall flashes an image larger than the loop device:
// refused with ErrTooLarge (the device's size from BLKGETSIZE64), before
// anything is written.
func TestFlashDirectTooSmall(t *testing.T) {
	dev, backing := loopDevice(t, 1<<20, 512)
	_, img := oddDisk(t, 3<<20+1000)
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Flash(context.Background(), f, bytes.NewReader(img), Options{Verify: true})
	var de *DirtyError
	if !errors.Is(err, ErrTooLarge) || errors.As(err, &de) {
		t.Fatalf("err = %v, want ErrTooLarge before writing", err)
	}
	got, _ := os.ReadFile(backing)
	if !bytes.Equal(got, bytes.Repeat([]byte{0xee}, 1<<20)) {
		t.Fatal("the device was written to")
	}
}

// TestFlashDirectBuffered: Options.Buffered keeps the page cache.
func TestFlashDirectBuffered(t *testing.T) {
	dev, backing := loopDevice(t, 4<<20, 512)
	_, img := oddDisk(t, 2<<20+700)
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Flash(context.Background(), f, bytes.NewReader(img), Options{Verify: true, Buffered: true})
	if err != nil || res.Direct || !res.Verified {
		t.Fatalf("%+v, %v: want a verified buffered flash", res, err)
	}
	got, _ := os.ReadFile(backing)
	if !bytes.Equal(got[:len(img)], img) {
		t.Fatal("the device differs from the image")
	}
}

// TestFlashDirectCaller flashes to a device the caller opened with
// O_DIRECT itself (as sdmux does with Direct): the image's partial last
// block still goes through a buffered descriptor. A flash that then
// breaks off marks the device dirty through the same split.
func TestFlashDirectCaller(t *testing.T) {
	dev, backing := loopDevice(t, 8<<20, 4096)
	_, img := oddDisk(t, 3<<20+1000)
	f, err := os.OpenFile(dev, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Flash(context.Background(), f, bytes.NewReader(img), Options{Verify: true})
	if err != nil || !res.Direct || !res.Verified {
		t.Fatalf("%+v, %v: want a verified direct flash", res, err)
	}
	got, _ := os.ReadFile(backing)
	if i := firstDiff(got[:len(img)], img); i >= 0 {
		t.Fatalf("the device differs from the image at byte %d", i)
	}
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(bytes.Repeat(img, 2))
	gw.Close()
	_, err = Flash(context.Background(), f, bytes.NewReader(gz.Bytes()[:gz.Len()*3/4]), Options{})
	var de *DirtyError
	if !errors.As(err, &de) || de.MarkErr != nil {
		t.Fatalf("truncated stream: %v, want a *DirtyError with the device marked dirty", err)
	}
	got, _ = os.ReadFile(backing)
	if !bytes.Equal(got[:DirtyHead], make([]byte, DirtyHead)) || !bytes.Equal(got[len(got)-DirtyTail:], make([]byte, DirtyTail)) {
		t.Fatal("the device's head and tail were not wiped")
	}
}

// TestDirectTargetSplit writes and reads through a directTarget at
// unaligned offsets, lengths and memory: everything lands where it
// should.
func TestDirectTargetSplit(t *testing.T) {
	dev, backing := loopDevice(t, 1<<20, 4096)
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := openDirect(f)
	if err != nil || d == nil {
		t.Fatalf("openDirect: %v, %v", d, err)
	}
	defer d.close()
	if d.block != 4096 || d.Capacity() != 1<<20 {
		t.Fatalf("block %d, capacity %d", d.block, d.Capacity())
	}
	want := bytes.Repeat([]byte{0xee}, 1<<20)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, w := range []struct{ off, n, shift int }{
		{0, 8192, 0},           // aligned
		{8192, 10000, 0},       // a partial last block
		{40960, 3 << 17, 1},    // unaligned memory: through the bounce buffer
		{500000 - 100, 300, 0}, // unaligned offset: buffered
		{4096 * 200, 1<<20 - 4096*200, 7},
	} {
		buf := make([]byte, w.n+w.shift)[w.shift:]
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		if n, err := d.WriteAt(buf, int64(w.off)); err != nil || n != w.n {
			t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", w.n, w.off, n, err)
		}
		copy(want[w.off:], buf)
		back := make([]byte, w.n+w.shift)[w.shift:]
		if n, err := d.ReadAt(back, int64(w.off)); err != nil || n != w.n || !bytes.Equal(back, buf) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v, equal %v", w.n, w.off, n, err, bytes.Equal(back, buf))
		}
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(backing)
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("the device differs at byte %d", i)
	}
	// Reading past the end is io.EOF, as for a file.
	if _, err := d.ReadAt(make([]byte, 8192), 1<<20-4096); err != io.EOF {
		t.Fatalf("read past the end: %v, want io.EOF", err)
	}
}

// TestOpenDirectFile: a regular file keeps the buffered path.
func TestOpenDirectFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "target"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d, err := openDirect(f); d != nil || err != nil {
		t.Fatalf("openDirect(regular file) = %v, %v; want nil, nil", d, err)
	}
	res, err := Flash(context.Background(), f, bytes.NewReader(testDisk()), Options{Verify: true})
	if err != nil || res.Direct {
		t.Fatalf("%+v, %v", res, err)
	}
}

// TestXZOneCore tells xz streams that decode on all cores from those
// that do not, and checks the one line Flash logs for the latter.
func TestXZOneCore(t *testing.T) {
	if _, err := exec.LookPath(xzCommand); err != nil {
		t.Skip("xz is not installed (apt-get install xz-utils)")
	}
	img := testDisk()
	for _, c := range []struct {
		name    string
		xz      []byte
		oneCore bool
	}{
		{"single-threaded", systemXZ(t, img, "-T1", "-1"), true},
		{"single-threaded with --block-size", systemXZ(t, img, "-T1", "--block-size=1MiB", "-1"), true},
		{"multi-threaded", systemXZ(t, img, "-T2", "--block-size=1MiB", "-1"), false},
		{"Go writer", compress(t, XZ, img), true},
		{"empty stream", systemXZ(t, nil, "-T1"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := xzOneCore(c.xz[:xzFirstBlockFlags+1]); got != c.oneCore {
				t.Fatalf("xzOneCore = %v, want %v", got, c.oneCore)
			}
			if len(c.xz) < 100 {
				return
			}
			var log bytes.Buffer
			fh, _ := os.Create(filepath.Join(t.TempDir(), "disk"))
			defer fh.Close()
			_, err := Flash(context.Background(), fh, bytes.NewReader(c.xz), Options{Log: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if logged := strings.Contains(log.String(), "decodes on one core") && strings.Contains(log.String(), "xz -T0"); logged != c.oneCore {
				t.Fatalf("logged %q, want the one-core notice: %v", log.String(), c.oneCore)
			}
			if n := strings.Count(log.String(), "\n"); c.oneCore && n != 1 {
				t.Fatalf("%d lines logged, want 1: %q", n, log.String())
			}
		})
	}
}

func mustOpen(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// firstDiff is the first index where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestChunkBuffers: a buffer is made only when none is free, never more
// than max, and a taker waits for one given back or for its context.
func TestChunkBuffers(t *testing.T) {
	c := newChunkBuffers(3)
	ctx := t.Context()
	// A writer that keeps up: the same buffer goes round.
	first, _ := c.take(ctx)
	for range 10 {
		c.give(first)
		b, ok := c.take(ctx)
		if !ok || &b[0] != &first[0] {
			t.Fatal("a buffer given back was not the one taken next")
		}
	}
	if c.made != 1 {
		t.Fatalf("made %d buffers for one in use at a time, want 1", c.made)
	}
	// A writer that lags: up to max, then the taker waits.
	second, _ := c.take(ctx)
	third, _ := c.take(ctx)
	if len(second) != ChunkSize || len(third) != ChunkSize || !isAligned(third, bufAlign) || c.made != 3 {
		t.Fatalf("made %d buffers (%d, %d bytes), want 3 aligned ones of %d", c.made, len(second), len(third), ChunkSize)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, ok := c.take(short); ok {
		t.Fatal("a fourth buffer was handed out with max 3 and none given back")
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		c.give(second)
	}()
	if b, ok := c.take(ctx); !ok || &b[0] != &second[0] || c.made != 3 {
		t.Fatalf("the taker did not get the buffer given back (ok %v, made %d)", ok, c.made)
	}
}
