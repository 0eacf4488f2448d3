package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// HeadSize is how much of a stream CheckHead reads before it decides: a
// compressed image's first MiB always decompresses to more than its
// first sectors.
const HeadSize = 1 << 20

// CheckHead reads the head of r, the image as published (raw or
// compressed), and checks that once decompressed it starts with a
// partition table. It returns a reader of all of r (the head it read
// followed by the rest) and the image's format. An image without a
// partition table fails with an error wrapping ErrNotDiskImage; an error
// reading r is returned as it is, so a caller can tell a broken download
// from a wrong image.
func CheckHead(r io.Reader) (io.Reader, Format, error) {
	head := make([]byte, HeadSize)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, "", err
	}
	head = head[:n]
	if n == 0 {
		return nil, "", fmt.Errorf("%w: the image is empty", ErrNotDiskImage)
	}
	dr, format, release, err := decompress(bytes.NewReader(head), false)
	if err != nil {
		return nil, format, fmt.Errorf("%w: %w", ErrNotDiskImage, err)
	}
	first := make([]byte, 1024)
	m, _ := io.ReadFull(dr, first) // a cut-off compressed head ends early
	release()
	if !IsDiskImage(first[:m]) {
		return nil, format, fmt.Errorf("%w (format %s)", ErrNotDiskImage, format)
	}
	return io.MultiReader(bytes.NewReader(head), r), format, nil
}
