package bundle

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/balena/leviathan-action/suites/gotest"
)

// CompileOptions configure Compile.
type CompileOptions struct {
	// Workspace is the directory the suite paths are relative to.
	Workspace string
	// Suites are workspace-relative directories of Go test packages.
	Suites []string
	// Arches are the GOARCHes to compile for (DefaultArches when nil).
	Arches []string
	// Commit is recorded in the manifest (GITHUB_SHA).
	Commit string
	// OutDir receives the binaries.
	OutDir string
	// Env is the go command's environment (see gotest.BuildOptions.Env).
	Env []string
	// Log receives a line per binary; silent when nil.
	Log *slog.Logger
}

// Binary is a compiled suite: its manifest entry and where it is.
type Binary struct {
	Entry
	// File is the binary's path on this machine.
	File string
}

// Compile compiles every suite for every architecture, statically, and
// returns the binaries in suite order, then architecture order. It checks
// every suite's directory before compiling any, and stops at the first
// that does not compile; the error names the suite and carries the
// compiler's output.
func Compile(ctx context.Context, o CompileOptions) ([]Binary, error) {
	if o.Arches == nil {
		o.Arches = DefaultArches
	}
	if err := CheckArches(o.Arches); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	type suite struct{ rel, dir string }
	var suites []suite
	var errs []error
	names := map[string]string{}
	for _, s := range o.Suites {
		rel, err := NormPath(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dir := filepath.Join(o.Workspace, filepath.FromSlash(rel))
		if err := gotest.Check(dir); err != nil {
			errs = append(errs, fmt.Errorf("bundle: suite %s: %w", rel, err))
			continue
		}
		name := path.Base(rel)
		if !suiteName.MatchString(name) {
			errs = append(errs, fmt.Errorf("bundle: suite %s: its name %q is not a safe file name", rel, name))
			continue
		}
		if prev, dup := names[name]; dup {
			if prev != rel {
				errs = append(errs, fmt.Errorf("bundle: suites %s and %s share the name %q; their binaries and reports would collide", prev, rel, name))
			}
			continue
		}
		names[name] = rel
		suites = append(suites, suite{rel, dir})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []Binary
	for _, s := range suites {
		for _, arch := range o.Arches {
			built, err := gotest.BuildWith(ctx, s.dir, o.OutDir, gotest.BuildOptions{
				GOARCH: arch, Static: true, TrimPath: true, Locked: true, Env: o.Env,
			})
			if err != nil {
				var be *gotest.BuildError
				if errors.As(err, &be) {
					return nil, fmt.Errorf("bundle: suite %s does not compile for linux/%s: %w\n%s", s.rel, arch, be.Err, be.Output)
				}
				return nil, fmt.Errorf("bundle: suite %s (linux/%s): %w", s.rel, arch, err)
			}
			b := Binary{Entry: Entry{Name: built.Name, Path: s.rel, GOARCH: arch, Commit: o.Commit}, File: built.Binary}
			if b.SHA256, b.Size, err = hashFile(built.Binary); err != nil {
				return nil, fmt.Errorf("bundle: %w", err)
			}
			bi, err := buildinfo.ReadFile(built.Binary)
			if err != nil {
				return nil, fmt.Errorf("bundle: suite %s: reading the binary's build information: %w", s.rel, err)
			}
			b.GoVersion = bi.GoVersion
			log.InfoContext(ctx, "bundle: compiled", "suite", s.rel, "goarch", arch, "bytes", b.Size, "sha256", b.SHA256)
			out = append(out, b)
		}
	}
	return out, nil
}

// NewManifest is the manifest of the binaries, for an artifact whose image
// member is image.
func NewManifest(image string, bins []Binary) *Manifest {
	m := &Manifest{Version: Version, Image: image, Suites: []Entry{}}
	for _, b := range bins {
		m.Suites = append(m.Suites, b.Entry)
	}
	return m
}

// CheckArches fails unless every arch is one of Arches, each once.
func CheckArches(arches []string) error {
	if len(arches) == 0 {
		return errors.New("bundle: no GOARCH to compile for")
	}
	for i, a := range arches {
		if !slices.Contains(Arches, a) {
			return fmt.Errorf("bundle: GOARCH %q is not one of Go's Linux ports (%s)", a, strings.Join(Arches, ", "))
		}
		if slices.Contains(arches[:i], a) {
			return fmt.Errorf("bundle: GOARCH %s is given twice", a)
		}
	}
	return nil
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
