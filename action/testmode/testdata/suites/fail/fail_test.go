// Package fail is a fixture suite for package testmode's tests: one test
// passes, one fails.
package fail

import "testing"

func TestPasses(t *testing.T) {}

func TestFails(t *testing.T) {
	t.Fatal("fails on purpose")
}
