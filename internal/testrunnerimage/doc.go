// Package testrunnerimage builds the testrunner container image in Go, with
// go-containerregistry, without a Docker build: FROM scratch, one layer
// holding /testrunner, /test2json and the built-in suites as
// /suites/<name>.test (all static, CGO_ENABLED=0), and the /tmp and
// /reports directories. The image runs as nobody (65534:65534) with
// /testrunner as its entrypoint.
//
// Builds are reproducible: files, owners and timestamps are fixed and the
// binaries are built with -trimpath and without VCS stamps, so the same
// sources, Go toolchain and options give the same image digest.
//
// It also writes the image as a docker tarball or an OCI layout, and serves
// it from an in-process registry on loopback (go-containerregistry's
// pkg/registry behind httptest) so the Docker Engine can pull it by digest
// when no real registry is reachable.
//
// Limits: Linux images only, one architecture per build (cross-built with
// GOARCH, never run here); binaries and the layer are held in memory while
// the image is assembled (tens of MB); the in-process registry keeps blobs in
// memory and lives only as long as the process. A Go toolchain is needed to
// build, not to run the image.
package testrunnerimage
