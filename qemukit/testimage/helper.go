package testimage

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// guestconfigSource is the guest's config.json helper. It is compiled when
// an image is built, from this copy, so Build works in a binary far from
// the source tree; only a Go toolchain is needed.
//
//go:embed internal/guestconfig/*.go
var guestconfigSource embed.FS

// guestconfigFiles returns the helper's non-test sources by base name.
func guestconfigFiles() (map[string][]byte, error) {
	names, err := fs.Glob(guestconfigSource, "internal/guestconfig/*.go")
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte)
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := guestconfigSource.ReadFile(n)
		if err != nil {
			return nil, err
		}
		files[path.Base(n)] = b
	}
	return files, nil
}

// findGo returns the go command: the toolchain this program was built with
// if it is still there, else the one on PATH.
func findGo() (string, error) {
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("testimage: no Go toolchain to build the guest's config helper (looked in GOROOT and PATH): %w", err)
	}
	return p, nil
}

// buildHelper compiles the config helper as a static linux/amd64 binary
// in a scratch module under tmp.
func buildHelper(ctx context.Context, tmp string) ([]byte, error) {
	gobin, err := findGo()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "guestconfig")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testimage: %w", err)
	}
	files, err := guestconfigFiles()
	if err != nil {
		return nil, fmt.Errorf("testimage: %w", err)
	}
	files["go.mod"] = []byte("module leviathan.invalid/guestconfig\n\ngo 1.22\n")
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("testimage: %w", err)
		}
	}
	out := filepath.Join(tmp, "guestconfig.bin")
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1",
		"GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local", "GOPROXY=off", "GO111MODULE=on")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testimage: building the guest config helper: %w: %s", err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("testimage: %w", err)
	}
	return bin, nil
}
