package release

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Commands are the commands a release ships, as directories of this module.
var Commands = []string{"leviathan", "leviathan-hook", "leviathan-action", "testrunner"}

// Arches are the GOARCHes a release is built for (GOOS is linux).
var Arches = []string{"amd64", "arm64"}

// Names of the files Build writes besides the binaries.
const (
	SumsFile        = "SHA256SUMS"
	ImageArchive    = "testrunner-image.oci.tar"
	ImageDigestFile = "testrunner-image.digest"
)

// Options configure Build.
type Options struct {
	// RepoRoot is the root of this module's checkout; "." when empty.
	RepoRoot string
	// Out is the directory the assets are written to; created when missing.
	// Files of an earlier build there are overwritten, others left alone.
	Out string
	// Version is the release's version (v1.2.3), recorded as the image's
	// org.opencontainers.image.version label; none when empty.
	Version string
	// Commands and Arches default to the package's Commands and Arches.
	Commands, Arches []string
	// NoImage skips the testrunner image (binaries and SHA256SUMS only).
	NoImage bool
	// Log receives build steps; silent when nil.
	Log *slog.Logger
}

// Asset is one file Build wrote.
type Asset struct {
	Name   string // file name in Options.Out
	SHA256 string // hex
}

// Result is what Build wrote.
type Result struct {
	Assets      []Asset // sorted by name, as listed in SHA256SUMS
	ImageDigest string  // the testrunner image index's digest (sha256:…); empty with NoImage
}

// BinaryName is the asset name of command built for linux/arch.
func BinaryName(command, arch string) string { return command + "_linux_" + arch }

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// CheckVersion reports whether v is a release version vMAJOR.MINOR.PATCH.
func CheckVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("release: version %q is not vMAJOR.MINOR.PATCH (v1.2.3)", v)
	}
	return nil
}

// Build compiles the release's binaries and image into o.Out and writes
// SHA256SUMS over them.
func Build(ctx context.Context, o Options) (Result, error) {
	if o.RepoRoot == "" {
		o.RepoRoot = "."
	}
	if o.Out == "" {
		return Result{}, fmt.Errorf("release: no output directory")
	}
	if o.Version != "" {
		if err := CheckVersion(o.Version); err != nil {
			return Result{}, err
		}
	}
	if o.Commands == nil {
		o.Commands = Commands
	}
	if o.Arches == nil {
		o.Arches = Arches
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(o.RepoRoot)
	if err != nil {
		return Result{}, fmt.Errorf("release: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return Result{}, fmt.Errorf("release: %w", err)
	}
	var names []string
	for _, arch := range o.Arches {
		for _, c := range o.Commands {
			name := BinaryName(c, arch)
			out, err := filepath.Abs(filepath.Join(o.Out, name))
			if err != nil {
				return Result{}, fmt.Errorf("release: %w", err)
			}
			log.Info("release: building "+name, "package", "./cmd/"+c)
			if err := goBuild(ctx, root, arch, out, "./cmd/"+c); err != nil {
				return Result{}, err
			}
			names = append(names, name)
		}
	}
	var res Result
	if !o.NoImage {
		log.Info("release: building the testrunner image", "arches", o.Arches)
		d, err := buildImage(ctx, root, o, log)
		if err != nil {
			return Result{}, err
		}
		res.ImageDigest = d
		names = append(names, ImageArchive, ImageDigestFile)
	}
	slices.Sort(names)
	for _, n := range names {
		sum, err := fileSHA256(filepath.Join(o.Out, n))
		if err != nil {
			return Result{}, err
		}
		res.Assets = append(res.Assets, Asset{Name: n, SHA256: sum})
	}
	if err := os.WriteFile(filepath.Join(o.Out, SumsFile), FormatSums(res.Assets), 0o644); err != nil {
		return Result{}, fmt.Errorf("release: %w", err)
	}
	return res, nil
}

// goBuild builds pkg for linux/arch into out, reproducibly.
func goBuild(ctx context.Context, root, arch, out, pkg string) error {
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, pkg}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch,
		"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=-mod=readonly")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("release: go %s (GOARCH=%s): %w\n%s", strings.Join(args, " "), arch, err, strings.TrimSpace(buf.String()))
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("release: reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FormatSums renders assets as sha256sum does ("<hex>  <name>" lines), so
// `sha256sum -c SHA256SUMS` checks them.
func FormatSums(assets []Asset) []byte {
	var b bytes.Buffer
	for _, a := range assets {
		fmt.Fprintf(&b, "%s  %s\n", a.SHA256, a.Name)
	}
	return b.Bytes()
}

var sumLineRE = regexp.MustCompile(`^([0-9a-f]{64}) [ *]([^/\s][^/]*)$`)

// ParseSums reads a SHA256SUMS file; a malformed line or a name listed
// twice is an error naming the line.
func ParseSums(r io.Reader) ([]Asset, error) {
	var as []Asset
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		m := sumLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			return nil, fmt.Errorf("release: SHA256SUMS line %d %q is not \"<64 lowercase hex>  <file name>\"", n, sc.Text())
		}
		if seen[m[2]] {
			return nil, fmt.Errorf("release: SHA256SUMS line %d lists %s a second time", n, m[2])
		}
		seen[m[2]] = true
		as = append(as, Asset{Name: m[2], SHA256: m[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("release: reading SHA256SUMS: %w", err)
	}
	return as, nil
}

// Verify checks every file SHA256SUMS in dir lists against its sum and
// returns the assets; a missing or different file is an error naming it.
func Verify(dir string) ([]Asset, error) {
	f, err := os.Open(filepath.Join(dir, SumsFile))
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	defer f.Close()
	as, err := ParseSums(f)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		got, err := fileSHA256(filepath.Join(dir, a.Name))
		if err != nil {
			return nil, err
		}
		if got != a.SHA256 {
			return nil, fmt.Errorf("release: %s has SHA-256 %s, SHA256SUMS says %s", a.Name, got, a.SHA256)
		}
	}
	return as, nil
}
