// Package bootpart reads and writes files on the FAT boot partition of a
// disk image or block device, in Go and without root: no loop devices, no
// mounting. It is how a testbot edits config.json on a flashed medium
// before the DUT boots it.
//
// The boot partition is the first partition, in partition table order,
// that holds a FAT filesystem (FAT12, FAT16 or FAT32); GPT is tried before
// MBR. Files are found ignoring case, as FAT does; WriteFile creates the
// missing directories of a path and replaces an existing file, and refuses
// a file the filesystem has no room for ("no space left on device") rather
// than let go-diskfs write past the end of the partition. A malformed
// filesystem that makes go-diskfs panic gives an error instead.
//
// Partitions, ProbeFAT and WriteFileAt take the same steps one at a time,
// for a caller that holds only part of a disk, such as a stream's head or
// one partition (package autokit/image/inject).
//
// Limits: reading and writing go through github.com/diskfs/go-diskfs, so
// they share its limits: 512-byte logical sectors on image files, no
// extended (logical) MBR partitions, and a disk that is a bare FAT
// filesystem without a partition table is refused. Each call re-reads the
// partition table and the FAT, and a write rewrites the whole FAT: fine for
// configuration files, slow for many large files. Nothing guards against
// another process using the same disk at the same time.
package bootpart
