// Package image is the image pipeline: it recognises an OS image's format
// from its magic bytes (raw, gzip, xz, zstd, bzip2), decompresses it on the
// fly, checks that what comes out is a disk image (an MBR or GPT partition
// table) and writes it to a flash target, skipping blocks of zeros when the
// target is known to read back zeros.
//
// Limits: zip archives are recognised but refused; there is no block map,
// verification pass or delta flash yet. Writing is sequential.
package image
