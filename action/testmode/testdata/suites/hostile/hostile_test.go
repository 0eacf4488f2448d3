// Package hostile is a fixture suite for package testmode's tests: it
// prints workflow commands, as pull-request code might.
package hostile

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/internal/ghlog/ghlogtest"
)

func TestMain(m *testing.M) {
	fmt.Print(strings.Join(ghlogtest.Hostile, "\n") + "\n")
	fmt.Fprint(os.Stderr, "::warning::from stderr\n")
	os.Exit(m.Run())
}

func TestPrints(t *testing.T) {
	fmt.Println("::warning::from a passing test")
	t.Log("::error::logged")
}

func TestFailsLoudly(t *testing.T) {
	fmt.Print(strings.Join(ghlogtest.Hostile, "\n") + "\n")
	t.Fatal("::error::fatal\n::add-mask::x")
}
