package gotest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Suite is a compiled suite.
type Suite struct {
	Name   string // short name, used in reports ("os")
	Binary string // path of the test binary
}

// Build compiles the Go test package in dir (a directory, or a package
// path inside the current module such as ./suites/os) into outDir with
// `go test -c`, in this process's environment. It fails with a clear error
// when dir is not a Go test package.
func Build(ctx context.Context, dir, outDir string) (Suite, error) {
	return BuildWith(ctx, dir, outDir, BuildOptions{})
}

// BuildOptions tune BuildWith.
type BuildOptions struct {
	// GOARCH is the architecture to build for; the go command's default
	// when empty.
	GOARCH string
	// Static builds a static Linux binary (CGO_ENABLED=0, GOOS=linux), as
	// a FROM-scratch container runs. It also keeps cgo, and so the C
	// compiler and any flags a package's #cgo lines ask for, out of the
	// build.
	Static bool
	// TrimPath removes file system paths from the binary (-trimpath).
	TrimPath bool
	// Locked neither updates go.mod and go.sum (-mod=readonly) nor
	// fetches another Go toolchain (GOTOOLCHAIN=local).
	Locked bool
	// Env is the go command's environment; this process's when nil. The
	// settings above are added after it, so they win.
	Env []string
	// Background runs the go command only on CPU time nothing else wants
	// (see background): for a build that overlaps a DUT's flash and boot,
	// which then keep the CPU they need.
	Background bool
}

// BuildWith is Build with options. Each directory and GOARCH gets a
// subdirectory of outDir of its own, so suites with the same base name
// (a/os, b/os) or one suite for several architectures do not collide.
func BuildWith(ctx context.Context, dir, outDir string, o BuildOptions) (Suite, error) {
	if err := Check(dir); err != nil {
		return Suite{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Suite{}, fmt.Errorf("gotest: %w", err)
	}
	name := filepath.Base(abs)
	sum := sha256.Sum256([]byte(abs + "\x00" + o.GOARCH))
	dirOut := filepath.Join(outDir, hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dirOut, 0o755); err != nil {
		return Suite{}, fmt.Errorf("gotest: %w", err)
	}
	bin, err := filepath.Abs(filepath.Join(dirOut, name+".test"))
	if err != nil {
		return Suite{}, fmt.Errorf("gotest: %w", err)
	}
	args := []string{"test", "-c", "-o", bin}
	if o.TrimPath {
		args = append(args, "-trimpath")
	}
	if o.Locked {
		args = append(args, "-mod=readonly")
	}
	prog, argv := "go", append(args, ".")
	if o.Background {
		if gobin, err := exec.LookPath("go"); err == nil {
			prog, argv = background(gobin, argv)
		}
	}
	cmd := exec.CommandContext(ctx, prog, argv...)
	cmd.Dir = abs
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	env = append([]string(nil), env...)
	if o.GOARCH != "" {
		env = append(env, "GOARCH="+o.GOARCH)
	}
	if o.Static {
		env = append(env, "CGO_ENABLED=0", "GOOS=linux")
	}
	if o.Locked {
		env = append(env, "GOTOOLCHAIN=local")
	}
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return Suite{}, &BuildError{Dir: dir, Err: err, Output: strings.TrimSpace(out.String())}
	}
	if _, err := os.Stat(bin); err != nil {
		return Suite{}, fmt.Errorf("gotest: suite %s produced no test binary: %s", dir, strings.TrimSpace(out.String()))
	}
	return Suite{Name: name, Binary: bin}, nil
}

// BuildError is a suite that did not compile, with the compiler's output.
type BuildError struct {
	Dir    string // the suite's directory, as given
	Err    error  // the go command's exit
	Output string // what the go command printed
}

// Error names the suite and quotes the compiler.
func (e *BuildError) Error() string {
	return fmt.Sprintf("gotest: compiling suite %s: %v\n%s", e.Dir, e.Err, e.Output)
}

// Unwrap returns the go command's error.
func (e *BuildError) Unwrap() error { return e.Err }

// cleanBuildVars are the go command's settings CleanBuildEnv keeps:
// where its caches are. proxyVars are added when the module proxy is
// allowed.
var (
	cleanBuildVars = []string{"GOCACHE", "GOMODCACHE", "GOPATH"}
	proxyVars      = []string{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE"}
)

// CleanBuildEnv is an environment for compiling suites whose source is not
// trusted, on a machine whose environment holds secrets (a testbot's job):
// PATH from this process, HOME set to home (an empty private directory),
// the go command's caches where this process's go command keeps them
// (GOCACHE, GOMODCACHE, GOPATH), GOFLAGS=-mod=readonly, GOTOOLCHAIN=local
// and CGO_ENABLED=0, and nothing else of this process. Without proxy,
// GOPROXY=off: every module must already be in the module cache. With
// proxy, the module proxy and checksum database settings (GOPROXY,
// GOSUMDB, GONOSUMDB, GOPRIVATE, GONOPROXY, GOINSECURE) are kept.
func CleanBuildEnv(ctx context.Context, home string, proxy bool) ([]string, error) {
	vars := cleanBuildVars
	if proxy {
		vars = append(append([]string(nil), vars...), proxyVars...)
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"env", "-json"}, vars...)...)
	// Outside any module, and with this toolchain: go env runs no code of
	// the suites and fetches nothing.
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gotest: go env: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var settings map[string]string
	if err := json.Unmarshal(out, &settings); err != nil {
		return nil, fmt.Errorf("gotest: go env: %w", err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	for _, k := range vars {
		if v := settings[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if !proxy {
		env = append(env, "GOPROXY=off")
	}
	return env, nil
}

// CheckStatic fails when the ELF binary at p asks for a dynamic loader,
// which a FROM-scratch container does not have.
func CheckStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("gotest: %s: %w", filepath.Base(p), err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			interp, _ := io.ReadAll(prog.Open())
			return fmt.Errorf("gotest: %s is dynamically linked (loader %s); build it with CGO_ENABLED=0", filepath.Base(p), strings.TrimRight(string(interp), "\x00"))
		}
	}
	return nil
}

// Check fails with a clear error, without compiling, when dir cannot be a
// Go test package.
func Check(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("gotest: suite %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("gotest: suite %s is not a directory; give the directory of a Go test package", dir)
	}
	tests, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if len(tests) == 0 {
		return fmt.Errorf("gotest: suite %s is not a Go test package: it has no _test.go files", dir)
	}
	return nil
}

// FindTest2JSON locates the test2json converter: on PATH, next to this
// executable, or from the Go toolchain.
func FindTest2JSON() (string, error) {
	test2json.Lock()
	defer test2json.Unlock()
	if test2json.path != "" {
		return test2json.path, nil
	}
	p, err := findTest2JSON()
	if err == nil {
		test2json.path = p
	}
	return p, err
}

// test2json is where FindTest2JSON found the converter: asking the go
// command costs it a start and its tools' version checks (0.1–0.5 s), so
// it is asked once per process.
var test2json struct {
	sync.Mutex
	path string
}

func findTest2JSON() (string, error) {
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
	return "", fmt.Errorf("gotest: test2json not found: install Go or put test2json on PATH")
}

// background wraps the command prog argv so that it runs in Linux's
// SCHED_IDLE class (through util-linux's chrt): it gets a core only when
// no ordinary process wants it. Where chrt is missing or refused (a
// seccomp profile), the command runs at nice 19 instead; where neither
// command is found, as it is.
func background(prog string, argv []string) (string, []string) {
	if chrt := idleScheduler(); chrt != "" {
		return chrt, append([]string{"--idle", "0", prog}, argv...)
	}
	if nice, err := exec.LookPath("nice"); err == nil {
		return nice, append([]string{"-n", "19", prog}, argv...)
	}
	return prog, argv
}

// idleScheduler is chrt's path when it can put a process in SCHED_IDLE
// here, found once.
var idleScheduler = sync.OnceValue(func() string {
	chrt, err := exec.LookPath("chrt")
	if err != nil || exec.Command(chrt, "--idle", "0", "true").Run() != nil {
		return ""
	}
	return chrt
})
