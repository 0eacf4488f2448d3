package release_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/balena/leviathan-action/internal/release"
	"github.com/balena/leviathan-action/internal/testrunnerimage"
)

// smallIndex is an index of two one-file images, standing in for the
// testrunner image.
func smallIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := testrunnerimage.NewImage([]testrunnerimage.File{{Path: "/hello", Mode: 0o755, Data: []byte("hello " + arch)}},
			testrunnerimage.ImageConfig{Arch: arch})
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx
}

// assetsDir writes idx's archive, digest file (digest, or idx's when
// empty) and SHA256SUMS into a new directory.
func assetsDir(t *testing.T, idx v1.ImageIndex, digest string) string {
	t.Helper()
	dir := t.TempDir()
	if err := release.WriteImageArchive(idx, filepath.Join(dir, release.ImageArchive)); err != nil {
		t.Fatal(err)
	}
	if digest == "" {
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digest = d.String()
	}
	if err := os.WriteFile(filepath.Join(dir, release.ImageDigestFile), []byte(digest+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var as []release.Asset
	for _, n := range []string{release.ImageArchive, release.ImageDigestFile} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		as = append(as, release.Asset{Name: n, SHA256: hex.EncodeToString(s[:])})
	}
	if err := os.WriteFile(filepath.Join(dir, release.SumsFile), release.FormatSums(as), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestImageArchiveReproducible(t *testing.T) {
	idx := smallIndex(t)
	a, b := assetsDir(t, idx, ""), assetsDir(t, smallIndex(t), "")
	ba, _ := os.ReadFile(filepath.Join(a, release.ImageArchive))
	bb, _ := os.ReadFile(filepath.Join(b, release.ImageArchive))
	if len(ba) == 0 || !bytes.Equal(ba, bb) {
		t.Fatalf("two archives of the same index differ (%d and %d bytes)", len(ba), len(bb))
	}
	back, err := release.ReadImageArchive(filepath.Join(a, release.ImageArchive), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if got, _ := back.Digest(); got != want {
		t.Errorf("read back index %s, wrote %s", got, want)
	}
}

// TestPush pushes to an in-process registry by digest and tag and pulls
// the index back by that digest.
func TestPush(t *testing.T) {
	reg := testrunnerimage.NewRegistry()
	defer reg.Close()
	idx := smallIndex(t)
	dir := assetsDir(t, idx, "")
	ctx := context.Background()
	repo := reg.Host + "/balena/leviathan-testrunner"
	ref, err := release.Push(ctx, release.PushOptions{Dir: dir, Repository: repo, Tag: "v1.2.3", Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	if want := repo + "@" + d.String(); ref != want {
		t.Errorf("Push = %q, want %q", ref, want)
	}
	for _, r := range []string{ref, repo + ":v1.2.3"} {
		nr, err := name.ParseReference(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Index(nr, remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("pulling %s: %v", r, err)
		}
		if gd, _ := got.Digest(); gd != d {
			t.Errorf("%s is %s, pushed %s", r, gd, d)
		}
	}
}

func TestPushRefuses(t *testing.T) {
	reg := testrunnerimage.NewRegistry()
	defer reg.Close()
	idx := smallIndex(t)
	tampered := assetsDir(t, idx, "")
	if err := os.WriteFile(filepath.Join(tampered, release.ImageDigestFile), []byte("sha256:"+strings.Repeat("0", 64)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    release.PushOptions
		want string
	}{
		{"no repository", release.PushOptions{Dir: assetsDir(t, idx, "")}, "no repository"},
		{"file changed after SHA256SUMS", release.PushOptions{Dir: tampered, Repository: reg.Host + "/x"}, release.ImageDigestFile + " has SHA-256"},
		{"digest file disagrees", release.PushOptions{Dir: assetsDir(t, idx, "sha256:"+strings.Repeat("1", 64)), Repository: reg.Host + "/x"}, "says sha256:111"},
		{"no assets", release.PushOptions{Dir: t.TempDir(), Repository: reg.Host + "/x"}, release.SumsFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := release.Push(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Push = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
