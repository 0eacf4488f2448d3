// Package image is the image pipeline: it recognises an OS image's format
// from its magic bytes (raw, gzip, xz, zstd, bzip2, zip), decompresses it on the
// fly and writes it to a flash target. Decompression and hashing run in one
// goroutine, writing in another, 4 MiB at a time.
//
// What reaches the target, per 64 KiB sub-block: with a bmaptool block map
// (package bmap) only mapped blocks, each mapped range's SHA-256 checked as
// it streams past; with Delta only blocks that differ from what the target
// holds; on a target that reads back zeros (dut.Zeroed) no blocks of zeros.
// Verify re-reads what was written: a streamed image is compared, per
// sub-block, with a record made as it was written (a 64-bit hash keyed at
// random for each flash, or "all zeros"; 8 bytes per 64 KiB of image), and
// a regular-file target's holes (SEEK_HOLE) are not read at all, since
// they read as zeros: they pass where the image had zeros and fail where it
// had data. With a block map its ranges' SHA-256s are checked again; an
// uncompressed image file is compared byte for byte. A mismatch is a
// *ChecksumError naming the target's bytes. An image that expands past the
// target's capacity is stopped there.
//
// A target with a file descriptor written through the page cache has its
// writeback started every 16 MiB (sync_file_range), so the final sync
// waits for the last stretch, not the whole image. A delta flash of an
// image file reads the image and the target ahead of the comparison,
// several 1 MiB pieces at once; its time is bounded by reading both (on a
// block device, all of the image's size). The system's xz reads an image
// file itself and writes to a 1 MiB pipe.
//
// Flash writes disk images: one whose first sectors hold no MBR or GPT
// partition table is refused before anything is written (ErrNotDiskImage).
// Options.AnyImage lets through any other image (a filesystem image, a
// firmware blob, an eMMC boot partition), as bmaptool copy does; the
// worker's whole-disk flash does not set it.
//
// Sources (a file, an HTTP URL with resume) are in package source; the
// content-addressed image cache in package cache.
//
// A zip archive must hold one file (package zipstream reads it as a
// stream); that file may itself be compressed. A flash that fails after
// writing started marks the target dirty (MarkDirty: its partition tables
// are wiped) and returns a *DirtyError. Checksums: Options.SHA256 and
// Options.SourceSHA256 are known only once the image streamed past, so a
// mismatch fails the flash after writing (dirty, before the final sync);
// DecompressedSHA256 is the pre-pass that refuses before writing. Meter
// and ETA measure progress.
//
// Block devices are written with O_DIRECT (Options.Buffered turns it
// off). A second descriptor of the same device is opened with O_DIRECT
// (or without it, for the tails, when the caller opened the device with
// O_DIRECT itself, as package sdmux can); the pipeline's buffers are
// page-aligned and not reused before their write returned; each chunk
// goes out in 1 MiB pieces, all in flight at once, while the next chunk
// is decompressed; the device's logical block size (BLKSSZGET) decides
// what is aligned. An image's last partial block (and any write at an
// unaligned offset) is written through the buffered descriptor instead:
// nothing past the image is touched, and the final sync flushes it.
// Verify and delta read through O_DIRECT too, several reads at once. A
// regular file is always written through the page cache. Result.Direct
// says which way a flash went.
//
// A system xz decodes a multi-block stream on all cores; a stream whose
// blocks do not record their sizes (compressed single-threaded) decodes
// on one, and Flash logs one line (Options.Log) saying so and that
// `xz -T0` makes an image that decodes on all cores. It tells from the
// first block's header, so it works on a stream as on a file.
//
// Limits: a device that refuses O_DIRECT is written buffered (logged).
// From a stream, a zip's second file is seen only after the first one
// was written; from a regular file the central directory is read first
// and such an archive is refused before writing. A nested zip is
// refused.
package image
