package bootpart_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
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

	"github.com/balena/leviathan-action/autokit/bootpart"
)

const mib = 1 << 20

// part is one partition of a test disk: where it is and what to put in it.
type part struct {
	startMiB, sizeMiB int64
	fat               filesystem.Type // -1: leave the bytes as they are
	label             string
}

const noFS filesystem.Type = -1

// newDisk creates a disk image in t.TempDir with the given partition table
// ("gpt" or "mbr") and partitions, and returns it opened read-write.
func newDisk(t *testing.T, table string, sizeMiB int64, parts ...part) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), table+".img")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(sizeMiB * mib); err != nil {
		t.Fatal(err)
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
				Index: i + 1, Start: uint64(pt.startMiB * mib / 512),
				End: uint64((pt.startMiB+pt.sizeMiB)*mib/512 - 1), Type: typ, Name: pt.label,
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
				Index: i + 1, Type: typ, Start: uint32(pt.startMiB * mib / 512), Size: uint32(pt.sizeMiB * mib / 512),
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
		if pt.fat == noFS {
			continue
		}
		if _, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: i + 1, FSType: pt.fat, VolumeLabel: pt.label}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// fsckPartition runs `fsck.vfat -n` on a copy of the partition that starts
// at startMiB, when dosfstools is installed.
func fsckPartition(t *testing.T, f *os.File, startMiB, sizeMiB int64) {
	t.Helper()
	fsck, err := exec.LookPath("fsck.vfat")
	if err != nil {
		t.Logf("skipping the fsck.vfat check: %v (apt-get install dosfstools)", err)
		return
	}
	p := filepath.Join(t.TempDir(), "part.img")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, startMiB*mib, sizeMiB*mib)); err != nil {
		t.Fatal(err)
	}
	out.Close()
	b, err := exec.Command(fsck, "-n", p).CombinedOutput()
	if err != nil {
		t.Fatalf("fsck.vfat -n: %v\n%s", err, b)
	}
	t.Logf("fsck.vfat -n: %s", strings.TrimSpace(string(b)))
}

func TestReadWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		table    string
		parts    []part
		fatStart int64
		fatSize  int64
	}{
		{"gpt-fat32-first", "gpt", []part{{1, 100, filesystem.TypeFat32, "LEVBOOT"}, {101, 16, noFS, "data"}}, 1, 100},
		{"gpt-fat32-second", "gpt", []part{{1, 8, noFS, "other"}, {9, 40, filesystem.TypeFat32, "BOOT"}}, 9, 40},
		// go-diskfs sizes this FAT two entries short; TidyFAT fixes it.
		{"gpt-fat32-64MiB", "gpt", []part{{1, 64, filesystem.TypeFat32, "LEVDATA"}}, 1, 64},
		{"mbr-fat32", "mbr", []part{{4, 40, filesystem.TypeFat32, "RESIN-BOOT"}, {44, 8, noFS, ""}}, 4, 40},
		{"mbr-fat16", "mbr", []part{{1, 40, filesystem.TypeFat16, "BOOT16"}}, 1, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDisk(t, tc.table, tc.fatStart+tc.fatSize+20, tc.parts...)

			p, err := bootpart.Find(f)
			if err != nil {
				t.Fatal(err)
			}
			if p.Start != tc.fatStart*mib || p.Size != tc.fatSize*mib {
				t.Errorf("Find = %+v, want start %d MiB size %d MiB", p, tc.fatStart, tc.fatSize)
			}

			if _, err := bootpart.ReadFile(f, "/config.json"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
			}
			long := bytes.Repeat([]byte(`{"hostname":"a-long-value"}`), 1000)
			short := []byte(`{"hostname":"dut"}` + "\n")
			for _, w := range []struct {
				name string
				data []byte
			}{
				{"/config.json", long},
				{"/config.json", short},
				{"loader/entries/leviathan.conf", []byte("linux /vmlinuz\n")},
				{"/empty", nil},
				{"/empty", []byte("not empty any more")},
				{"/empty", []byte{}},
			} {
				if err := bootpart.WriteFile(f, w.name, w.data); err != nil {
					t.Fatalf("WriteFile(%s): %v", w.name, err)
				}
				got, err := bootpart.ReadFile(f, w.name)
				if err != nil {
					t.Fatalf("ReadFile(%s): %v", w.name, err)
				}
				if !bytes.Equal(got, w.data) {
					t.Fatalf("ReadFile(%s) = %d bytes, want %d", w.name, len(got), len(w.data))
				}
			}
			// FAT ignores case.
			if got, err := bootpart.ReadFile(f, "/CONFIG.JSON"); err != nil || !bytes.Equal(got, short) {
				t.Errorf("ReadFile(/CONFIG.JSON) = %q, %v", got, err)
			}
			if _, err := bootpart.ReadFile(f, "/loader"); err == nil {
				t.Error("ReadFile of a directory succeeded")
			}
			if err := bootpart.WriteFile(f, "/config.json/x", nil); err == nil {
				t.Error("WriteFile under a file succeeded")
			}
			fsckPartition(t, f, tc.fatStart, tc.fatSize)
		})
	}
}

// TestMkfsFAT checks a filesystem made by mkfs.fat, the way real boot
// partitions are made.
func TestMkfsFAT(t *testing.T) {
	mkfs, err := exec.LookPath("mkfs.fat")
	if err != nil {
		t.Skipf("mkfs.fat not installed (apt-get install dosfstools): %v", err)
	}
	for _, bits := range []string{"16", "32"} {
		t.Run("fat"+bits, func(t *testing.T) {
			f := newDisk(t, "mbr", 80, part{4, 64, noFS, ""})
			if b, err := exec.Command(mkfs, "-F", bits, "-n", "RESIN-BOOT", "--offset", "8192", f.Name(), "65536").CombinedOutput(); err != nil {
				t.Fatalf("mkfs.fat: %v\n%s", err, b)
			}
			p, err := bootpart.Find(f)
			if err != nil {
				t.Fatal(err)
			}
			if p.Label != "RESIN-BOOT" || p.Type != "fat"+bits {
				t.Errorf("Find = %+v", p)
			}
			if err := bootpart.WriteFile(f, "/config.json", []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if got, err := bootpart.ReadFile(f, "config.json"); err != nil || string(got) != `{}` {
				t.Fatalf("ReadFile = %q, %v", got, err)
			}
			fsckPartition(t, f, 4, 64)
		})
	}
}

func TestErrors(t *testing.T) {
	random := make([]byte, 2*mib)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	random[510], random[511] = 0, 0 // no MBR signature by chance

	for _, tc := range []struct {
		name string
		make func(t *testing.T) *os.File
		want error
	}{
		{"empty file", func(t *testing.T) *os.File { return fileWith(t, nil) }, bootpart.ErrNoPartitionTable},
		{"random bytes", func(t *testing.T) *os.File { return fileWith(t, random) }, bootpart.ErrNoPartitionTable},
		{"zeros", func(t *testing.T) *os.File { return fileWith(t, make([]byte, mib)) }, bootpart.ErrNoPartitionTable},
		{"gpt without FAT", func(t *testing.T) *os.File {
			return newDisk(t, "gpt", 20, part{1, 8, noFS, "a"}, part{9, 8, noFS, "b"})
		}, bootpart.ErrNoFATPartition},
		{"mbr without FAT", func(t *testing.T) *os.File { return newDisk(t, "mbr", 20, part{1, 8, noFS, ""}) }, bootpart.ErrNoFATPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.make(t)
			if _, err := bootpart.ReadFile(f, "/config.json"); !errors.Is(err, tc.want) {
				t.Errorf("ReadFile: %v, want %v", err, tc.want)
			}
			if err := bootpart.WriteFile(f, "/config.json", []byte("{}")); !errors.Is(err, tc.want) {
				t.Errorf("WriteFile: %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("read-only file", func(t *testing.T) {
		f := newDisk(t, "gpt", 60, part{1, 40, filesystem.TypeFat32, "BOOT"})
		ro, err := os.Open(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		if err := bootpart.WriteFile(ro, "/x", []byte("x")); err == nil || !strings.HasPrefix(err.Error(), "bootpart: ") {
			t.Errorf("WriteFile on a read-only file: %v", err)
		}
	})
	t.Run("root is not a file", func(t *testing.T) {
		f := newDisk(t, "gpt", 60, part{1, 40, filesystem.TypeFat32, "BOOT"})
		if _, err := bootpart.ReadFile(f, "/"); err == nil {
			t.Error("ReadFile(/) succeeded")
		}
	})
}

func fileWith(t *testing.T, data []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

var _ bootpart.Disk = (*os.File)(nil)

// TestNoRoom: a file larger than the free space is refused, and nothing
// past the partition is written (go-diskfs alone would write there).
func TestNoRoom(t *testing.T) {
	f := newDisk(t, "gpt", 60, part{1, 40, filesystem.TypeFat32, "BOOT"}, part{41, 8, noFS, "data"})
	after := make([]byte, 8*mib)
	for i := range after {
		after[i] = byte(i*7 + 1)
	}
	if _, err := f.WriteAt(after, 41*mib); err != nil {
		t.Fatal(err)
	}
	err := bootpart.WriteFile(f, "/big.bin", make([]byte, 45*mib))
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("WriteFile of 45 MiB into 40 MiB: %v, want no space left", err)
	}
	got := make([]byte, len(after))
	if _, err := f.ReadAt(got, 41*mib); err != nil || !bytes.Equal(got, after) {
		t.Fatal("the next partition changed")
	}
	fsckPartition(t, f, 1, 40)
}

// TestSteps: Partitions, ProbeFAT and WriteFileAt agree with Find,
// ReadFile and WriteFile.
func TestSteps(t *testing.T) {
	for _, table := range []string{"gpt", "mbr"} {
		t.Run(table, func(t *testing.T) {
			f := newDisk(t, table, 70, part{1, 8, noFS, "a"}, part{9, 40, filesystem.TypeFat32, "BOOT"})
			exts, err := bootpart.Partitions(f)
			if err != nil || len(exts) != 2 || exts[1] != (bootpart.Extent{Index: 2, Start: 9 * mib, Size: 40 * mib}) {
				t.Fatalf("Partitions = %+v, %v", exts, err)
			}
			if _, err := bootpart.ProbeFAT(f, exts[0].Start, exts[0].Size); !errors.Is(err, bootpart.ErrNoFATPartition) {
				t.Errorf("ProbeFAT of a Linux partition: %v", err)
			}
			p, err := bootpart.ProbeFAT(f, exts[1].Start, exts[1].Size)
			found, ferr := bootpart.Find(f)
			found.Index = 0
			if err != nil || ferr != nil || p != found {
				t.Errorf("ProbeFAT = %+v, %v; Find = %+v, %v", p, err, found, ferr)
			}
			if err := bootpart.WriteFileAt(f, exts[1].Start, exts[1].Size, "dir/config.json", []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if got, err := bootpart.ReadFile(f, "/DIR/CONFIG.JSON"); err != nil || string(got) != "{}" {
				t.Errorf("ReadFile after WriteFileAt = %q, %v", got, err)
			}
			if err := bootpart.WriteFileAt(f, exts[0].Start, exts[0].Size, "x", nil); !errors.Is(err, bootpart.ErrNoFATPartition) {
				t.Errorf("WriteFileAt on a Linux partition: %v", err)
			}
			fsckPartition(t, f, 9, 40)
		})
	}
	if _, err := bootpart.Partitions(bytes.NewReader(make([]byte, 4096))); !errors.Is(err, bootpart.ErrNoPartitionTable) {
		t.Errorf("Partitions of zeros: %v", err)
	}
}
