package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Suite is a compiled suite.
type Suite struct {
	Name   string // short name, used in reports ("os")
	Binary string // path of the test binary
}

// Build compiles the Go test package in dir (a directory, or a package
// path inside the current module such as ./suites/os) into outDir with
// `go test -c`. It fails with a clear error when dir is not a Go test
// package.
func Build(ctx context.Context, dir, outDir string) (Suite, error) {
	if err := Check(dir); err != nil {
		return Suite{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Suite{}, fmt.Errorf("runner: %w", err)
	}
	name := filepath.Base(abs)
	// Suites with the same base name (a/os, b/os) get binaries of their own.
	sum := sha256.Sum256([]byte(abs))
	dirOut := filepath.Join(outDir, hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dirOut, 0o755); err != nil {
		return Suite{}, fmt.Errorf("runner: %w", err)
	}
	bin, err := filepath.Abs(filepath.Join(dirOut, name+".test"))
	if err != nil {
		return Suite{}, fmt.Errorf("runner: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, ".")
	cmd.Dir = abs
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return Suite{}, fmt.Errorf("runner: compiling suite %s: %w\n%s", dir, err, strings.TrimSpace(out.String()))
	}
	if _, err := os.Stat(bin); err != nil {
		return Suite{}, fmt.Errorf("runner: suite %s produced no test binary: %s", dir, strings.TrimSpace(out.String()))
	}
	return Suite{Name: name, Binary: bin}, nil
}

// Check fails with a clear error, without compiling, when dir cannot be a
// Go test package.
func Check(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("runner: suite %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("runner: suite %s is not a directory; give the directory of a Go test package", dir)
	}
	tests, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if len(tests) == 0 {
		return fmt.Errorf("runner: suite %s is not a Go test package: it has no _test.go files", dir)
	}
	return nil
}

// FindTest2JSON locates the test2json converter: on PATH, next to this
// executable, or from the Go toolchain.
func FindTest2JSON() (string, error) {
	if p, err := exec.LookPath("test2json"); err == nil {
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "test2json")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	// Since Go 1.24 the toolchain builds test2json on demand; -n prints
	// where the cached binary is.
	if out, err := exec.Command("go", "tool", "-n", "test2json").Output(); err == nil {
		p := strings.TrimSpace(string(out))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("runner: test2json not found: install Go or put test2json on PATH")
}
