// Package gotest runs compiled suites (Go test binaries) against a worker:
// it drives each binary through test2json, streams the events live, keeps
// every test's output and matching console excerpt as artifacts, and
// converts the single `go test -json` stream into JUnit with
// go-junit-report — results are produced once and converted, never parsed
// back from text.
//
// It also compiles suites (`go test -c`) from package paths; running needs
// only the binaries and test2json, not a Go toolchain. BuildWith compiles
// for another GOARCH, statically (CGO_ENABLED=0, GOOS=linux), with
// -trimpath, -mod=readonly and GOTOOLCHAIN=local; CleanBuildEnv is an
// environment for compiling untrusted suites on a machine whose
// environment holds secrets (PATH, a private HOME, the go command's
// caches, GOPROXY=off unless the proxy is allowed, nothing else).
package gotest
