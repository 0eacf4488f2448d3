package image

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/balena/leviathan-action/autokit/image/zipstream"
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
//
// A zip archive must hold one file (directories do not count); that file
// may itself be compressed: it is sniffed again, and the format is then
// reported as "zip+<format>" (a zip inside a zip is refused). When src is
// a regular file its central directory is read first, so an archive of
// several files is refused before anything is decompressed; from a
// stream, a second file is only seen after the first one was read
// through, and the returned reader then fails in place of io.EOF.
func Decompress(src io.Reader) (io.Reader, Format, func(), error) {
	if f, size := regularFile(src); f != nil {
		if err := checkZipFile(f, size); err != nil {
			return nil, Zip, nil, err
		}
	}
	return decompress(src, false)
}

func decompress(src io.Reader, inZip bool) (io.Reader, Format, func(), error) {
	file, start := fileAt(src)
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
		// Before xz starts reading br.
		hdr, _ := br.Peek(xzFirstBlockFlags + 1)
		oneCore := xzOneCore(hdr)
		// From a file xz reads the file itself, from where the stream
		// starts; from anything else, what br reads.
		var in io.Reader = br
		if file != nil {
			if _, err := file.Seek(start, io.SeekStart); err == nil {
				in = file
			}
		}
		if xr, release, err := xzProcess(in); err == nil {
			xr.oneCore = oneCore
			return xr, f, release, nil
		}
		if in == file {
			br = bufio.NewReaderSize(src, 1<<20) // src is back at start
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
	case Zip:
		if inZip {
			return nil, f, nil, errors.New("image: a zip inside a zip archive is not supported; extract the image first")
		}
		name, mr, err := zipstream.One(br)
		if err != nil {
			return nil, f, nil, zipError(err)
		}
		r, inner, release, err := decompress(&zipMember{r: mr}, true)
		if err != nil {
			return nil, f, nil, fmt.Errorf("image: zip member %q: %w", name, err)
		}
		if inner != Raw {
			f = Zip + "+" + inner
		}
		return r, f, release, nil
	default:
		return nil, f, nil, fmt.Errorf("image: %s archives are not supported; extract the image first", f)
	}
}

// fileAt returns src's file and its offset when src is a regular file
// (a decoder process can then read it directly, without this process
// copying it into a pipe), or nil.
func fileAt(src io.Reader) (*os.File, int64) {
	f, _ := regularFile(src)
	if f == nil {
		return nil, 0
	}
	at, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0
	}
	return f, at
}

// zipError names an archive of several files as such.
func zipError(err error) error {
	return fmt.Errorf("image: %w", zipCause(err))
}

func zipCause(err error) error {
	var several *zipstream.SeveralError
	if errors.As(err, &several) {
		return fmt.Errorf("zip with several images: %w: extract the one to flash", err)
	}
	return fmt.Errorf("zip: %w", err)
}

// zipMember reads One's file; its errors (several files, a CRC-32
// mismatch) say they come from the zip archive.
type zipMember struct{ r io.Reader }

func (z *zipMember) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	if err != nil && err != io.EOF {
		err = zipCause(err)
	}
	return n, err
}

// checkZipFile refuses a zip file of several files, reading its central
// directory; anything else (not a zip, a zip that archive/zip cannot
// read) is left to the streaming reader.
func checkZipFile(f *os.File, size int64) error {
	head := make([]byte, 4)
	if n, _ := f.ReadAt(head, 0); Sniff(head[:n]) != Zip {
		return nil
	}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil
	}
	var files []string
	for _, e := range zr.File {
		if !e.FileInfo().IsDir() {
			files = append(files, e.Name)
		}
	}
	if len(files) > 1 {
		several := &zipstream.SeveralError{Names: files}
		if len(files) > 32 {
			several.Names, several.More = files[:32], true
		}
		return zipError(several)
	}
	return nil
}

// IsDiskImage reports whether the first sectors of an image hold an MBR
// (boot signature) or a GPT header.
func IsDiskImage(first []byte) bool {
	if len(first) >= 520 && string(first[512:520]) == "EFI PART" {
		return true
	}
	return len(first) >= 512 && first[510] == 0x55 && first[511] == 0xaa
}
