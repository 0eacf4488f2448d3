// Package cache is a content-addressed cache of OS images on a worker's
// disk, so that the same image crosses the network once. Entries are keyed
// by the SHA-256 of their bytes (64 lowercase hex digits), the total size
// is bounded, and the least recently used entries are evicted first.
//
// Layout under the cache directory:
//
//	sha256/<hex>   one read-only file per entry, named by its digest
//	decompressed-sha256/<hex>
//	               the SHA-256 of the image entry <hex> decompresses to,
//	               when a flash recorded it (SetDecompressedSHA256)
//	tmp/           files being written; removed by Open when abandoned
//	lock           a file locked with flock(2) around index changes
//
// An entry's recency is its file's modification time: it is set when the
// entry is added and on every Get, so the order survives restarts. Files
// appear under sha256/ only by an atomic rename of a fully written,
// fsynced and verified temp file, so a crash never leaves a partial entry.
//
// Limits:
//   - The size bound counts the entries' bytes only: files still being
//     written (by Put or Tee) and filesystem overhead come on top, and
//     each writer may hold up to maxBytes in tmp/ until it finishes.
//   - An entry larger than maxBytes is refused while it is being written,
//     as soon as more than maxBytes bytes have arrived; the partial file
//     is removed and the error wraps ErrTooLarge. Put stops reading there;
//     a Tee reader keeps passing bytes through.
//   - Entries are hashed when written, never again: Open and Get trust
//     the files on disk. A recorded decompressed SHA-256 is trusted the
//     same way; it is removed with its entry, but one left by a crash
//     between an eviction and the note's removal stays on disk (unused
//     until the same entry is cached again, when it is still right: the
//     entry's content is the same).
//   - Recency has the resolution of the filesystem's timestamps (ties are
//     broken by digest); within one process the order is exact.
//   - A file returned by Get stays readable after its entry is evicted or
//     removed, but its space is freed only when it is closed.
//   - Put notices cancellation between reads of its source; a Read that
//     blocks is not interrupted.
//   - Safe for concurrent use. Several processes may share a directory:
//     index changes are serialised with flock(2) and every process rescans
//     the directory before evicting, so the bound holds for all of them,
//     but Size and Len show this process's view as of its last Open, Get,
//     Put, Tee commit or Remove. Where flock is unavailable (outside Linux,
//     macOS and the BSDs) or unreliable (NFS), only one process may use a
//     directory.
package cache
