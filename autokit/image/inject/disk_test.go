package inject_test

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

const mib = 1 << 20

// part is one partition of a test disk, in 512-byte sectors.
type part struct {
	start, size int64           // sectors
	fat         filesystem.Type // noFS: fill it with pseudo-random bytes instead
	label       string
}

const (
	noFS  filesystem.Type = -1
	fat12 filesystem.Type = -2 // a hand-made 64 KiB FAT12 volume (tinyFAT12)
)

// newDisk returns the bytes of a disk image of sectors 512-byte sectors
// with the given partition table ("gpt" or "mbr") and partitions.
// Partitions without a filesystem and the bytes between partitions are
// pseudo-random, so a byte passed through wrongly shows.
func newDisk(t testing.TB, table string, sectors int64, parts ...part) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), table+".img")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(sectors * 512); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(sectors), uint64(len(parts))))
	noise := func(from, to int64) {
		b := make([]byte, to-from)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(b, from); err != nil {
			t.Fatal(err)
		}
	}
	// Noise in the gaps (after the GPT entries, before the first partition).
	if parts[0].start*512 > 64<<10 {
		noise(64<<10, parts[0].start*512)
	}

	d, err := diskfs.OpenBackend(file.New(f, false))
	if err != nil {
		t.Fatal(err)
	}
	switch table {
	case "gpt":
		tb := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true}
		for i, pt := range parts {
			typ := gpt.LinuxFilesystem
			if pt.fat != noFS {
				typ = gpt.EFISystemPartition
			}
			tb.Partitions = append(tb.Partitions, &gpt.Partition{
				Index: i + 1, Start: uint64(pt.start), End: uint64(pt.start + pt.size - 1), Type: typ, Name: pt.label,
			})
		}
		err = d.Partition(tb)
	case "mbr":
		tb := &mbr.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512}
		for i, pt := range parts {
			typ := mbr.Linux
			if pt.fat != noFS {
				typ = mbr.Fat32LBA
			}
			tb.Partitions = append(tb.Partitions, &mbr.Partition{
				Index: i + 1, Type: typ, Start: uint32(pt.start), Size: uint32(pt.size),
			})
		}
		err = d.Partition(tb)
	default:
		t.Fatalf("unknown table %q", table)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, pt := range parts {
		switch pt.fat {
		case noFS:
			noise(pt.start*512, (pt.start+pt.size)*512)
		case fat12:
			if _, err := f.WriteAt(tinyFAT12(pt.size, pt.label), pt.start*512); err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: i + 1, FSType: pt.fat, VolumeLabel: pt.label}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := os.ReadFile(p)
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

// fsck runs `fsck.vfat -n` on the size bytes at start of img, when
// dosfstools is installed.
func fsck(t *testing.T, img []byte, start, size int64) {
	t.Helper()
	tool, err := exec.LookPath("fsck.vfat")
	if err != nil {
		t.Logf("skipping the fsck.vfat check: %v (apt-get install dosfstools)", err)
		return
	}
	p := filepath.Join(t.TempDir(), "part.img")
	if err := os.WriteFile(p, img[start:start+size], 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(tool, "-n", p).CombinedOutput()
	if err != nil {
		t.Fatalf("fsck.vfat -n: %v\n%s", err, b)
	}
	t.Logf("fsck.vfat -n: %s", strings.TrimSpace(string(b)))
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
