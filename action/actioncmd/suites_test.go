package actioncmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/actioncmd"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
)

// TestSubmitSuiteDoesNotCompile: a workspace suite that does not compile
// is bad input, reported with the compiler's output before any upload.
func TestSubmitSuiteDoesNotCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command; skipped with -short")
	}
	s := newStep(t, map[string]string{"mode": "submit", "image": "balena.img", "suites": "os, tests/suites/hup", "suite-arch": "amd64"})
	rawImage(t, s.dir)
	hup := filepath.Join(s.dir, "tests", "suites", "hup")
	if err := os.MkdirAll(hup, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.dir, "go.mod"), []byte("module example.com/balena-os\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(hup, "hup_test.go"), []byte("package hup\n\nimport \"testing\"\n\nfunc TestHUP(t *testing.T) { t.Log(notDefined) }\n"), 0o644)
	as := artifacttest.Start(t)
	as.Setenv(t)
	if code := s.run(t); code != actioncmd.ExitUsage {
		t.Fatalf("exit %d, want %d", code, actioncmd.ExitUsage)
	}
	out := s.stdout.String()
	for _, want := range []string{
		"::warning::input \"suites\": os is a built-in suite",
		"::error::input \"suites\": submit: bundle: suite tests/suites/hup does not compile for linux/amd64",
		"undefined: notDefined",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if _, err := os.Stat(as.ZipPath("leviathan-image")); err == nil {
		t.Error("an artifact was uploaded")
	}
}
