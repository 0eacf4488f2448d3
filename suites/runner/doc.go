// Package runner runs compiled suites (Go test binaries) against a worker:
// it drives each binary through test2json, streams the events live, keeps
// every test's output and matching console excerpt as artifacts, and
// converts the single `go test -json` stream into JUnit with
// go-junit-report — results are produced once and converted, never parsed
// back from text.
//
// It also compiles suites (`go test -c`) from package paths; running needs
// only the binaries and test2json, not a Go toolchain.
package runner
