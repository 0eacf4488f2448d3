package report

import (
	"bufio"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MaxWalkEntries bounds the workspace walk a Resolver makes to find
// go.mod files and file names: past it the walk stops, and a bare file
// name is no longer resolved by a unique match (it could not be proved
// unique).
const MaxWalkEntries = 200000

// skipDirs are not walked: they hold no sources of the repository's own.
var skipDirs = map[string]bool{".git": true, "vendor": true, "node_modules": true}

// Resolver places the files that test results name in the repository, so
// that GitHub, which puts annotations only on paths relative to the
// repository root, shows them on the code. It is made for one workspace
// ($GITHUB_WORKSPACE, the checkout) and walks it at most once, on first
// need; it is safe for concurrent use.
//
// Without a workspace it cannot check anything: a relative path is kept
// as it is (joined to the suite's directory when it is a bare name) and
// an absolute one is dropped.
//
// It never returns an absolute path or one that leaves the workspace:
// GitHub would place no annotation there, and the runner's paths are no
// business of the check run.
type Resolver struct {
	roots []string // the workspace as given and with symlinks resolved
	limit int      // entries walked at most: MaxWalkEntries

	once    sync.Once
	modules []goModule          // longest module path first
	files   map[string][]string // base name → workspace-relative paths
	partial bool                // the walk stopped at limit
}

// goModule is a go.mod found in the workspace.
type goModule struct {
	path string // the module path
	dir  string // its directory, workspace-relative ("." for the root)
}

// NewResolver returns a Resolver for the workspace directory ws; ws may
// be empty when the workspace is unknown.
func NewResolver(ws string) *Resolver {
	r := &Resolver{limit: MaxWalkEntries}
	if ws == "" {
		return r
	}
	abs, err := filepath.Abs(ws)
	if err != nil {
		return r
	}
	r.roots = append(r.roots, abs)
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		r.roots = append(r.roots, real)
	}
	return r
}

// Resolve returns file's path relative to the workspace, in slash form,
// and true; or "", false when file cannot be placed in the workspace.
// pkg is the test case's package (a JUnit classname: go-junit-report
// writes the Go import path) and dir the directory, relative to the
// workspace, where a bare file name is looked for first (a suite's
// sources); both may be empty. In order:
//
//  1. an absolute path inside the workspace is made relative to it (with
//     symbolic links resolved); one outside it is not placed;
//  2. a relative path is looked for under dir (a bare name), at the
//     workspace root, and in pkg's directory, found through the go.mod
//     files of the workspace (the root module and nested ones): module
//     github.com/x/y in sub/ puts package github.com/x/y/pkg in sub/pkg;
//  3. failing that, the one file of the workspace whose path ends with it
//     (.git, vendor and node_modules are not searched);
//  4. failing that (no such file, or several), the path as given, joined
//     to dir when it is a bare name: still relative to the repository, so
//     GitHub lists the annotation on the check run.
//
// An absolute path outside the workspace and a path that leaves it ("..")
// are never returned.
func (r *Resolver) Resolve(file, pkg, dir string) (string, bool) {
	f := strings.TrimSpace(filepath.ToSlash(file))
	if f == "" {
		return "", false
	}
	if path.IsAbs(f) || filepath.IsAbs(file) {
		return r.absolute(f)
	}
	f = path.Clean(f)
	if escapes(f) {
		return "", false
	}
	var cands []string
	if dir != "" && !strings.Contains(f, "/") {
		d := filepath.ToSlash(dir)
		if path.IsAbs(d) {
			if rel, ok := r.within(d); ok {
				d = rel
			} else {
				d = ""
			}
		}
		if d != "" {
			if c := path.Join(d, f); !escapes(c) {
				cands = append(cands, c)
			}
		}
	}
	guess := f // the best guess, when nothing is found
	if len(cands) > 0 {
		guess = cands[0]
	}
	if len(r.roots) == 0 {
		return guess, true // nothing to check against
	}
	cands = append(cands, f)
	if d, ok := r.packageDir(pkg); ok {
		cands = append(cands, path.Join(d, f))
	}
	for _, c := range cands {
		if r.exists(c) {
			return c, true
		}
	}
	if u, ok := r.unique(f); ok {
		return u, true
	}
	return guess, true
}

// absolute places an absolute path, slash form.
func (r *Resolver) absolute(f string) (string, bool) {
	if rel, ok := r.within(f); ok {
		return rel, true
	}
	if len(r.roots) == 0 {
		return "", false
	}
	if real, err := filepath.EvalSymlinks(filepath.FromSlash(f)); err == nil {
		if rel, ok := r.within(filepath.ToSlash(real)); ok {
			return rel, true
		}
	}
	return "", false
}

// within makes an absolute slash path relative to the workspace.
func (r *Resolver) within(f string) (string, bool) {
	for _, root := range r.roots {
		rel, err := filepath.Rel(root, filepath.FromSlash(f))
		if err != nil {
			continue
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && !escapes(rel) {
			return rel, true
		}
	}
	return "", false
}

// escapes reports whether a clean relative slash path leaves its base.
func escapes(p string) bool {
	return p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p)
}

func (r *Resolver) exists(rel string) bool {
	fi, err := os.Stat(filepath.Join(r.roots[0], filepath.FromSlash(rel)))
	return err == nil && fi.Mode().IsRegular()
}

// packageDir is the workspace directory of Go package pkg, from the
// go.mod files of the workspace.
func (r *Resolver) packageDir(pkg string) (string, bool) {
	if pkg == "" || len(r.roots) == 0 {
		return "", false
	}
	r.walk()
	for _, m := range r.modules {
		if pkg == m.path {
			return m.dir, true
		}
		if rest, ok := strings.CutPrefix(pkg, m.path+"/"); ok {
			d := path.Join(m.dir, rest)
			if escapes(d) {
				return "", false
			}
			return d, true
		}
	}
	return "", false
}

// unique is the one workspace file whose path is f or ends with "/"+f.
func (r *Resolver) unique(f string) (string, bool) {
	r.walk()
	if r.partial {
		return "", false
	}
	var match string
	for _, p := range r.files[path.Base(f)] {
		if p == f || strings.HasSuffix(p, "/"+f) {
			if match != "" {
				return "", false // ambiguous
			}
			match = p
		}
	}
	return match, match != ""
}

// walk indexes the workspace once: its go.mod files and its file names.
func (r *Resolver) walk() {
	r.once.Do(func() {
		r.files = map[string][]string{}
		root := r.roots[0]
		// The root module is read whatever the walk reaches.
		if mp := modulePath(filepath.Join(root, "go.mod")); mp != "" {
			r.modules = append(r.modules, goModule{path: mp, dir: "."})
		}
		n := 0
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // an unreadable directory is skipped
			}
			if n++; n > r.limit {
				r.partial = true
				return filepath.SkipAll
			}
			if d.IsDir() {
				if p != root && skipDirs[d.Name()] {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return nil
			}
			rel = filepath.ToSlash(rel)
			r.files[d.Name()] = append(r.files[d.Name()], rel)
			if d.Name() == "go.mod" && rel != "go.mod" {
				if mp := modulePath(p); mp != "" {
					r.modules = append(r.modules, goModule{path: mp, dir: path.Dir(rel)})
				}
			}
			return nil
		})
		sort.SliceStable(r.modules, func(i, j int) bool { return len(r.modules[i].path) > len(r.modules[j].path) })
	})
}

// modulePath reads the module directive of the go.mod file at p; "" when
// it has none or cannot be read.
func modulePath(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || fields[0] != "module" {
			continue
		}
		mp := fields[1]
		if uq, err := strconv.Unquote(mp); err == nil {
			mp = uq
		}
		return mp
	}
	return ""
}
