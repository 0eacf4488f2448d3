// Package bmap reads the block map files (".bmap") that bmaptool writes
// next to sparse OS images: which blocks of the image hold data and, from
// format 1.3 on, a checksum of each run of such blocks. A flasher that has
// the map writes only the mapped blocks and checks each range as it streams
// past.
//
// Parse is strict: the file must be well-formed XML with a <bmap> root;
// the format version must be 1.x or 2.x; the block size a power of two of
// at least 512 bytes; BlocksCount must cover ImageSize exactly; ranges
// must be sorted, disjoint and within BlocksCount; MappedBlocksCount must
// be the sum of the ranges; and the file's own checksum, when present,
// must match. Every error is an *Error that names the element, the range
// index, the line and the offending text.
//
// Formats, as bmaptool 3.x reads them:
//
//   - 1.0 to 1.2: no checksums (ChecksumType is "").
//   - 1.3: SHA-1 checksums in "sha1" attributes and <BmapFileSHA1>.
//   - 1.4 and 2.x: <ChecksumType>, "chksum" attributes and
//     <BmapFileChecksum>. 1.4 was a misnumbered 2.0.
//
// Limits: only the "sha256" and "sha1" checksum types are accepted
// (bmaptool can also write others, such as sha512, on request). Range
// checksums are kept only for sha256 maps (Range.SHA256); the SHA-1 range
// checksums of 1.3 and sha1 maps are checked for form and then dropped,
// since nothing downstream verifies SHA-1. The file's own checksum is
// verified for both types. Unknown elements are skipped, as bmaptool
// skips them, so that minor format revisions still parse. Files larger
// than MaxFileSize are refused.
package bmap
