// Package testenv holds what several packages' tests need of the machine:
// the module's root (so they share build/ and its caches with `make demo`)
// and skips, with the reason, when QEMU or the Docker Engine is missing.
package testenv

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	docker "github.com/docker/docker/client"

	"github.com/balena/leviathan-action/qemukit"
)

// RepoRoot is the root of the main module: the nearest directory above the
// test's own that holds a go.mod naming it.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isMainModule(b) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod of github.com/balena/leviathan-action above the test's directory")
		}
		dir = parent
	}
}

func isMainModule(gomod []byte) bool {
	const want = "module github.com/balena/leviathan-action\n"
	return len(gomod) >= len(want) && string(gomod[:len(want)]) == want
}

// NeedQEMU skips a test that boots a QEMU DUT under -short, or when QEMU or
// its firmware is missing.
func NeedQEMU(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a QEMU DUT; skipped with -short")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
	}
	if _, _, err := qemukit.FindFirmware(); err != nil {
		t.Skip(err)
	}
}

// Docker returns a client of the Docker Engine named by DOCKER_HOST (the
// default socket when unset), or skips the test when none answers.
func Docker(t testing.TB) *docker.Client {
	t.Helper()
	cli, err := docker.NewClientWithOpts(docker.FromEnv, docker.WithAPIVersionNegotiation())
	if err != nil {
		t.Skipf("no Docker Engine client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		t.Skipf("no Docker Engine answers at %s: %v", cli.DaemonHost(), err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// EnvFile reads a KEY=VALUE file such as the one GITHUB_ENV names.
func EnvFile(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

// QemuDUT returns a QEMU DUT with an empty 64 MiB disk (it boots only as
// far as the firmware), powered on when on is set, or skips like NeedQEMU.
// It is closed when the test ends, logging QEMU's command line on failure.
func QemuDUT(t testing.TB, name string, on bool) *qemukit.DUT {
	t.Helper()
	NeedQEMU(t)
	d, err := qemukit.New(qemukit.Config{Name: name, Dir: t.TempDir(), DiskSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("QEMU command line: %s", d.CommandLine())
		}
		d.Close()
	})
	if on {
		if err := d.On(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// CopyFile copies the file from to the path to, failing the test on error.
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
