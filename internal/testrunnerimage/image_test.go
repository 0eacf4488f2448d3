package testrunnerimage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func tinyImage(t *testing.T, data string) v1.Image {
	t.Helper()
	img, err := NewImage([]File{
		{Path: "/bin/hello", Mode: 0o755, Data: []byte(data)},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/reports", Mode: fs.ModeDir | 0o755, UID: Nobody, GID: Nobody},
	}, ImageConfig{Arch: "amd64", Config: v1.Config{Entrypoint: []string{"/bin/hello"}, User: "65534:65534"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// entries lists the layer's tar headers by name.
func entries(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("image has %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestNewImageReproducible(t *testing.T) {
	a, b := tinyImage(t, "hi"), tinyImage(t, "hi")
	checkImage(t, a)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("same inputs, different digests: %s %s", da, db)
	}
	dc, _ := tinyImage(t, "ho").Digest()
	if dc == da {
		t.Fatal("different contents, same digest")
	}
	es := entries(t, a)
	for _, want := range []string{"bin/", "bin/hello", "tmp/", "reports/"} {
		h, ok := es[want]
		if !ok {
			t.Fatalf("layer lacks %s; has %v", want, es)
		}
		if h.ModTime.Unix() != 0 {
			t.Errorf("%s: mtime %v, want Unix 0", want, h.ModTime)
		}
	}
	if h := es["tmp/"]; h.Mode&0o1000 == 0 || h.Mode&0o777 != 0o777 {
		t.Errorf("/tmp mode %o, want sticky 0777", h.Mode)
	}
	if h := es["reports/"]; h.Uid != Nobody || h.Gid != Nobody {
		t.Errorf("/reports owned by %d:%d, want nobody", h.Uid, h.Gid)
	}
}

func TestNewImageRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"relative", "/", ""} {
		if _, err := NewImage([]File{{Path: p, Data: []byte("x")}}, ImageConfig{}); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	if _, err := NewImage([]File{{Path: "/a"}, {Path: "/a/../a"}}, ImageConfig{}); err == nil {
		t.Error("duplicate path accepted")
	}
}

func TestWriteTarballAndLayout(t *testing.T) {
	img := tinyImage(t, "hi")
	wantCfg, _ := img.ConfigName()
	dir := t.TempDir()

	p := filepath.Join(dir, "image.tar")
	if err := WriteTarball(img, p, ""); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(DefaultRef)
	back, err := tarball.ImageFromPath(p, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := back.ConfigName(); got != wantCfg {
		t.Errorf("tarball config %s, want %s", got, wantCfg)
	}

	lp := filepath.Join(dir, "layout")
	if err := WriteLayout(img, lp, ""); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(lp)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	got, err := idx.Image(want)
	if err != nil {
		t.Fatalf("layout lacks the image: %v", err)
	}
	checkImage(t, got)
}

func TestServe(t *testing.T) {
	img := tinyImage(t, "hi")
	var requests atomic.Int64
	r := NewRegistry(WithMiddleware(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			requests.Add(1)
			h.ServeHTTP(w, req)
		})
	}))
	defer r.Close()
	ref, err := r.Push(context.Background(), "leviathan/testrunner", img)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if wantRef := r.Host + "/leviathan/testrunner@" + want.String(); ref != wantRef {
		t.Fatalf("ref %s, want %s", ref, wantRef)
	}
	d, err := name.NewDigest(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	if gd, _ := got.Digest(); gd != want {
		t.Fatalf("pulled %s, want %s", gd, want)
	}
	if requests.Load() == 0 {
		t.Error("middleware saw no request")
	}
}

// checkImage reads every part of img back and checks the digests agree,
// like go-containerregistry's validate.Image (which needs go-cmp, not a
// dependency of this module).
func checkImage(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if h, _, _ := v1.SHA256(bytes.NewReader(raw)); h != d {
		t.Fatalf("manifest digest %s, image digest %s", h, d)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(rawCfg)); h != m.Config.Digest {
		t.Fatalf("config digest %s, manifest says %s", h, m.Config.Digest)
	}
	cf, _ := img.ConfigFile()
	layers, _ := img.Layers()
	if len(layers) != len(m.Layers) || len(layers) != len(cf.RootFS.DiffIDs) {
		t.Fatalf("%d layers, %d in manifest, %d diff ids", len(layers), len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || h != m.Layers[i].Digest {
			t.Fatalf("layer %d digest %s, manifest says %s (%v)", i, h, m.Layers[i].Digest, err)
		}
		rc, _ = l.Uncompressed()
		h, _, err = v1.SHA256(rc)
		rc.Close()
		if err != nil || h != cf.RootFS.DiffIDs[i] {
			t.Fatalf("layer %d diff id %s, config says %s (%v)", i, h, cf.RootFS.DiffIDs[i], err)
		}
	}
}
