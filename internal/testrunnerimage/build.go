package testrunnerimage

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/balena/leviathan-action/suites/gotest"
)

// Source is the project's source repository, the default
// org.opencontainers.image.source label.
const Source = "https://github.com/balena/leviathan-action"

// Options configure Build.
type Options struct {
	// RepoRoot is the root of this module's checkout; "." when empty.
	RepoRoot string
	// Suites are directories of Go test packages shipped in the image,
	// relative to RepoRoot (./suites/os); ./suites/os when nil. Each becomes
	// /suites/<base name>.test, so base names must differ.
	Suites []string
	// GoFlags are added to every go build and go test -c (-tags, -mod, …).
	// -trimpath, -buildvcs=false and -ldflags are always set.
	GoFlags []string
	// Arch is the GOARCH to build for; runtime.GOARCH when empty.
	Arch string
	// Created stamps the image and its files; Unix 0 when zero, which keeps
	// the digest a function of the inputs only.
	Created time.Time
	// Revision, when set, is the org.opencontainers.image.revision label.
	Revision string
	// Labels are merged over the default labels.
	Labels map[string]string
	// Log receives build steps; silent when nil.
	Log *slog.Logger
}

// Paths inside the image.
const (
	EntrypointPath = "/testrunner"
	Test2JSONPath  = "/test2json"
	SuitesDir      = "/suites"
	ReportsDir     = "/reports"
	TmpDir         = "/tmp"
)

// Build compiles the testrunner, test2json and the suites as static Linux
// binaries and assembles the testrunner image from them. The image's
// default command runs every shipped suite and writes reports to /reports;
// the worker comes from $LEVIATHAN_WORKER_URL.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	if o.RepoRoot == "" {
		o.RepoRoot = "."
	}
	if o.Suites == nil {
		o.Suites = []string{"./suites/os"}
	}
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(o.RepoRoot)
	if err != nil {
		return nil, fmt.Errorf("testrunnerimage: %w", err)
	}
	tmp, err := os.MkdirTemp("", "testrunnerimage-")
	if err != nil {
		return nil, fmt.Errorf("testrunnerimage: %w", err)
	}
	defer os.RemoveAll(tmp)

	b := builder{root: root, arch: o.Arch, flags: o.GoFlags, log: log}
	files := []File{
		{Path: TmpDir, Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: ReportsDir, Mode: fs.ModeDir | 0o755, UID: Nobody, GID: Nobody},
		{Path: SuitesDir, Mode: fs.ModeDir | 0o755},
	}
	bin := filepath.Join(tmp, "testrunner")
	if err := b.goCmd(ctx, "build", "-o", bin, "./cmd/testrunner"); err != nil {
		return nil, err
	}
	files = append(files, File{Path: EntrypointPath, Mode: 0o755, Source: bin})
	t2j := filepath.Join(tmp, "test2json")
	if err := b.goCmd(ctx, "build", "-o", t2j, "cmd/test2json"); err != nil {
		return nil, err
	}
	files = append(files, File{Path: Test2JSONPath, Mode: 0o755, Source: t2j})
	cmd := []string{"--reports", ReportsDir}
	seen := map[string]string{}
	for _, s := range o.Suites {
		dir := filepath.Join(root, s)
		if filepath.IsAbs(s) {
			dir = s
		}
		if err := gotest.Check(dir); err != nil {
			return nil, fmt.Errorf("testrunnerimage: %w", err)
		}
		name := filepath.Base(dir)
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("testrunnerimage: suites %s and %s share the name %q", prev, s, name)
		}
		seen[name] = s
		out := filepath.Join(tmp, name+".test")
		if err := b.goCmdIn(ctx, dir, "test", "-c", "-o", out, "."); err != nil {
			return nil, err
		}
		p := SuitesDir + "/" + name + ".test"
		files = append(files, File{Path: p, Mode: 0o755, Source: out})
		cmd = append(cmd, p)
	}
	for _, f := range files {
		if f.Source != "" {
			if err := gotest.CheckStatic(f.Source); err != nil {
				return nil, fmt.Errorf("testrunnerimage: %w", err)
			}
		}
	}
	labels := map[string]string{
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.title":       "leviathan testrunner",
		"org.opencontainers.image.description": "Runs compiled Leviathan suites against a worker and writes JUnit reports to /reports.",
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if o.Revision != "" {
		labels["org.opencontainers.image.revision"] = o.Revision
	}
	maps.Copy(labels, o.Labels)
	log.Debug("testrunnerimage: assembling", "files", len(files))
	return NewImage(files, ImageConfig{
		Arch:    o.Arch,
		Created: o.Created,
		Config: v1.Config{
			Entrypoint: []string{EntrypointPath},
			Cmd:        cmd,
			WorkingDir: TmpDir,
			Env:        []string{"PATH=/", "HOME=" + TmpDir, "TMPDIR=" + TmpDir},
			User:       fmt.Sprintf("%d:%d", Nobody, Nobody),
			Labels:     labels,
		},
	})
}

type builder struct {
	root  string
	arch  string
	flags []string
	log   *slog.Logger
}

func (b builder) goCmd(ctx context.Context, verb string, args ...string) error {
	return b.goCmdIn(ctx, b.root, verb, args...)
}

// goCmdIn runs `go verb` for a static, reproducible Linux binary.
func (b builder) goCmdIn(ctx context.Context, dir, verb string, args ...string) error {
	full := append([]string{verb, "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}, b.flags...)
	full = append(full, args...)
	b.log.Debug("testrunnerimage: go "+strings.Join(full, " "), "dir", dir)
	cmd := exec.CommandContext(ctx, "go", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.arch)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("testrunnerimage: go %s: %w\n%s", strings.Join(full, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
