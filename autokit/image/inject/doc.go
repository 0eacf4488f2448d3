// Package inject writes files, such as config.json, into the FAT boot
// partition of a disk image while the image streams past: it is a
// transform over the decompressed image bytes, so the files are part of
// what is flashed instead of being patched into the target afterwards. It
// needs no root, no loop device and no temporary copy of the image.
//
// New returns a Reader that reads the partition table from the head of
// the stream (GPT, else MBR, as package autokit/bootpart does), finds the
// boot partition (the first partition, in partition table order, that
// holds FAT12, FAT16 or FAT32), holds that partition in memory, writes the
// files into it with bootpart's FAT code, and passes every other byte
// through unchanged. The output is exactly as long as the input. The
// Reader hashes its input with SHA-256 (InputSHA256), so the image's
// published checksum can still be checked, and on request its output
// (WithOutputSHA256).
//
// The Reader never ends with io.EOF unless every file was written: a
// stream that is not a disk image, an image without a FAT partition, an
// image that ends inside its boot partition, a partition too large for
// the memory limit and a file that does not fit each fail Read with an
// error that matches one of the Err variables and says what was found.
// Bytes already returned by then are a prefix of the unchanged image.
//
// Memory: at most the limit (WithMemoryLimit, DefaultMemoryLimit 512 MiB)
// of the image is held at once, and the boot partition must fit in it;
// go-diskfs adds its working copy of the FAT (a 512 MiB FAT32 partition
// with 4 KiB clusters has a 512 KiB FAT). Nothing is written to disk.
// Output is held back until the files are written when that fits in the
// limit (so a failure usually comes before the first byte is returned);
// otherwise the bytes before the boot partition are passed on first.
//
// Limits: 512-byte sectors. The primary GPT must be intact: the backup at
// the end of the image is not consulted, as the end has not streamed past
// when the decision is taken. Partitions are examined in table order; one
// that starts far (more than the limit) after a partition listed later in
// the table cannot be examined and fails the read. go-diskfs stamps the
// files with the current time, so two runs with the same files do not give
// byte-identical images.
package inject
