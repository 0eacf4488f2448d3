package leviathancmd

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTestrunnerImageCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the testrunner and suites/os; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "tr.tar")
	code, stdout, _ := runCLI(t, context.Background(), "testrunner-image", "--repo", repoRoot(t), "-o", out)
	if code != 0 || !strings.Contains(stdout, "image digest sha256:") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
	if !names["manifest.json"] {
		t.Errorf("the tarball is not a docker-load tarball: %v", names)
	}
	if code, _, stderr := runCLI(t, context.Background(), "testrunner-image", "--repo", t.TempDir(), "-o", out); code == 0 || stderr == "" {
		t.Errorf("a directory without the testrunner built: exit %d", code)
	}
}
