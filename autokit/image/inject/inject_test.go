package inject_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/diskfs/go-diskfs/filesystem"

	"github.com/balena/leviathan-action/autokit/bootpart"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/image/inject"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var testFiles = []inject.File{
	{Name: "config.json", Data: []byte(`{"hostname":"dut-01","os":{"sshKeys":["ssh-ed25519 AAAA"]}}` + "\n")},
	{Name: "/loader/entries/leviathan.conf", Data: []byte("linux /vmlinuz\noptions console=ttyS0\n")},
	{Name: "big.bin", Data: bytes.Repeat([]byte("0123456789abcdef"), 20000)}, // 320 KB, many clusters
	{Name: "empty", Data: nil},
}

// checkOutput checks out, the image in with files written into the
// partition at [start, start+size): the files read back, fsck.vfat is
// happy, and every byte outside the partition is the input's.
func checkOutput(t *testing.T, in, out []byte, r *inject.Reader, files []inject.File, start, size int64) {
	t.Helper()
	if len(out) != len(in) {
		t.Fatalf("output is %d bytes, input %d", len(out), len(in))
	}
	if !bytes.Equal(out[:start], in[:start]) {
		t.Error("the bytes before the boot partition changed")
	}
	if !bytes.Equal(out[start+size:], in[start+size:]) {
		t.Error("the bytes after the boot partition changed")
	}
	if bytes.Equal(out[start:start+size], in[start:start+size]) {
		t.Error("the boot partition did not change")
	}
	if got := r.InputSHA256(); got != sum(in) {
		t.Errorf("InputSHA256 = %s, want the input's %s", got, sum(in))
	}
	if got := r.OutputSHA256(); got != sum(out) {
		t.Errorf("OutputSHA256 = %s, want the output's %s", got, sum(out))
	}
	p, ok := r.Partition()
	if !ok || p.Start != start || p.Size != size {
		t.Errorf("Partition = %+v, %v; want start %d size %d", p, ok, start, size)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(out); err != nil {
		t.Fatal(err)
	}
	found, err := bootpart.Find(f)
	if err != nil || found.Start != start || found.Index != p.Index {
		t.Errorf("bootpart.Find on the output = %+v, %v; want the partition at %d", found, err, start)
	}
	for _, fl := range files {
		got, err := bootpart.ReadFile(f, fl.Name)
		if err != nil {
			t.Errorf("ReadFile(%s): %v", fl.Name, err)
		} else if !bytes.Equal(got, fl.Data) {
			t.Errorf("ReadFile(%s) = %d bytes, want %d", fl.Name, len(got), len(fl.Data))
		}
	}
	fsck(t, out, start, size)
}

func TestInject(t *testing.T) {
	const s = 2048 // sectors in a MiB
	for _, tc := range []struct {
		name    string
		table   string
		sectors int64
		parts   []part
		fat     int // index in parts of the FAT partition
		limit   int64
	}{
		{"gpt-fat32-first", "gpt", 60 * s, []part{{s, 40 * s, filesystem.TypeFat32, "BOOT"}, {41 * s, 8 * s, noFS, "data"}}, 0, 0},
		{"gpt-linux-then-fat32", "gpt", 70 * s, []part{{s, 8 * s, noFS, "rootA"}, {9 * s, 40 * s, filesystem.TypeFat32, "BOOT"}, {49 * s, 8 * s, noFS, "data"}}, 1, 0},
		{"mbr-fat32", "mbr", 64 * s, []part{{4 * s, 40 * s, filesystem.TypeFat32, "RESIN-BOOT"}, {44 * s, 8 * s, noFS, ""}}, 0, 0},
		{"mbr-fat16", "mbr", 50 * s, []part{{s, 40 * s, filesystem.TypeFat16, "BOOT16"}, {41 * s, 4 * s, noFS, ""}}, 0, 0},
		{"mbr-fat12", "mbr", 2 * s, []part{{128, 128, fat12, "TINY"}, {256, 1024, noFS, ""}}, 0, 0},
		{"gpt-fat12-second", "gpt", 2 * s, []part{{128, 512, noFS, "a"}, {640, 128, fat12, "TINY"}}, 1, 0},
		// The limit holds the partition but not what comes before it:
		// the head is passed on first.
		{"limit-passes-the-head-on", "gpt", 70 * s, []part{{s, 8 * s, noFS, "rootA"}, {9 * s, 40 * s, filesystem.TypeFat32, "BOOT"}, {49 * s, 8 * s, noFS, "data"}}, 1, 40 * mib},
		// Partitions out of disk order: the second one is examined first.
		{"table-out-of-disk-order", "mbr", 70 * s, []part{{50 * s, 8 * s, noFS, ""}, {s, 40 * s, filesystem.TypeFat32, "BOOT"}}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newDisk(t, tc.table, tc.sectors, tc.parts...)
			fp := tc.parts[tc.fat]
			opts := []inject.Option{inject.WithOutputSHA256()}
			if tc.limit > 0 {
				opts = append(opts, inject.WithMemoryLimit(tc.limit))
			}
			files := testFiles
			if fp.fat == fat12 {
				files = testFiles[:2] // 64 KiB holds no big.bin
			}
			r := inject.New(newChunky(in, 1), files, opts...)
			first := make([]byte, 1)
			if _, err := io.ReadFull(r, first); err != nil {
				t.Fatal(err)
			}
			// The boot partition is found before any output, even when
			// the limit makes the head be passed on before the partition
			// is read.
			if _, found := r.Partition(); !found {
				t.Error("the first byte came before the boot partition was found")
			}
			rest, err := readAll(r, 2)
			if err != nil {
				t.Fatal(err)
			}
			checkOutput(t, in, append(first, rest...), r, files, fp.start*512, fp.size*512)
			if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
				t.Errorf("Read after the end = %d, %v; want io.EOF", n, err)
			}
		})
	}
}

// TestFATDisk uses duttest's disk, as the CLI tests do.
func TestFATDisk(t *testing.T) {
	f := duttest.FATDisk(t, true)
	in, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	p, err := bootpart.Find(f)
	if err != nil {
		t.Fatal(err)
	}
	r := inject.New(bytes.NewReader(in), testFiles, inject.WithOutputSHA256())
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, in, out, r, testFiles, p.Start, p.Size)
}

// TestMkfsFAT injects into filesystems made by mkfs.fat, the way real boot
// partitions are made.
func TestMkfsFAT(t *testing.T) {
	mkfs, err := exec.LookPath("mkfs.fat")
	if err != nil {
		t.Skipf("mkfs.fat not installed (apt-get install dosfstools): %v", err)
	}
	for _, bits := range []string{"16", "32"} {
		t.Run("fat"+bits, func(t *testing.T) {
			in := newDisk(t, "mbr", 80*2048, part{4 * 2048, 64 * 2048, noFS, ""})
			p := filepath.Join(t.TempDir(), "disk.img")
			if err := os.WriteFile(p, in, 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := exec.Command(mkfs, "-F", bits, "-n", "RESIN-BOOT", "--offset", "8192", p, "65536").CombinedOutput(); err != nil {
				t.Fatalf("mkfs.fat: %v\n%s", err, b)
			}
			in, _ = os.ReadFile(p)
			r := inject.New(bytes.NewReader(in), testFiles, inject.WithOutputSHA256())
			out, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			checkOutput(t, in, out, r, testFiles, 4*mib, 64*mib)
			if got, _ := r.Partition(); got.Label != "RESIN-BOOT" || got.Type != "fat"+bits || got.Index != 1 {
				t.Errorf("Partition = %+v", got)
			}
		})
	}
}

func TestNoFiles(t *testing.T) {
	in := []byte("not even a disk image")
	r := inject.New(bytes.NewReader(in), nil)
	out, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(out, in) || r.InputSHA256() != sum(in) || r.OutputSHA256() != "" {
		t.Fatalf("no files: %q, %v, input sum %s, output sum %q", out, err, r.InputSHA256(), r.OutputSHA256())
	}
}

func TestErrors(t *testing.T) {
	const s = 2048
	gptDisk := newDisk(t, "gpt", 60*s, part{s, 40 * s, filesystem.TypeFat32, "BOOT"}, part{41 * s, 8 * s, noFS, "data"})
	mbrDisk := newDisk(t, "mbr", 2*s, part{128, 128, fat12, "TINY"}, part{256, 1024, noFS, ""})
	noFAT := newDisk(t, "gpt", 20*s, part{s, 8 * s, noFS, "a"}, part{9 * s, 8 * s, noFS, "b"})
	random := make([]byte, 2*mib)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[510], random[511] = 0, 0

	for _, tc := range []struct {
		name  string
		in    []byte
		files []inject.File
		limit int64
		want  error
		says  []string
	}{
		{"empty", nil, testFiles, 0, inject.ErrNoPartitionTable, []string{"only 0 bytes"}},
		{"random bytes", random, testFiles, 0, inject.ErrNoPartitionTable, nil},
		{"zeros", make([]byte, mib), testFiles, 0, inject.ErrNoPartitionTable, nil},
		{"cut in the MBR", mbrDisk[:300], testFiles, 0, inject.ErrNoPartitionTable, []string{"only 300 bytes"}},
		{"cut in the GPT entries", gptDisk[:4096], testFiles, 0, inject.ErrNoPartitionTable, []string{"protective MBR, but its GPT cannot be read", "ends at byte 4096"}},
		{"no FAT partition", noFAT, testFiles, 0, inject.ErrNoFATPartition, []string{"examined: 1 (bytes 1048576-", ", 2 (bytes"}},
		{"cut before the boot partition", gptDisk[:512*1024], testFiles, 0, inject.ErrNoFATPartition, []string{"the image ends at byte 524288", "truncated"}},
		{"cut in the FAT", gptDisk[:mib+600*1024], testFiles, 0, inject.ErrTruncated, []string{"ends at byte", "partition 1 (FAT32)", "truncated"}},
		{"cut in the boot partition", gptDisk[:30*mib], testFiles, 0, inject.ErrTruncated, []string{"ends at byte 31457280", "partition 1 (FAT32) spans bytes 1048576-42991615"}},
		{"cut in a tiny FAT12", mbrDisk[:128*512+100*512], testFiles[:1], 0, inject.ErrTruncated, []string{"partition 1 (FAT12)"}},
		{"partition over the limit", gptDisk, testFiles, 16 * mib, inject.ErrTooLarge, []string{"boot partition 1 (FAT32) is 40.0 MiB (41943040 bytes), more than the limit of 16.0 MiB"}},
		{"table over the limit", gptDisk, testFiles, 4096, inject.ErrTooLarge, []string{"reading the partition table"}},
		{"file too large", mbrDisk, []inject.File{{Name: "big.bin", Data: make([]byte, 100<<10)}}, 0, inject.ErrNoSpace, []string{"big.bin (102400 bytes", "partition 1 (FAT12"}},
		{"file name is the root", mbrDisk, []inject.File{{Name: "/", Data: []byte("x")}}, 0, nil, []string{"names the root directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []inject.Option
			if tc.limit > 0 {
				opts = append(opts, inject.WithMemoryLimit(tc.limit))
			}
			r := inject.New(newChunky(tc.in, 7), tc.files, opts...)
			out, err := readAll(r, 8)
			if err == nil {
				t.Fatalf("read %d bytes and io.EOF, want an error", len(out))
			}
			t.Logf("error: %v", err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error does not match %v", tc.want)
			}
			if !strings.HasPrefix(err.Error(), "inject: ") && !strings.HasPrefix(err.Error(), "bootpart: ") {
				t.Errorf("error not prefixed with its package")
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q", s)
				}
			}
			// Every image here fits in the limit: output is held back
			// until the files are written, so nothing came out.
			if len(out) != 0 {
				t.Errorf("returned %d bytes before failing", len(out))
			}
			if r.InputSHA256() != "" {
				t.Error("InputSHA256 set after a failure")
			}
			if n, err2 := r.Read(make([]byte, 10)); n != 0 || err2 == nil || err2 == io.EOF {
				t.Errorf("Read after a failure = %d, %v; want the error again", n, err2)
			}
		})
	}
}

// TestSourceError: a read error of the source is returned, wrapped, at
// any stage.
func TestSourceError(t *testing.T) {
	in := newDisk(t, "mbr", 2*2048, part{128, 128, fat12, "TINY"}, part{256, 1024, noFS, ""})
	boom := errors.New("connection reset")
	for _, at := range []int{0, 100, 128*512 + 700, 256*512 + 10} {
		r := inject.New(io.MultiReader(bytes.NewReader(in[:at]), iotest.ErrReader(boom)), testFiles[:1])
		_, err := io.ReadAll(r)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "inject: reading the image at") {
			t.Errorf("cut at %d: %v, want the source's error", at, err)
		}
	}
}
