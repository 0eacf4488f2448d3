package release

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/balena/leviathan-action/internal/testrunnerimage"
)

// buildImage builds the testrunner image for every arch, writes their
// index as an OCI layout archive and its digest into o.Out, and returns the
// digest.
func buildImage(ctx context.Context, root string, o Options, log *slog.Logger) (string, error) {
	var labels map[string]string
	if o.Version != "" {
		labels = map[string]string{"org.opencontainers.image.version": o.Version}
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range o.Arches {
		img, err := testrunnerimage.Build(ctx, testrunnerimage.Options{RepoRoot: root, Arch: arch, Labels: labels, Log: log})
		if err != nil {
			return "", fmt.Errorf("release: %w", err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch},
		}})
	}
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	if err := WriteImageArchive(idx, filepath.Join(o.Out, ImageArchive)); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(o.Out, ImageDigestFile), []byte(d.String()+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	return d.String(), nil
}

// WriteImageArchive writes idx as an OCI image layout (its index.json is
// idx) packed in a tar file at path, with sorted entries and fixed owners,
// modes and times, so the same index gives the same bytes.
func WriteImageArchive(idx v1.ImageIndex, path string) error {
	tmp, err := os.MkdirTemp("", "release-oci-")
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := layout.Write(tmp, idx); err != nil {
		return fmt.Errorf("release: writing the OCI layout: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	tw := tar.NewWriter(f)
	// WalkDir visits entries in lexical order.
	err = filepath.WalkDir(tmp, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == tmp {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0), Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if e.IsDir() {
			h.Name += "/"
			h.Mode, h.Typeflag = 0o755, tar.TypeDir
			return tw.WriteHeader(h)
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		h.Size = info.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("release: writing %s: %w", path, err)
	}
	return nil
}

// ReadImageArchive unpacks an archive WriteImageArchive wrote into dir and
// returns its index.
func ReadImageArchive(path, dir string) (v1.ImageIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("release: reading %s: %w", path, err)
		}
		clean := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("release: %s holds %q, outside the layout", path, h.Name)
		}
		target := filepath.Join(dir, clean)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeFile(target, tr)
		default:
			err = fmt.Errorf("%q is not a file or directory", h.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("release: unpacking %s: %w", path, err)
		}
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("release: %s is not an OCI layout: %w", path, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("release: %s: %w", path, err)
	}
	return idx, nil
}

func writeFile(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PushOptions configure Push.
type PushOptions struct {
	// Dir holds the assets Build wrote.
	Dir string
	// Repository is where the image goes, such as host/owner/leviathan-testrunner.
	Repository string
	// Tag, when set, also names the pushed index (v1.2.3).
	Tag string
	// Keychain resolves credentials; authn.DefaultKeychain (the docker
	// CLI's configuration) when nil.
	Keychain authn.Keychain
}

// Push uploads the testrunner image index in o.Dir to o.Repository by its
// digest, after checking the archive against SHA256SUMS and the recorded
// digest, and returns its reference by digest (repository@sha256:…).
func Push(ctx context.Context, o PushOptions) (string, error) {
	if o.Repository == "" {
		return "", fmt.Errorf("release: no repository to push the testrunner image to")
	}
	if _, err := Verify(o.Dir); err != nil {
		return "", err
	}
	want, err := os.ReadFile(filepath.Join(o.Dir, ImageDigestFile))
	if err != nil {
		return "", fmt.Errorf("release: %w (build the assets with the image first)", err)
	}
	tmp, err := os.MkdirTemp("", "release-push-")
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	defer os.RemoveAll(tmp)
	idx, err := ReadImageArchive(filepath.Join(o.Dir, ImageArchive), tmp)
	if err != nil {
		return "", err
	}
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	if d.String() != strings.TrimSpace(string(want)) {
		return "", fmt.Errorf("release: %s holds index %s, %s says %s", ImageArchive, d, ImageDigestFile, strings.TrimSpace(string(want)))
	}
	repo, err := name.NewRepository(o.Repository)
	if err != nil {
		return "", fmt.Errorf("release: repository %q: %w", o.Repository, err)
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ref := repo.Digest(d.String())
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return "", fmt.Errorf("release: pushing %s: %w", ref, err)
	}
	if o.Tag != "" {
		if err := remote.Tag(repo.Tag(o.Tag), idx, opts...); err != nil {
			return "", fmt.Errorf("release: tagging %s:%s: %w", repo, o.Tag, err)
		}
	}
	return ref.String(), nil
}
