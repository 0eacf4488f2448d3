package submit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/balena/leviathan-action/autokit/image"
)

// Image is an image file that passed Check.
type Image struct {
	Path string
	// Size is the file's size in bytes.
	Size int64
	// Format is the file's format: image.Raw or a compression.
	Format image.Format
}

// Compressed reports whether the image file is a compressed stream.
func (i Image) Compressed() bool { return i.Format != image.Raw }

// Check verifies that path is a non-empty regular file holding a disk
// image, raw or compressed with gzip, xz, zstd or bzip2.
func Check(path string) (Image, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Image{}, fmt.Errorf("submit: image %s does not exist: %w", path, err)
	case err != nil:
		return Image{}, fmt.Errorf("submit: image %s: %w", path, err)
	case fi.IsDir():
		return Image{}, fmt.Errorf("submit: image %s is a directory; want the image file", path)
	case !fi.Mode().IsRegular():
		return Image{}, fmt.Errorf("submit: image %s is not a regular file (%s)", path, fi.Mode().Type())
	case fi.Size() == 0:
		return Image{}, fmt.Errorf("submit: image %s is empty", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Image{}, fmt.Errorf("submit: image %s: %w", path, err)
	}
	defer f.Close()
	var head [8]byte
	n, _ := io.ReadFull(f, head[:])
	format := image.Sniff(head[:n])
	if format == image.Zip {
		return Image{}, fmt.Errorf("submit: image %s is a zip archive; extract the image and submit it", path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Image{}, fmt.Errorf("submit: image %s: %w", path, err)
	}
	if _, _, err := image.CheckHead(f); err != nil {
		switch {
		case !errors.Is(err, image.ErrNotDiskImage):
			return Image{}, fmt.Errorf("submit: image %s: reading its %s stream: %w", path, format, err)
		case format == image.Raw:
			return Image{}, fmt.Errorf("submit: image %s (%d bytes): %w", path, fi.Size(), err)
		default:
			return Image{}, fmt.Errorf("submit: image %s is %s-compressed but what it holds: %w", path, format, err)
		}
	}
	return Image{Path: path, Size: fi.Size(), Format: format}, nil
}
