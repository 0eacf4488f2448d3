package testrunnerimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Nobody is the user and group the testrunner image runs as.
const Nobody = 65534

// File is one file or directory of an image layer.
type File struct {
	Path   string      // absolute path inside the image, such as /testrunner
	Mode   fs.FileMode // permission bits, plus fs.ModeDir for a directory and fs.ModeSticky
	UID    int         // owner; root when 0
	GID    int         // group; root when 0
	Data   []byte      // contents of a regular file
	Source string      // host file read for the contents when Data is nil
}

// ImageConfig is the part of an image's configuration NewImage sets.
type ImageConfig struct {
	Config  v1.Config // entrypoint, command, environment, user, labels, …
	Arch    string    // GOARCH of the binaries, such as amd64
	Created time.Time // creation time of the image and its layer files; Unix 0 when zero
}

// NewImage assembles a FROM-scratch OCI image with one layer holding files.
// The layer is reproducible: entries are sorted, missing parent directories
// are added (0755, root), and every timestamp is cfg.Created.
func NewImage(files []File, cfg ImageConfig) (v1.Image, error) {
	created := cfg.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC()
	layerTar, err := tarLayer(files, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("testrunnerimage: layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "leviathan testrunnerimage", Comment: "files"},
	})
	if err != nil {
		return nil, fmt.Errorf("testrunnerimage: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("testrunnerimage: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS = "linux"
	cf.Architecture = cfg.Arch
	cf.Config = cfg.Config
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("testrunnerimage: %w", err)
	}
	return img, nil
}

// tarLayer writes files as a deterministic tar stream.
func tarLayer(files []File, created time.Time) ([]byte, error) {
	byPath := map[string]File{}
	for _, f := range files {
		p := path.Clean(f.Path)
		if !path.IsAbs(p) || p == "/" {
			return nil, fmt.Errorf("testrunnerimage: bad path %q", f.Path)
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("testrunnerimage: %s given twice", p)
		}
		f.Path = p
		byPath[p] = f
	}
	for p := range byPath {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = File{Path: d, Mode: fs.ModeDir | 0o755}
			}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := byPath[p]
		mode := int64(f.Mode.Perm())
		if f.Mode&fs.ModeSticky != 0 {
			mode |= 0o1000
		}
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    mode,
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: created,
			Format:  tar.FormatPAX,
		}
		var data []byte
		if f.Mode.IsDir() {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			data = f.Data
			if data == nil && f.Source != "" {
				b, err := os.ReadFile(f.Source)
				if err != nil {
					return nil, fmt.Errorf("testrunnerimage: %w", err)
				}
				data = b
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("testrunnerimage: %s: %w", p, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("testrunnerimage: %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("testrunnerimage: %w", err)
	}
	return buf.Bytes(), nil
}
