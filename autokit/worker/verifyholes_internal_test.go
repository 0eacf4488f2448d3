package worker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/image"
)

// countingFile is a fresh, empty file target that counts the bytes read
// from it and offers its file (as dut storage targets do).
type countingFile struct {
	*os.File
	read atomic.Int64
}

func (c *countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingFile) OSFile() *os.File { return c.File }
func (c *countingFile) Zeroed() bool     { return true }

// hiding offers the target's reads and writes but not its file.
type hiding struct{ dut.Target }

func (h hiding) Zeroed() bool { return true }

func (h hiding) Truncate(n int64) error { return h.Target.(*countingFile).Truncate(n) }

// TestVerifySkipsHolesThroughTheRecordingTarget: the worker's wrapper
// around the DUT's storage passes the medium's file on, so verifying a
// mostly empty image reads back its data, not its holes; a target that
// does not offer its file is read back whole, which shows the count
// tells the two apart.
func TestVerifySkipsHolesThroughTheRecordingTarget(t *testing.T) {
	const size = 32 << 20
	img := duttest.GPTImage(size)
	copy(img[8<<20:], bytes.Repeat([]byte{0x5a}, 256<<10)) // some data in the middle
	for _, tc := range []struct {
		name     string
		wrap     func(*countingFile) dut.Target
		most     int64 // bytes verify may read back
		least    int64
		skipping bool
	}{
		{"offers its file", func(c *countingFile) dut.Target { return c }, 2 << 20, 0, true},
		{"hides its file", func(c *countingFile) dut.Target { return hiding{c} }, size, size, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "disk"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c := &countingFile{File: f}
			dst := &recordingTarget{Target: tc.wrap(c)}
			res, err := image.Flash(context.Background(), dst, bytes.NewReader(img), image.Options{Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verified {
				t.Fatalf("not verified: %+v", res)
			}
			if got := c.read.Load(); got > tc.most || got < tc.least {
				t.Fatalf("verify read back %d bytes of a %d-byte image with %d bytes written; want %d to %d", got, size, res.Written, tc.least, tc.most)
			}
			if disk, _ := os.ReadFile(f.Name()); !bytes.Equal(disk, img) {
				t.Fatal("the disk does not hold the image")
			}
		})
	}
}
