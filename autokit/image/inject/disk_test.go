package inject_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/diskfs/go-diskfs/filesystem"

	"github.com/balena/leviathan-action/autokit/duttest"
)

const mib = 1 << 20

// part is one partition of a test disk, in 512-byte sectors.
type part struct {
	start, size int64           // sectors
	fat         filesystem.Type // noFS: fill it with pseudo-random bytes instead
	label       string
}

const (
	noFS                  = duttest.NoFS
	fat12 filesystem.Type = -2 // a hand-made 64 KiB FAT12 volume (tinyFAT12)
)

// newDisk returns the bytes of a disk image of sectors 512-byte sectors
// with the given partition table ("gpt" or "mbr") and partitions.
// Partitions without a filesystem and the bytes between partitions are
// pseudo-random, so a byte passed through wrongly shows.
func newDisk(t testing.TB, table string, sectors int64, parts ...part) []byte {
	t.Helper()
	var ps []duttest.Partition
	for _, p := range parts {
		dp := duttest.Partition{Start: p.start, Size: p.size, FS: p.fat, Label: p.label}
		if p.fat == fat12 {
			dp.FS, dp.Content = duttest.NoFS, tinyFAT12(p.size, p.label)
		}
		ps = append(ps, dp)
	}
	b, err := os.ReadFile(duttest.DiskImage(t, table, sectors, ps...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tinyFAT12 returns an empty FAT12 volume of sectors 512-byte sectors (at
// most 4000), laid out as mkfs.fat -F 12 -s 1 -r 16 does: small enough for
// fuzz seeds.
func tinyFAT12(sectors int64, label string) []byte {
	v := make([]byte, sectors*512)
	bs := v[:512]
	copy(bs, []byte{0xeb, 0x3c, 0x90})
	copy(bs[3:], "mkfs.fat")
	binary.LittleEndian.PutUint16(bs[11:], 512) // bytes per sector
	bs[13] = 1                                  // sectors per cluster
	binary.LittleEndian.PutUint16(bs[14:], 1)   // reserved sectors
	bs[16] = 2                                  // FATs
	binary.LittleEndian.PutUint16(bs[17:], 16)  // root entries
	binary.LittleEndian.PutUint16(bs[19:], uint16(sectors))
	bs[21] = 0xf8
	fatSectors := ((sectors+2)*3/2 + 511) / 512
	binary.LittleEndian.PutUint16(bs[22:], uint16(fatSectors))
	binary.LittleEndian.PutUint16(bs[24:], 16) // sectors per track
	binary.LittleEndian.PutUint16(bs[26:], 2)  // heads
	bs[36] = 0x80
	bs[38] = 0x29
	binary.LittleEndian.PutUint32(bs[39:], 0x61d01318)
	copy(bs[43:54], (label + "           ")[:11])
	copy(bs[54:62], "FAT12   ")
	bs[510], bs[511] = 0x55, 0xaa
	for i := range int64(2) {
		copy(v[(1+i*fatSectors)*512:], []byte{0xf8, 0xff, 0xff})
	}
	// The volume label again, as the root directory's first entry.
	root := v[(1+2*fatSectors)*512:]
	copy(root[:11], bs[43:54])
	root[11] = 0x08
	return v
}

// fsck runs `fsck.vfat -n` on the size bytes at start of img.
func fsck(t *testing.T, img []byte, start, size int64) {
	t.Helper()
	duttest.FsckFAT(t, bytes.NewReader(img), start, size)
}

// chunky reads from b in pseudo-random amounts, from 1 byte to 3 MiB, as
// a decompressor does.
type chunky struct {
	b   []byte
	rng *rand.Rand
}

func newChunky(b []byte, seed uint64) *chunky {
	return &chunky{b: b, rng: rand.New(rand.NewPCG(seed, 3))}
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := 1 + c.rng.IntN(3*mib)
	if c.rng.IntN(4) == 0 {
		n = 1 + c.rng.IntN(700)
	}
	n = copy(p[:min(n, len(p))], c.b)
	c.b = c.b[n:]
	return n, nil
}

// readAll reads r to its end in pseudo-random amounts and returns what it
// got and the error that ended it (nil for io.EOF).
func readAll(r io.Reader, seed uint64) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, 5))
	var out []byte
	buf := make([]byte, 4*mib)
	for {
		n, err := r.Read(buf[:1+rng.IntN(len(buf))])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}
