package bootpart

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/fat12"
	"github.com/diskfs/go-diskfs/filesystem/fat16"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
)

// Errors that say why a disk has no usable boot partition.
var (
	// ErrNoPartitionTable is returned when the disk has neither a GPT nor
	// an MBR partition table (random data, an empty file, a bare
	// filesystem).
	ErrNoPartitionTable = errors.New("bootpart: not a disk image: no partition table found")
	// ErrNoFATPartition is returned when no partition holds a FAT
	// filesystem.
	ErrNoFATPartition = errors.New("bootpart: no FAT partition in the disk's partition table")
)

// Disk is a disk image or block device. *os.File satisfies it, and so does
// an autokit/dut.Target.
type Disk interface {
	fs.File
	io.ReaderAt
	io.WriterAt
	io.Seeker
}

// Partition describes the FAT partition ReadFile and WriteFile use.
type Partition struct {
	Index int    // 1-based index in the partition table
	Start int64  // byte offset on the disk
	Size  int64  // bytes
	Label string // volume label, trimmed
	Type  string // "fat12", "fat16" or "fat32"
}

// open finds the first partition of the disk in f that holds a FAT
// filesystem.
func open(f Disk, readOnly bool) (filesystem.FileSystem, Partition, error) {
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return nil, Partition{}, fmt.Errorf("%w (the disk is empty)", ErrNoPartitionTable)
	}
	b := file.New(f, readOnly)
	d, err := diskfs.OpenBackend(b)
	if err != nil {
		return nil, Partition{}, fmt.Errorf("bootpart: opening the disk: %w", err)
	}
	if d.Table == nil {
		return nil, Partition{}, ErrNoPartitionTable
	}
	for _, p := range d.Table.GetPartitions() {
		start, size := p.GetStart(), p.GetSize()
		if size <= 0 || start < 0 || start+size > d.Size {
			continue
		}
		fsys, kind := readFAT(b, size, start, d.LogicalBlocksize)
		if fsys == nil {
			continue
		}
		return fsys, Partition{
			Index: p.GetIndex(),
			Start: start,
			Size:  size,
			Label: strings.TrimSpace(fsys.Label()),
			Type:  kind,
		}, nil
	}
	return nil, Partition{}, ErrNoFATPartition
}

// readFAT returns the FAT filesystem of a partition, or nil.
func readFAT(b backend.Storage, size, start, blocksize int64) (filesystem.FileSystem, string) {
	try := func(read func() (filesystem.FileSystem, error)) (fsys filesystem.FileSystem) {
		if err := safely(func() (err error) { fsys, err = read(); return err }); err != nil {
			return nil
		}
		return fsys
	}
	fat32Fits, fat16Fits := fatFits(b, size, start)
	if fat32Fits {
		if fsys := try(func() (filesystem.FileSystem, error) { return fat32.Read(b, size, start, blocksize) }); fsys != nil {
			return fsys, "fat32"
		}
	}
	if fat16Fits {
		if fsys := try(func() (filesystem.FileSystem, error) { return fat16.Read(b, size, start, blocksize) }); fsys != nil {
			return fsys, "fat16"
		}
		if fsys := try(func() (filesystem.FileSystem, error) { return fat12.Read(b, size, start, blocksize) }); fsys != nil {
			return fsys, "fat12"
		}
	}
	return nil, ""
}

// safely runs f, turning a panic of go-diskfs's (it divides by fields of
// the boot sector, and indexes by cluster numbers, that a damaged or
// hostile filesystem sets as it likes) into an error.
func safely(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("bootpart: go-diskfs failed on a malformed FAT filesystem: %v", v)
		}
	}()
	return f()
}

// fatFits reports whether the first FAT that the boot sector at start
// declares lies inside the size bytes of the partition, as the FAT32
// reader sees the boot sector and as the FAT12/16 readers do. go-diskfs
// allocates a FAT's declared size before reading it: a damaged or hostile
// boot sector must not make it allocate gigabytes.
func fatFits(r io.ReaderAt, size, start int64) (fat32OK, fat16OK bool) {
	bs := make([]byte, 512)
	if n, _ := r.ReadAt(bs, start); n < len(bs) {
		return false, false
	}
	bps := uint64(binary.LittleEndian.Uint16(bs[11:]))
	if bps == 0 || bs[13] == 0 || bs[16] == 0 {
		// No bytes per sector, sectors per cluster or FATs: go-diskfs
		// would divide by zero.
		return false, false
	}
	reserved := uint64(binary.LittleEndian.Uint16(bs[14:])) * bps
	fits := func(fatSectors uint64) bool {
		return fatSectors > 0 && reserved+fatSectors*bps <= uint64(size)
	}
	return fits(uint64(binary.LittleEndian.Uint32(bs[36:]))), fits(uint64(binary.LittleEndian.Uint16(bs[22:])))
}

// cleanPath makes name absolute and clean ("config.json" is "/config.json").
func cleanPath(name string) (string, error) {
	p := path.Clean("/" + name)
	if p == "/" {
		return "", fmt.Errorf("bootpart: %q names the root directory, not a file", name)
	}
	return p, nil
}

// lookup finds name in its directory, ignoring case as FAT does. It
// returns fs.ErrNotExist (wrapped) if there is no such entry.
func lookup(fsys filesystem.FileSystem, name string) (fs.DirEntry, error) {
	dir, base := path.Split(name)
	// go-diskfs lists directories by io/fs paths: "." or "a/b".
	dir = strings.Trim(path.Clean(dir), "/")
	if dir == "" {
		dir = "."
	}
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		if strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "since it is a file") {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return nil, fmt.Errorf("reading directory /%s: %w", strings.TrimPrefix(dir, "."), err)
	}
	for _, e := range entries {
		if strings.EqualFold(e.Name(), base) {
			return e, nil
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// Find returns the FAT partition that ReadFile and WriteFile use: the
// first partition, in partition table order, that holds a FAT filesystem.
func Find(f Disk) (Partition, error) {
	_, p, err := open(f, true)
	return p, err
}

// ReadFile reads name (e.g. "/config.json") from the first FAT partition of
// the GPT or MBR disk in f. A missing file gives an error that matches
// fs.ErrNotExist.
func ReadFile(f Disk, name string) ([]byte, error) {
	p, err := cleanPath(name)
	if err != nil {
		return nil, err
	}
	fsys, _, err := open(f, true)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = safely(func() (err error) {
		data, err = readFS(fsys, p)
		return err
	})
	return data, err
}

// readFS reads the file p (clean and absolute) from fsys.
func readFS(fsys filesystem.FileSystem, p string) ([]byte, error) {
	e, err := lookup(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("bootpart: %w", err)
	}
	if e.IsDir() {
		return nil, fmt.Errorf("bootpart: %s is a directory", p)
	}
	if fi, err := e.Info(); err == nil && fi.Size() == 0 {
		// go-diskfs cannot open a file without clusters.
		return []byte{}, nil
	}
	r, err := fsys.OpenFile(p, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("bootpart: open %s: %w", p, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("bootpart: read %s: %w", p, err)
	}
	return data, nil
}

// WriteFile creates or replaces name on the first FAT partition of the
// disk in f, creating missing directories, and syncs f if it can.
func WriteFile(f Disk, name string, data []byte) error {
	p, err := cleanPath(name)
	if err != nil {
		return err
	}
	fsys, part, err := open(f, false)
	if err != nil {
		return err
	}
	if err := safely(func() error { return writeFS(fsys, f, part.Start, p, data) }); err != nil {
		return err
	}
	if s, ok := f.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("bootpart: sync: %w", err)
		}
	}
	return nil
}

// writeFS creates or replaces the file p (clean and absolute) on fsys, the
// FAT filesystem that starts at byte offset start of s, and tidies it.
func writeFS(fsys filesystem.FileSystem, s Storage, start int64, p string, data []byte) error {
	var old int64
	if e, err := lookup(fsys, p); err == nil {
		if e.IsDir() {
			return fmt.Errorf("bootpart: %s is a directory", p)
		}
		// go-diskfs loses data written to an existing file that has no
		// clusters: make it anew.
		if fi, err := e.Info(); err == nil && fi.Size() == 0 {
			if err := fsys.Remove(p); err != nil {
				return fmt.Errorf("bootpart: replacing empty %s: %w", p, err)
			}
		} else if err == nil {
			old = fi.Size()
		}
	}
	// Directories to create: a cluster each.
	var dirs []string
	for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
		if _, err := lookup(fsys, dir); err == nil {
			break
		}
		dirs = append(dirs, dir)
	}
	if err := checkRoom(s, start, p, int64(len(data)), old, len(dirs)); err != nil {
		return err
	}
	if dir := path.Dir(p); dir != "/" {
		if e, err := lookup(fsys, dir); err != nil {
			if err := fsys.Mkdir(dir); err != nil {
				return fmt.Errorf("bootpart: mkdir %s: %w", dir, err)
			}
		} else if !e.IsDir() {
			return fmt.Errorf("bootpart: %s is a file, not a directory", dir)
		}
	}
	w, err := fsys.OpenFile(p, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("bootpart: create %s: %w", p, err)
	}
	// One Write: go-diskfs rewrites the FAT on every call.
	if len(data) > 0 {
		if _, err := w.Write(data); err != nil {
			_ = w.Close()
			return fmt.Errorf("bootpart: write %s: %w", p, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("bootpart: close %s: %w", p, err)
	}
	return TidyFAT(s, start)
}
