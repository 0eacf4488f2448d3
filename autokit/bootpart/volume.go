package bootpart

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"
	"github.com/diskfs/go-diskfs/partition/part"
)

// The functions in this file serve a caller that cannot hand over a whole
// disk: one that streams an image and holds only its first sectors or one
// partition in memory (package autokit/image/inject). They apply the rules
// Find applies, one step at a time.

// Extent is where a partition lies on a disk.
type Extent struct {
	Index int   // 1-based index in the partition table
	Start int64 // byte offset on the disk
	Size  int64 // bytes
}

// maxGPTArray bounds the GPT partition entry array Partitions reads; the
// UEFI default is 16 KiB.
const maxGPTArray = 1 << 20

// Partitions reads the partition table at the start of the disk r (GPT
// first, then MBR, as Find does) and returns its partitions in table
// order, leaving out those without bytes or with an offset that does not
// fit an int64. It reads only the first sectors: the MBR, the primary GPT
// header and its partition entries. The disk's size is not asked for, so
// a GPT whose primary header is damaged is not recovered from its backup
// at the end of the disk, and partitions are not checked against the
// disk's end; Find, which knows the size, checks both.
func Partitions(r io.ReaderAt) ([]Extent, error) {
	head := make([]byte, 1024)
	if n, _ := r.ReadAt(head, 0); n == len(head) && string(head[512:520]) == "EFI PART" {
		count := uint64(binary.LittleEndian.Uint32(head[512+80:]))
		size := uint64(binary.LittleEndian.Uint32(head[512+84:]))
		if count*size > maxGPTArray {
			return nil, fmt.Errorf("%w: the GPT header declares a partition entry array of %d bytes (%d entries of %d bytes), more than the %d bytes a sane table has",
				ErrNoPartitionTable, count*size, count, size, maxGPTArray)
		}
	}
	// As partition.Read, which Find uses: GPT, else MBR. A protective MBR
	// alone means the GPT was there but could not be read: say why.
	f := &region{r: r, size: -1}
	var parts []part.Partition
	err := safely(func() error {
		t, gerr := gpt.Read(f, 512, 512)
		if gerr == nil {
			parts = t.GetPartitions()
			return nil
		}
		m, merr := mbr.Read(f, 512, 512)
		if merr != nil {
			return ErrNoPartitionTable
		}
		for _, p := range m.Partitions {
			if p.Type == mbr.GPTProtective {
				return fmt.Errorf("%w: a protective MBR, but its GPT cannot be read (%v)", ErrNoPartitionTable, gerr)
			}
		}
		parts = m.GetPartitions()
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrNoPartitionTable) {
			err = fmt.Errorf("%w (%v)", ErrNoPartitionTable, err)
		}
		return nil, err
	}
	var out []Extent
	for _, p := range parts {
		start, size := p.GetStart(), p.GetSize()
		if size <= 0 || start < 0 || start > 1<<62 || size > 1<<62 {
			continue
		}
		out = append(out, Extent{Index: p.GetIndex(), Start: start, Size: size})
	}
	return out, nil
}

// ProbeFAT reports whether the size bytes at offset start of r hold a FAT
// filesystem, by the test Find applies to each partition, and describes it
// (Index is left 0). It returns an error matching ErrNoFATPartition when
// they do not. It reads the boot sector and the FATs; the FATs' declared
// size is checked against size before anything is allocated for them.
func ProbeFAT(r io.ReaderAt, start, size int64) (Partition, error) {
	fsys, kind := readFAT(file.New(&region{r: r, size: start + size}, true), size, start, 512)
	if fsys == nil {
		return Partition{}, fmt.Errorf("%w: the %d bytes at offset %d hold no FAT filesystem", ErrNoFATPartition, size, start)
	}
	return Partition{Start: start, Size: size, Label: strings.TrimSpace(fsys.Label()), Type: kind}, nil
}

// WriteFileAt is WriteFile for the FAT filesystem in the size bytes at
// offset start of s, such as ProbeFAT found: it creates or replaces name,
// creating missing directories, and tidies the filesystem (TidyFAT). It
// does not sync. A filesystem with no room left gives an error that says
// so ("no space left on device").
func WriteFileAt(s Storage, start, size int64, name string, data []byte) error {
	p, err := cleanPath(name)
	if err != nil {
		return err
	}
	// go-diskfs can hand out clusters the FAT addresses past the end of
	// the volume; writes stay inside the partition.
	fsys, _ := readFAT(file.New(&region{r: s, w: s, size: start + size, wlo: start}, false), size, start, 512)
	if fsys == nil {
		return fmt.Errorf("%w: the %d bytes at offset %d hold no FAT filesystem", ErrNoFATPartition, size, start)
	}
	return safely(func() error { return writeFS(fsys, s, start, p, data) })
}

// region presents a ReaderAt (and a WriterAt) as the file go-diskfs
// expects. A size < 0 is unknown: seeking to the end fails, which keeps
// go-diskfs from looking for a backup GPT there.
type region struct {
	r    io.ReaderAt
	w    io.WriterAt // nil: read-only
	size int64
	off  int64
	wlo  int64 // with w: writes must lie in [wlo, size)
}

var errUnknownSize = errors.New("bootpart: the disk's size is not known")

func (g *region) Stat() (fs.FileInfo, error) {
	if g.size < 0 {
		return nil, errUnknownSize
	}
	return regionInfo(g.size), nil
}

func (g *region) Read(p []byte) (int, error) {
	n, err := g.r.ReadAt(p, g.off)
	g.off += int64(n)
	return n, err
}

func (g *region) ReadAt(p []byte, off int64) (int, error) { return g.r.ReadAt(p, off) }

func (g *region) WriteAt(p []byte, off int64) (int, error) {
	if g.w == nil {
		return 0, errors.New("bootpart: the disk is open read-only")
	}
	if off < g.wlo || off > g.size || int64(len(p)) > g.size-off {
		return 0, fmt.Errorf("bootpart: write to bytes %d-%d, outside the partition (bytes %d-%d)", off, off+int64(len(p))-1, g.wlo, g.size-1)
	}
	return g.w.WriteAt(p, off)
}

func (g *region) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += g.off
	case io.SeekEnd:
		if g.size < 0 {
			return 0, errUnknownSize
		}
		offset += g.size
	default:
		return 0, fmt.Errorf("bootpart: seek: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, errors.New("bootpart: seek before the start of the disk")
	}
	g.off = offset
	return offset, nil
}

func (g *region) Close() error { return nil }

// regionInfo is the fs.FileInfo of a region: a regular file of its size.
type regionInfo int64

func (i regionInfo) Name() string       { return "disk" }
func (i regionInfo) Size() int64        { return int64(i) }
func (i regionInfo) Mode() fs.FileMode  { return 0o600 }
func (i regionInfo) ModTime() time.Time { return time.Time{} }
func (i regionInfo) IsDir() bool        { return false }
func (i regionInfo) Sys() any           { return nil }
