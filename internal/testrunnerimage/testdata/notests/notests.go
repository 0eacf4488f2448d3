// Package notests is a Go package without tests: not a suite.
package notests

// Answer is here so the package has something to compile.
const Answer = 42
