// Package release builds the files a release of Leviathan publishes, the
// same way on a laptop as in the project's release workflow: static
// binaries of leviathan, leviathan-hook, leviathan-action and testrunner
// for linux/amd64 and linux/arm64 (named <command>_linux_<arch>), the
// testrunner image for both architectures as one OCI image index in an
// OCI layout archive (testrunner-image.oci.tar) with its digest
// (testrunner-image.digest), and SHA256SUMS over all of them, in
// sha256sum's format.
//
// Builds are reproducible: CGO_ENABLED=0, -trimpath, -buildvcs=false, an
// empty build id, stripped symbols and fixed GOAMD64/GOARM64 levels, a
// fixed GOFLAGS, and an image whose files and timestamps are fixed
// (package internal/testrunnerimage). The same sources and Go toolchain
// give byte-identical files; a different Go release gives different ones.
//
// Push uploads the image index to a registry by digest (and optionally a
// tag) with go-containerregistry, reading credentials as the docker CLI
// does.
//
// Limits: Linux targets only; the commands are built one after another
// (each link takes seconds); the image's binaries are held in memory
// while it is assembled; the archive is an OCI layout, which `docker
// load` of older engines does not read (pull the pushed image by digest,
// or copy the archive with an OCI tool).
package release
