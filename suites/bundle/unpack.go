package bundle

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/balena/leviathan-action/suites/gotest"
)

// ErrMismatch is wrapped by the errors of a binary whose size, SHA-256 or
// architecture is not what the manifest says.
var ErrMismatch = errors.New("bundle: the binary is not the one the manifest lists")

// Unpacker takes an artifact's members in archive order (Member, from
// artifact.Client.Walk) and keeps the binaries of the wanted suites for one
// architecture. It is not safe for concurrent use.
type Unpacker struct {
	dir  string
	arch string
	want map[string]bool
	m    *Manifest
	got  map[string]string // path → file
	done bool
}

// NewUnpacker returns an Unpacker that writes the binaries of the suites
// at the normalised paths want, built for arch, into dir as <name>.test,
// mode 0755. dir must exist and be private to the caller.
func NewUnpacker(dir, arch string, want []string) *Unpacker {
	u := &Unpacker{dir: dir, arch: arch, want: map[string]bool{}, got: map[string]string{}}
	for _, p := range want {
		u.want[p] = true
	}
	return u
}

// Member takes the next member of the archive, whose content r reads. It
// returns more=false at the first member outside Dir: the bundle's members
// come first, so nothing after that one matters.
func (u *Unpacker) Member(name string, r io.Reader) (more bool, err error) {
	if u.done || !strings.HasPrefix(name, Dir) {
		u.done = true
		return false, nil
	}
	if name == ManifestMember {
		if u.m != nil {
			return false, fmt.Errorf("bundle: the artifact holds %s twice", ManifestMember)
		}
		b, err := io.ReadAll(io.LimitReader(r, maxManifest+1))
		if err != nil {
			return false, fmt.Errorf("bundle: reading %s: %w", ManifestMember, err)
		}
		if u.m, err = Parse(b); err != nil {
			return false, err
		}
		return true, nil
	}
	if u.m == nil {
		return false, fmt.Errorf("bundle: member %s comes before %s", name, ManifestMember)
	}
	var e *Entry
	for i := range u.m.Suites {
		if u.m.Suites[i].Member() == name {
			e = &u.m.Suites[i]
			break
		}
	}
	if e == nil {
		return false, fmt.Errorf("bundle: member %s is not in %s", name, ManifestMember)
	}
	if e.GOARCH != u.arch || !u.want[e.Path] {
		return true, nil // skipped
	}
	if _, dup := u.got[e.Path]; dup {
		return false, fmt.Errorf("bundle: the artifact holds %s twice", name)
	}
	file, err := u.write(*e, r)
	if err != nil {
		return false, err
	}
	u.got[e.Path] = file
	return true, nil
}

// write copies the binary of e into the directory and checks it.
func (u *Unpacker) write(e Entry, r io.Reader) (string, error) {
	p := filepath.Join(u.dir, e.Name+".test")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	h := sha256.New()
	// One byte more than the manifest says tells a longer binary.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, e.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = checkBinary(e, n, hex.EncodeToString(h.Sum(nil)), p)
	}
	if err == nil {
		// The testrunner container runs as nobody: the binary must be
		// readable and executable by others, whatever the umask.
		err = os.Chmod(p, 0o755)
	}
	if err != nil {
		os.Remove(p)
		return "", fmt.Errorf("bundle: suite %s (%s, member %s): %w", e.Path, e.GOARCH, e.Member(), err)
	}
	return p, nil
}

func checkBinary(e Entry, n int64, sum, p string) error {
	switch {
	case n != e.Size:
		if n > e.Size {
			return fmt.Errorf("%w: it is larger than the manifest's %d bytes", ErrMismatch, e.Size)
		}
		return fmt.Errorf("%w: %d bytes, the manifest says %d", ErrMismatch, n, e.Size)
	case sum != e.SHA256:
		return fmt.Errorf("%w: SHA-256 %s, the manifest says %s", ErrMismatch, sum, e.SHA256)
	}
	return CheckBinary(p, e.GOARCH)
}

// CheckBinary fails unless the file at p is a Go binary built for
// linux/arch and statically linked, from its build information and ELF
// headers.
func CheckBinary(p, arch string) error {
	bi, err := buildinfo.ReadFile(p)
	if err != nil {
		return fmt.Errorf("%w: not a Go binary: %w", ErrMismatch, err)
	}
	goos, goarch := "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "linux" || goarch != arch {
		return fmt.Errorf("%w: built for %s/%s, not linux/%s", ErrMismatch, goos, goarch, arch)
	}
	if err := gotest.CheckStatic(p); err != nil {
		return fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	return nil
}

// Manifest returns the manifest read, or nil when the artifact had none.
func (u *Unpacker) Manifest() *Manifest { return u.m }

// Binary returns the file kept for the suite at the normalised path p.
func (u *Unpacker) Binary(p string) (string, bool) {
	f, ok := u.got[p]
	return f, ok
}

// Check fails when the manifest lists a wanted suite for the architecture
// but the archive did not hold its binary. Call it after the last member.
func (u *Unpacker) Check() error {
	if u.m == nil {
		return nil
	}
	var errs []error
	for p := range u.want {
		if e, ok := u.m.Find(p, u.arch); ok {
			if _, got := u.got[p]; !got {
				errs = append(errs, fmt.Errorf("bundle: %s lists suite %s for %s, but the artifact has no member %s", ManifestMember, p, u.arch, e.Member()))
			}
		}
	}
	return errors.Join(errs...)
}
