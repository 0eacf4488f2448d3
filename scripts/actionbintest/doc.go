// Package actionbintest tests scripts/action-bin.sh, the composite action's
// first step, which finds, downloads and verifies or chooses to build the
// leviathan-action binary. It holds no code: its test runs the script under
// bash against a local HTTP server standing in for the release host, with
// PATH holding only the tools the script uses, so whether `go` is present
// is under the test's control.
//
// BenchmarkActionStart measures step start on an empty cache: the download
// path (the local server serving the real binary) against `go build` with an
// empty GOCACHE, today's path for unreleased refs (`make bench-action`).
//
// Limits: the server is on loopback, so the download's time is the
// script's own plus a local copy, not a real network's; the build keeps the
// warm module cache a runner would have to fill first.
package actionbintest
