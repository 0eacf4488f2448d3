package bootpart_test

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/filesystem"

	"github.com/balena/leviathan-action/autokit/bootpart"
	"github.com/balena/leviathan-action/autokit/duttest"
)

const mib = 1 << 20

// part is one partition of a test disk: where it is and what to put in it.
type part struct {
	startMiB, sizeMiB int64
	fat               filesystem.Type // noFS: pseudo-random bytes
	label             string
}

const noFS = duttest.NoFS

// newDisk creates a disk image of sizeMiB with the given partition table
// ("gpt" or "mbr") and partitions, and returns it opened read-write.
func newDisk(t *testing.T, table string, sizeMiB int64, parts ...part) *os.File {
	t.Helper()
	var ps []duttest.Partition
	for _, p := range parts {
		ps = append(ps, duttest.Partition{Start: p.startMiB * mib / 512, Size: p.sizeMiB * mib / 512, FS: p.fat, Label: p.label})
	}
	f, err := os.OpenFile(duttest.DiskImage(t, table, sizeMiB*mib/512, ps...), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// fsckPartition runs fsck.vfat on the partition that starts at startMiB.
func fsckPartition(t *testing.T, f *os.File, startMiB, sizeMiB int64) {
	t.Helper()
	duttest.FsckFAT(t, f, startMiB*mib, sizeMiB*mib)
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
