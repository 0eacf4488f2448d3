// Package submit is the action's "submit" mode as a library: on the build
// side of a workflow it checks an OS image, compresses it with zstd when it
// is raw, uploads it as a workflow artifact through package artifact and
// optionally dispatches a test workflow for it.
//
// Check accepts raw disk images (an MBR boot signature at byte 510 or a GPT
// header at 512) and gzip, xz, zstd or bzip2 streams whose first sectors are
// a disk image; it refuses anything else with the path in the error.
//
// Submit streams the image once: a raw image is hashed and zstd-compressed
// (GOMAXPROCS encoders) straight into the zip member being uploaded; a
// compressed one is uploaded as it is while a second goroutine decompresses
// it to hash it. Result.ImageSHA256 is always the SHA-256 of the
// uncompressed image, what the testbot checks after decompression.
//
// With Options.Suites, Submit first compiles the workspace's suites
// (package bundle: static test binaries for each of Options.Arches), and
// the artifact holds suites/manifest.json, then suites/<name>.<goarch>.test
// for each, then the image, so that a testbot reads the suites and stops
// before the image. A suite that is missing or does not compile is a
// *SuitesError, with the compiler's output, and nothing is uploaded. The go
// command runs without the step's INPUT_*, ACTIONS_*, GITHUB_TOKEN and
// LEVIATHAN_* variables.
//
// Limits: one image per artifact; the artifact member is named after the
// image file (plus ".zst" for a raw image); zip archives as input are
// refused; sparse regions are read and compressed, not skipped. The
// compiled suites are kept in a temporary directory until they are
// uploaded (tens of MB each).
package submit
