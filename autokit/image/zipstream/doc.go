// Package zipstream reads a zip archive front to back from an io.Reader,
// without the central directory, so that a member can be decompressed
// while the archive is still arriving (an upload, a download) and no
// temporary copy is needed.
//
// Reader walks the local file headers: Next returns each member's header
// and Read its decompressed bytes, checking the member's CRC-32 and size
// at its end. One returns the only file of an archive, failing with a
// *SeveralError that names the files when there are more (directories do
// not count).
//
// Limits, all inherent in reading a stream:
//   - Only the store and deflate methods are read; encrypted members are
//     refused (ErrEncrypted, ErrMethod).
//   - A stored member needs its size in the local header: one written
//     with a data descriptor (its size comes after the data) cannot be
//     delimited and is refused, also when it would only be skipped
//     (ErrNotStreamable). A deflated member ends itself, so a data
//     descriptor is fine there.
//   - The central directory is not read: names and sizes come from the
//     local headers, and an archive whose local headers disagree with its
//     central directory is read as its local headers say. Whatever follows
//     the last member (the central directory, a comment) is left unread.
//   - One can only tell that an archive holds a second file once the first
//     one has been read through: the error then comes from the first
//     file's reader, in place of io.EOF. A caller that acts on the bytes as
//     they arrive must treat that error as the failure of the whole.
//   - Members skipped by Next are not checked when their compressed size
//     is known (they are skipped without decompressing); deflated members
//     with a data descriptor are decompressed to be skipped, and checked.
//   - Split and spanned archives are not read.
package zipstream
