package testimage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// errAptLists marks apt failures that a fresh `apt-get update` may cure:
// package lists missing, or too old for the mirror.
var errAptLists = errors.New("apt package lists missing or out of date")

// Packages the image is made of. The kernel is whatever linux-image-amd64
// depends on today; dropbear-bin brings its libraries' packages.
const (
	kernelMetaPackage = "linux-image-amd64"
	busyboxPackage    = "busybox-static"
	dropbearPackage   = "dropbear-bin"
	bootPackage       = "systemd-boot-efi"
)

// aptPackage is one Debian package at the version the image uses.
type aptPackage struct {
	Name    string
	Version string
	Deb     string // path of the .deb in the cache, once fetched
}

// apt runs apt-get and apt-cache.
type apt struct {
	log *slog.Logger
}

func (a *apt) check() error {
	for _, tool := range []string{"apt-get", "apt-cache"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("testimage: %s not found: building the test image needs Debian's apt to fetch packages: %w", tool, err)
		}
	}
	return nil
}

// run runs a command and returns its standard output; the error carries the
// end of its standard error.
func run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "..." + msg[len(msg)-2000:]
		}
		return stdout.Bytes(), &cmdError{Cmd: name + " " + strings.Join(args, " "), Err: err, Stderr: msg}
	}
	return stdout.Bytes(), nil
}

// cmdError is a failed command with the evidence: its standard error.
type cmdError struct {
	Cmd    string
	Err    error
	Stderr string
}

func (e *cmdError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("%s: %v", e.Cmd, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Cmd, e.Err, e.Stderr)
}

func (e *cmdError) Unwrap() error { return e.Err }

// resolve returns the packages to fetch, with the candidate versions apt
// would install, and the name of the kernel package among them.
func (a *apt) resolve(ctx context.Context) (pkgs []aptPackage, kernel string, err error) {
	// apt-cache takes most of a second per call here: ask the two
	// dependency questions at once.
	var (
		kernelOut, dropbearOut []byte
		kernelErr, dropbearErr error
		wg                     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		kernelOut, kernelErr = run(ctx, "", "apt-cache", "depends", kernelMetaPackage)
	}()
	// The closure of dropbear-bin's hard dependencies: the packages its
	// shared libraries come from (and a few harmless extras).
	dropbearOut, dropbearErr = run(ctx, "", "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
		"--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", dropbearPackage)
	wg.Wait()
	if err := errors.Join(kernelErr, dropbearErr); err != nil {
		return nil, "", fmt.Errorf("testimage: %w (%w)", err, errAptLists)
	}
	sc := bufio.NewScanner(bytes.NewReader(kernelOut))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if dep, ok := strings.CutPrefix(line, "Depends: "); ok && strings.HasPrefix(dep, "linux-image-") {
			kernel = dep
			break
		}
	}
	if kernel == "" {
		return nil, "", fmt.Errorf("testimage: %s depends on no linux-image package (%w)", kernelMetaPackage, errAptLists)
	}

	names := map[string]bool{kernel: true, busyboxPackage: true, bootPackage: true}
	sc = bufio.NewScanner(bytes.NewReader(dropbearOut))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '<' {
			continue
		}
		names[strings.TrimSpace(line)] = true
	}
	if !names[dropbearPackage] {
		return nil, "", fmt.Errorf("testimage: apt-cache knows no %s (%w)", dropbearPackage, errAptLists)
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)

	out, err := run(ctx, "", "apt-cache", append([]string{"policy"}, sorted...)...)
	if err != nil {
		return nil, "", fmt.Errorf("testimage: %w (%w)", err, errAptLists)
	}
	candidates := parsePolicy(out)
	for _, n := range sorted {
		v := candidates[n]
		if v == "" || v == "(none)" {
			return nil, "", fmt.Errorf("testimage: apt has no candidate version of %s (%w)", n, errAptLists)
		}
		pkgs = append(pkgs, aptPackage{Name: n, Version: v})
	}
	return pkgs, kernel, nil
}

// parsePolicy reads `apt-cache policy` output into package -> candidate.
func parsePolicy(out []byte) map[string]string {
	res := make(map[string]string)
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' && strings.HasSuffix(line, ":") {
			cur = strings.TrimSuffix(line, ":")
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate: "); ok && cur != "" {
			res[cur] = strings.TrimSpace(v)
		}
	}
	return res
}

// debGlob matches the file name apt-get download gives a package version.
func debGlob(dir string, p aptPackage) string {
	v := strings.ReplaceAll(p.Version, ":", "%3a")
	return filepath.Join(dir, glob(p.Name)+"_"+glob(v)+"_*.deb")
}

func glob(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// aptListsProblem matches what apt-get download says when its package
// lists are missing or older than the mirror.
var aptListsProblem = regexp.MustCompile(`Unable to locate package|Can't find a source to download|Version '.*' for '.*' was not found|404\s+Not Found`)

// fetch makes sure every package is in dir, downloading the missing ones
// with apt-get download, and sets their Deb paths.
func (a *apt) fetch(ctx context.Context, dir string, pkgs []aptPackage) error {
	var missing []string
	for i := range pkgs {
		if m, _ := filepath.Glob(debGlob(dir, pkgs[i])); len(m) > 0 {
			pkgs[i].Deb = m[0]
			continue
		}
		missing = append(missing, pkgs[i].Name+"="+pkgs[i].Version)
	}
	if len(missing) > 0 {
		a.log.InfoContext(ctx, "downloading packages", "dir", dir, "packages", missing)
		args := []string{"download"}
		if os.Geteuid() == 0 {
			// apt's _apt user may not be able to write to dir.
			args = append(args, "-o", "APT::Sandbox::User=root")
		}
		start := time.Now()
		if _, err := run(ctx, dir, "apt-get", append(args, missing...)...); err != nil {
			var ce *cmdError
			if errors.As(err, &ce) && aptListsProblem.MatchString(ce.Stderr) {
				return fmt.Errorf("testimage: cannot download packages: %w (%w)", err, errAptLists)
			}
			return fmt.Errorf("testimage: cannot download packages: %w", err)
		}
		a.log.InfoContext(ctx, "downloaded packages", "took", time.Since(start).Round(time.Millisecond))
	}
	for i := range pkgs {
		if pkgs[i].Deb != "" {
			continue
		}
		m, _ := filepath.Glob(debGlob(dir, pkgs[i]))
		if len(m) == 0 {
			return fmt.Errorf("testimage: apt-get download left no .deb for %s %s in %s", pkgs[i].Name, pkgs[i].Version, dir)
		}
		pkgs[i].Deb = m[0]
	}
	return nil
}

// update runs apt-get update, which needs root.
func (a *apt) update(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("testimage: apt's package lists are missing or out of date and refreshing them needs root: run `apt-get update` as root, then build again")
	}
	a.log.InfoContext(ctx, "running apt-get update")
	if _, err := run(ctx, "", "apt-get", "update"); err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	return nil
}

// lockFile takes an exclusive flock on path, waiting until ctx ends, so
// that concurrent builds into the same directory take turns.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testimage: lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("testimage: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("testimage: waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
