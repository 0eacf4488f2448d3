package image

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Format names an image container or compression format.
type Format string

// Formats recognised by Sniff.
const (
	Raw   Format = "raw"
	Gzip  Format = "gzip"
	XZ    Format = "xz"
	Zstd  Format = "zstd"
	Bzip2 Format = "bzip2"
	Zip   Format = "zip"
)

var magics = []struct {
	format Format
	magic  []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Bzip2, []byte("BZh")},
	{Zip, []byte("PK\x03\x04")},
}

// Sniff names the format whose magic bytes head starts with; Raw when none.
func Sniff(head []byte) Format {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.format
		}
	}
	return Raw
}

// ErrNotDiskImage is returned when the (decompressed) image carries no
// partition table.
var ErrNotDiskImage = errors.New("image: not a disk image: no MBR or GPT partition table in the first sectors")

// Decompress sniffs src's format and returns a reader of the decompressed
// image. The returned closer releases decoder resources.
func Decompress(src io.Reader) (io.Reader, Format, func(), error) {
	br := bufio.NewReaderSize(src, 1<<20)
	head, err := br.Peek(8)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, "", nil, fmt.Errorf("image: reading the image: %w", err)
	}
	if len(head) == 0 {
		return nil, "", nil, errors.New("image: the image is empty")
	}
	nop := func() {}
	switch f := Sniff(head); f {
	case Raw:
		return br, f, nop, nil
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, f, nil, fmt.Errorf("image: gzip stream: %w", err)
		}
		return zr, f, nop, nil
	case XZ:
		if xr, release, err := xzProcess(br); err == nil {
			return xr, f, release, nil
		}
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, f, nil, fmt.Errorf("image: xz stream: %w", err)
		}
		return xr, f, nop, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(2))
		if err != nil {
			return nil, f, nil, fmt.Errorf("image: zstd stream: %w", err)
		}
		return zr, f, zr.Close, nil
	case Bzip2:
		return bzip2.NewReader(br), f, nop, nil
	default:
		return nil, f, nil, fmt.Errorf("image: %s archives are not supported yet; extract the image first", f)
	}
}

// IsDiskImage reports whether the first sectors of an image hold an MBR
// (boot signature) or a GPT header.
func IsDiskImage(first []byte) bool {
	if len(first) >= 520 && string(first[512:520]) == "EFI PART" {
		return true
	}
	return len(first) >= 512 && first[510] == 0x55 && first[511] == 0xaa
}
