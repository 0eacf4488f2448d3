package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Members of the artifact.
const (
	// Dir is the prefix of every member of the bundle.
	Dir = "suites/"
	// ManifestMember is the manifest's member, the bundle's first.
	ManifestMember = Dir + "manifest.json"
	// Version is the manifest format Parse reads and Compile writes.
	Version = 1
)

// maxManifest bounds the manifest Parse reads.
const maxManifest = 1 << 20

// Arches are the GOARCHes a suite may be compiled for: Go's Linux ports.
var Arches = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le", "riscv64", "s390x"}

// DefaultArches are the architectures submit compiles for by default.
var DefaultArches = []string{"amd64", "arm64"}

// Manifest lists the compiled suites of a bundle.
type Manifest struct {
	// Version is the format's version (Version).
	Version int `json:"version"`
	// Image is the image's member in the same artifact, such as
	// balena.img.zst; empty when the artifact holds no image.
	Image string `json:"image,omitempty"`
	// Suites has one entry per suite and architecture.
	Suites []Entry `json:"suites"`
}

// Entry is one compiled suite.
type Entry struct {
	// Name is the suite's name in reports: its directory's base name.
	Name string `json:"name"`
	// Path is the suite's directory in the workspace, normalised
	// (NormPath).
	Path string `json:"path"`
	// GOARCH is the architecture the binary runs on (GOOS is linux).
	GOARCH string `json:"goarch"`
	// SHA256 is the binary's hex SHA-256.
	SHA256 string `json:"sha256"`
	// Size is the binary's size in bytes.
	Size int64 `json:"size"`
	// GoVersion is the Go toolchain that compiled it (go1.26.0).
	GoVersion string `json:"go"`
	// Commit is the commit compiled (GITHUB_SHA); empty when unknown.
	Commit string `json:"commit,omitempty"`
}

// Member is the entry's binary's member in the artifact.
func (e Entry) Member() string { return Dir + e.Name + "." + e.GOARCH + ".test" }

// Find returns the entry for the suite at the normalised path p and arch.
func (m *Manifest) Find(p, arch string) (Entry, bool) {
	for _, e := range m.Suites {
		if e.Path == p && e.GOARCH == arch {
			return e, true
		}
	}
	return Entry{}, false
}

// ArchesOf lists the architectures the manifest has the suite at the
// normalised path p for.
func (m *Manifest) ArchesOf(p string) []string {
	var out []string
	for _, e := range m.Suites {
		if e.Path == p {
			out = append(out, e.GOARCH)
		}
	}
	return out
}

// Marshal encodes the manifest, indented.
func (m *Manifest) Marshal() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// suiteName is a safe file name: a suite's directory's base name.
	suiteName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

// Parse reads and validates a manifest: its version, every entry's fields
// (a known GOARCH, a hex SHA-256, a positive size, a normalised path whose
// base name is the entry's name) and that no two entries are for the same
// suite and architecture or share a name.
func Parse(b []byte) (*Manifest, error) {
	if len(b) > maxManifest {
		return nil, fmt.Errorf("bundle: %s is larger than %d bytes", ManifestMember, maxManifest)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("bundle: %s is not a manifest: %w", ManifestMember, err)
	}
	if m.Version != Version {
		return nil, fmt.Errorf("bundle: %s has version %d; this leviathan-action reads version %d (submit and test of different releases?)", ManifestMember, m.Version, Version)
	}
	if m.Image != "" {
		if strings.HasPrefix(m.Image, Dir) || path.Clean(m.Image) != m.Image || path.IsAbs(m.Image) || strings.HasPrefix(m.Image, "..") {
			return nil, fmt.Errorf("bundle: %s: image member %q is not a clean relative path outside %s", ManifestMember, m.Image, Dir)
		}
	}
	var errs []error
	names := map[string]string{} // name/arch → path
	for i, e := range m.Suites {
		if err := e.check(); err != nil {
			errs = append(errs, fmt.Errorf("bundle: %s: suite %d (%q): %w", ManifestMember, i+1, e.Path, err))
			continue
		}
		key := e.Name + "/" + e.GOARCH
		if prev, dup := names[key]; dup {
			if prev == e.Path {
				errs = append(errs, fmt.Errorf("bundle: %s: suite %s for %s is listed twice", ManifestMember, e.Path, e.GOARCH))
			} else {
				errs = append(errs, fmt.Errorf("bundle: %s: suites %s and %s share the name %q", ManifestMember, prev, e.Path, e.Name))
			}
			continue
		}
		names[key] = e.Path
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &m, nil
}

func (e Entry) check() error {
	p, err := NormPath(e.Path)
	switch {
	case err != nil:
		return err
	case p != e.Path:
		return fmt.Errorf("path is not normalised (%q)", p)
	case !suiteName.MatchString(e.Name) || path.Base(e.Path) != e.Name:
		return fmt.Errorf("name %q is not the base name of the path", e.Name)
	case !slices.Contains(Arches, e.GOARCH):
		return fmt.Errorf("GOARCH %q is not one of Go's Linux ports (%s)", e.GOARCH, strings.Join(Arches, ", "))
	case !sha256Hex.MatchString(e.SHA256):
		return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", e.SHA256)
	case e.Size <= 0:
		return fmt.Errorf("size %d is not positive", e.Size)
	}
	return nil
}

// NormPath normalises a suite's workspace-relative directory: slashes,
// no "./" prefix, no trailing slash, no "." or ".." elements. It refuses
// absolute paths and paths that leave the workspace.
func NormPath(p string) (string, error) {
	p = strings.TrimSpace(strings.ReplaceAll(p, `\`, "/"))
	if p == "" {
		return "", errors.New("bundle: empty suite path")
	}
	if path.IsAbs(p) {
		return "", fmt.Errorf("bundle: suite path %q is absolute; give it relative to the workspace", p)
	}
	c := path.Clean(p)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("bundle: suite path %q is not a directory inside the workspace", p)
	}
	return c, nil
}
