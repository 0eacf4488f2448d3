// Package hidden is the workspace suite of the act end-to-end test: a user's
// own Go test package, with one test that fails at a line the test knows
// (the line marked "the failing line"), one that passes and one that skips.
package hidden

import "testing"

func TestPasses(t *testing.T) {}

func TestHidden(t *testing.T) {
	t.Errorf("the hidden value is %d, want %d", 41, 42) // the failing line
}

func TestSkipped(t *testing.T) {
	t.Skip("nothing to check here")
}
