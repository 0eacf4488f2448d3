package gotest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestCleanBuildEnv: compiling an untrusted suite sees none of this
// process's variables but PATH and the go command's caches.
func TestCleanBuildEnv(t *testing.T) {
	t.Setenv("INPUT_GITHUB_TOKEN", "not-for-the-compiler")
	t.Setenv("ACTIONS_RUNTIME_TOKEN", "not-for-the-compiler")
	t.Setenv("GOFLAGS", "-mod=mod")
	home := t.TempDir()
	env, err := CleanBuildEnv(t.Context(), home, false)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(env, "\n")
	if strings.Contains(all, "not-for-the-compiler") || strings.Contains(all, "-mod=mod") {
		t.Errorf("the environment carries this process's variables:\n%s", all)
	}
	for _, want := range []string{"HOME=" + home, "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOPROXY=off"} {
		if !slices.Contains(env, want) {
			t.Errorf("no %s in\n%s", want, all)
		}
	}
	for _, prefix := range []string{"PATH=", "GOCACHE=", "GOMODCACHE="} {
		if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, prefix) }) {
			t.Errorf("no %s… in\n%s", prefix, all)
		}
	}
	proxied, err := CleanBuildEnv(t.Context(), home, true)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(proxied, "GOPROXY=off") {
		t.Errorf("the proxy is allowed, yet GOPROXY=off:\n%s", strings.Join(proxied, "\n"))
	}
}

// TestBuildWithStatic compiles a suite statically for this machine in the
// clean environment, offline.
func TestBuildWithStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	env, err := CleanBuildEnv(t.Context(), t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := BuildWith(t.Context(), "testdata/fixture", t.TempDir(), BuildOptions{GOARCH: runtime.GOARCH, Static: true, TrimPath: true, Locked: true, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckStatic(s.Binary); err != nil {
		t.Error(err)
	}
	if _, err := BuildWith(t.Context(), "testdata/notests", t.TempDir(), BuildOptions{Env: env}); err == nil || !strings.Contains(err.Error(), "not a Go test package") {
		t.Errorf("BuildWith(notests) = %v", err)
	}
}

// TestBuildWithBackground compiles a suite at a lower CPU priority: the
// binary is the same kind of suite, and a broken suite still fails with
// the compiler's words.
func TestBuildWithBackground(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	s, err := BuildWith(t.Context(), "testdata/fixture", t.TempDir(), BuildOptions{Background: true})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.Binary); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("the background build left no executable at %s: %v", s.Binary, err)
	}
	if s.Name != "fixture" || filepath.Base(s.Binary) != "fixture.test" {
		t.Errorf("the background build named the suite %q (%s); want fixture (fixture.test)", s.Name, s.Binary)
	}
	if _, err := BuildWith(t.Context(), "testdata/notests", t.TempDir(), BuildOptions{Background: true}); err == nil || !strings.Contains(err.Error(), "not a Go test package") {
		t.Errorf("BuildWith(notests, background) = %v", err)
	}
}

// TestBackgroundScheduling: a background command runs in SCHED_IDLE, or
// at nice 19 where chrt is missing, as the kernel reports its own state.
func TestBackgroundScheduling(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to report its scheduling")
	}
	prog, argv := background(sh, []string{"-c", "cat /proc/$$/stat"})
	out, err := exec.Command(prog, argv...).Output()
	if err != nil {
		t.Fatalf("%s %q: %v", prog, argv, err)
	}
	// Fields after the command's name, which is in parentheses: state is
	// field 3, nice 19, policy 41 (5 is SCHED_IDLE).
	rest := strings.Fields(string(out[bytes.LastIndexByte(out, ')')+1:]))
	nice, policy := rest[19-3], rest[41-3]
	switch {
	case idleScheduler() != "" && policy != "5":
		t.Errorf("scheduling policy %s with chrt found, want 5 (SCHED_IDLE)", policy)
	case idleScheduler() == "" && nice != "19":
		t.Errorf("nice %s without chrt, want 19", nice)
	}
	t.Logf("policy %s, nice %s (chrt: %q)", policy, nice, idleScheduler())
}
