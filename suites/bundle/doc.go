// Package bundle is the users' compiled suites as they travel from the
// build job to a testbot: static Linux test binaries, one per suite and
// GOARCH, and a manifest of their SHA-256s, shipped in the workflow
// artifact beside the image.
//
// The artifact's members come in this order, so that a testbot reads the
// suites and stops downloading before the image:
//
//	suites/manifest.json           the Manifest (JSON)
//	suites/<name>.<goarch>.test    one per suite and architecture
//	<the image>                    balena.img.zst, named by Manifest.Image
//
// Compile builds the binaries where no secret and no hardware is (submit,
// on the build runner): `go test -c -trimpath -mod=readonly`, CGO_ENABLED=0,
// GOOS=linux, GOTOOLCHAIN=local, for each GOARCH, through suites/gotest's
// BuildWith. A suite that does not exist or does not compile is an error
// naming it, with the compiler's output, before anything is uploaded.
//
// An Unpacker takes the members back on the testbot, in order: it parses
// and validates the manifest (Parse), keeps the binaries of the wanted
// suites for the testbot's GOARCH in a directory, checks each one's size,
// SHA-256 and, from the binary's own build information, that it is a
// linux/<goarch> static binary, and gives every file mode 0755 (the
// testrunner container runs as nobody). Suites are matched by their
// workspace-relative path, normalised (NormPath): "./tests/suites/hup/" is
// "tests/suites/hup".
//
// Limits: the manifest's SHA-256s travel in the same artifact as the
// binaries, so they catch corruption and mix-ups, not someone who can
// write the artifact. A suite's name is its directory's base name, so two
// suites with the same base name cannot be shipped together. Binaries are
// checked after they are written to disk (the directory must be private).
package bundle
