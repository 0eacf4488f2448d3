package duttest

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/diskfs/go-diskfs/filesystem"
)

// GPTImage returns a disk image of size bytes (at least 64 KiB) with a
// protective MBR, a GPT header at LBA 1 and some pseudo-random data from
// 32 KiB on, so that it is neither all zeros nor compressible to nothing.
// The partition table is not complete: it is enough for an image sniffer,
// not for a firmware.
func GPTImage(size int) []byte {
	size = max(size, 64<<10)
	img := make([]byte, size)
	// Protective MBR: one partition of type 0xEE covering the disk.
	p := img[446:462]
	p[4] = 0xee
	binary.LittleEndian.PutUint32(p[8:], 1)
	binary.LittleEndian.PutUint32(p[12:], uint32(min(size/512-1, 0xffffffff)))
	img[510], img[511] = 0x55, 0xaa
	// GPT header at LBA 1.
	h := img[512:]
	copy(h, "EFI PART")
	binary.LittleEndian.PutUint32(h[8:], 0x00010000) // revision 1.0
	binary.LittleEndian.PutUint32(h[12:], 92)        // header size
	binary.LittleEndian.PutUint64(h[24:], 1)         // this LBA
	binary.LittleEndian.PutUint64(h[32:], uint64(size/512-1))
	rng := rand.New(rand.NewPCG(uint64(size), 7))
	for i := 32 << 10; i < min(size, 48<<10); i++ {
		img[i] = byte(rng.Uint32())
	}
	return img
}

// FATDisk makes a 48 MiB GPT disk image file whose one partition is an
// EFI system partition formatted FAT32 when fat is true, and a Linux
// partition of pseudo-random bytes otherwise: an image to provision, or
// one with nowhere to put config.json. The file is closed when the test
// ends.
func FATDisk(tb testing.TB, fat bool) *os.File {
	tb.Helper()
	fs := NoFS
	if fat {
		fs = filesystem.TypeFat32
	}
	f, err := os.OpenFile(DiskImage(tb, "gpt", 48<<11, Partition{Start: 2048, Size: 40 << 11, FS: fs, Label: "boot"}), os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}
