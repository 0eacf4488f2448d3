package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the client light: suites import it, so it must
// not pull in the server, the image pipeline or SSH.
func TestDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies:", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/balena/leviathan-action/autokit/worker",
			"github.com/balena/leviathan-action/autokit/image",
			"github.com/balena/leviathan-action/autokit/sshexec",
			"golang.org/x/crypto/ssh",
			"github.com/klauspost/compress",
		} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("the client depends on %s", dep)
			}
		}
	}
}
