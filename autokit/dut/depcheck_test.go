package dut

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the interface package free of drivers, QEMU and
// GitHub code: it may import only the standard library.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/balena/leviathan-action/autokit/dut" {
			t.Errorf("autokit/dut depends on %s; it must import only the standard library", dep)
		}
	}
}
