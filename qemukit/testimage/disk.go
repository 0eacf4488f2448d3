package testimage

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/balena/leviathan-action/autokit/bootpart"
)

// Disk layout: GPT, 512-byte sectors, partitions aligned to 1 MiB.
const (
	mib         = 1 << 20
	sectorSize  = 512
	bootSize    = 100 * mib
	dataSize    = 64 * mib
	bootStart   = 1 * mib
	dataStart   = bootStart + bootSize
	diskSize    = dataStart + dataSize + 1*mib // room for the backup GPT
	bootLabel   = "LEVBOOT"
	dataLabel   = "LEVDATA"
	bootPart    = "boot"
	dataPart    = "data"
	bootPartNum = 1
	dataPartNum = 2
)

// diskFile is a file to put on the boot partition.
type diskFile struct {
	Path string // absolute, "/EFI/BOOT/BOOTX64.EFI"
	Data []byte
}

// seededGUID derives a GUID from seed and what, so that the same inputs
// give the same partition GUIDs.
func seededGUID(seed, what string) string {
	h := sha256.Sum256([]byte(seed + "\x00" + what))
	h[6] = h[6]&0x0f | 0x40 // version 4 layout
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// writeDisk writes the whole disk image to the new file at imgPath: GPT
// with the EFI system partition "boot" (FAT32, LEVBOOT) holding files, and
// the empty Linux partition "data" (FAT32, LEVDATA).
func writeDisk(imgPath string, files []diskFile, seed string) (err error) {
	f, err := os.OpenFile(imgPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("testimage: %w", cerr)
		}
	}()
	if err := f.Truncate(diskSize); err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	d, err := diskfs.OpenBackend(file.New(f, false), diskfs.WithSectorSize(sectorSize))
	if err != nil {
		return fmt.Errorf("testimage: disk: %w", err)
	}
	table := &gpt.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		ProtectiveMBR:      true,
		GUID:               seededGUID(seed, "disk"),
		Partitions: []*gpt.Partition{
			{
				Index: bootPartNum,
				Start: bootStart / sectorSize,
				End:   (bootStart+bootSize)/sectorSize - 1,
				Type:  gpt.EFISystemPartition,
				Name:  bootPart,
				GUID:  seededGUID(seed, bootPart),
			},
			{
				Index: dataPartNum,
				Start: dataStart / sectorSize,
				End:   (dataStart+dataSize)/sectorSize - 1,
				Type:  gpt.LinuxFilesystem,
				Name:  dataPart,
				GUID:  seededGUID(seed, dataPart),
			},
		},
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("testimage: partitioning: %w", err)
	}

	boot, err := d.CreateFilesystem(disk.FilesystemSpec{
		Partition: bootPartNum, FSType: filesystem.TypeFat32, VolumeLabel: bootLabel, Reproducible: true,
	})
	if err != nil {
		return fmt.Errorf("testimage: boot partition: %w", err)
	}
	made := map[string]bool{"/": true}
	for _, bf := range files {
		dir := path.Dir(bf.Path)
		if !made[dir] {
			if err := boot.Mkdir(dir); err != nil {
				return fmt.Errorf("testimage: boot partition: mkdir %s: %w", dir, err)
			}
			for d := dir; d != "/"; d = path.Dir(d) {
				made[d] = true
			}
		}
		if err := writeFATFile(boot, bf.Path, bf.Data); err != nil {
			return fmt.Errorf("testimage: boot partition: %w", err)
		}
	}

	if _, err := d.CreateFilesystem(disk.FilesystemSpec{
		Partition: dataPartNum, FSType: filesystem.TypeFat32, VolumeLabel: dataLabel, Reproducible: true,
	}); err != nil {
		return fmt.Errorf("testimage: data partition: %w", err)
	}
	// go-diskfs leaves details fsck.fat objects to (FSInfo counts, ".."
	// of top-level directories): tidy both volumes.
	for _, start := range []int64{bootStart, dataStart} {
		if err := bootpart.TidyFAT(f, start); err != nil {
			return fmt.Errorf("testimage: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	return nil
}

// writeFATFile creates or replaces name with data. It writes in one call:
// go-diskfs rewrites the FAT on every Write.
func writeFATFile(fsys filesystem.FileSystem, name string, data []byte) error {
	w, err := fsys.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if len(data) > 0 {
		if _, err := w.Write(data); err != nil {
			_ = w.Close()
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}
