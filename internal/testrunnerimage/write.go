package testrunnerimage

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultRef is the name the image is written and pushed under.
const DefaultRef = "leviathan/testrunner:latest"

// WriteTarball writes img to path as a docker tarball (`docker load -i
// path`) tagged ref; DefaultRef when ref is empty.
func WriteTarball(img v1.Image, path, ref string) error {
	if ref == "" {
		ref = DefaultRef
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("testrunnerimage: %w", err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return fmt.Errorf("testrunnerimage: writing %s: %w", path, err)
	}
	return nil
}

// WriteLayout writes img into the OCI image layout at dir, creating the
// layout when needed, and names it ref (annotation
// org.opencontainers.image.ref.name); DefaultRef when ref is empty.
func WriteLayout(img v1.Image, dir, ref string) error {
	if ref == "" {
		ref = DefaultRef
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("testrunnerimage: %w", err)
		}
	}
	err = p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
	}))
	if err != nil {
		return fmt.Errorf("testrunnerimage: writing %s: %w", dir, err)
	}
	return nil
}
