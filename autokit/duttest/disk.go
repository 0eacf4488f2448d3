package duttest

import (
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

// NoFS leaves a Partition without a filesystem.
const NoFS filesystem.Type = -1

// Partition is one partition of a DiskImage, in 512-byte sectors.
type Partition struct {
	Start, Size int64
	// FS is the filesystem go-diskfs creates in it (filesystem.TypeFat32,
	// …), or NoFS: then Content is written at its start, or without
	// Content it is filled with pseudo-random bytes.
	FS      filesystem.Type
	Label   string
	Content []byte // a ready-made volume (FAT when set: the partition's type)
}

func (p Partition) fat() bool { return p.FS != NoFS || p.Content != nil }

// DiskImage creates a disk image file of sectors 512-byte sectors in
// tb.TempDir with the given partition table ("gpt" or "mbr") and
// partitions, and returns its path. FAT partitions get the EFI system
// (GPT) or FAT32 LBA (MBR) type, others Linux. Partitions without a
// filesystem and the bytes between the partition table and the first
// partition are pseudo-random, so a byte a test passes through wrongly
// shows.
func DiskImage(tb testing.TB, table string, sectors int64, parts ...Partition) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), table+".img")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(sectors * 512); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(sectors), uint64(len(parts))))
	noise := func(from, to int64) {
		b := make([]byte, to-from)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(b, from); err != nil {
			tb.Fatal(err)
		}
	}
	if len(parts) > 0 && parts[0].Start*512 > 64<<10 {
		noise(64<<10, parts[0].Start*512) // after the GPT entries
	}
	d, err := diskfs.OpenBackend(file.New(f, false))
	if err != nil {
		tb.Fatal(err)
	}
	switch table {
	case "gpt":
		t := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true}
		for i, pt := range parts {
			typ := gpt.LinuxFilesystem
			if pt.fat() {
				typ = gpt.EFISystemPartition
			}
			t.Partitions = append(t.Partitions, &gpt.Partition{
				Index: i + 1, Start: uint64(pt.Start), End: uint64(pt.Start + pt.Size - 1), Type: typ, Name: pt.Label,
			})
		}
		err = d.Partition(t)
	case "mbr":
		t := &mbr.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512}
		for i, pt := range parts {
			typ := mbr.Linux
			if pt.fat() {
				typ = mbr.Fat32LBA
			}
			t.Partitions = append(t.Partitions, &mbr.Partition{
				Index: i + 1, Type: typ, Start: uint32(pt.Start), Size: uint32(pt.Size),
			})
		}
		err = d.Partition(t)
	default:
		tb.Fatalf("duttest: unknown partition table %q (gpt or mbr)", table)
	}
	if err != nil {
		tb.Fatal(err)
	}
	for i, pt := range parts {
		switch {
		case pt.Content != nil:
			if _, err := f.WriteAt(pt.Content, pt.Start*512); err != nil {
				tb.Fatal(err)
			}
		case pt.FS == NoFS:
			noise(pt.Start*512, (pt.Start+pt.Size)*512)
		default:
			if _, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: i + 1, FSType: pt.FS, VolumeLabel: pt.Label}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// FsckFAT runs `fsck.vfat -n` on a copy of the size bytes at start of img
// and fails the test when it finds a problem. Without dosfstools it logs
// that the check was skipped.
func FsckFAT(tb testing.TB, img io.ReaderAt, start, size int64) {
	tb.Helper()
	tool, err := exec.LookPath("fsck.vfat")
	if err != nil {
		tb.Logf("skipping the fsck.vfat check: %v (apt-get install dosfstools)", err)
		return
	}
	p := filepath.Join(tb.TempDir(), "part.img")
	out, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(img, start, size)); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := exec.Command(tool, "-n", p).CombinedOutput()
	if err != nil {
		tb.Fatalf("fsck.vfat -n: %v\n%s", err, b)
	}
	tb.Logf("fsck.vfat -n: %s", strings.TrimSpace(string(b)))
}
