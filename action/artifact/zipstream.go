package artifact

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"
)

// ErrNoMember is returned by Extract when the archive has no such member.
var ErrNoMember = errors.New("artifact: no such member in the artifact")

const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEnd        = 0x06054b50
	sigDescriptor = 0x08074b50
	flagEncrypted = 0x1
	flagDescr     = 0x8
	methodStore   = 0
	methodDeflate = 8
	max32         = 0xffffffff
)

// extractStream reads a zip archive from r front to back and copies the
// member named member (the first file when member is "") to w, checking
// its CRC-32. It needs no io.ReaderAt: it walks the local headers, which
// works for deflated members and for stored members whose local header
// carries their size.
func extractStream(r io.Reader, member string, w io.Writer) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var seen []string
	for {
		var hdr [30]byte
		if _, err := io.ReadFull(br, hdr[:4]); err != nil {
			return 0, fmt.Errorf("artifact: zip: reading a header: %w", err)
		}
		switch binary.LittleEndian.Uint32(hdr[:4]) {
		case sigLocal:
		case sigCentral, sigEnd:
			return 0, fmt.Errorf("%w: %q (members: %s)", ErrNoMember, member, strings.Join(seen, ", "))
		default:
			return 0, errors.New("artifact: zip: not a zip archive, or a member that could not be skipped")
		}
		if _, err := io.ReadFull(br, hdr[4:]); err != nil {
			return 0, fmt.Errorf("artifact: zip: reading a header: %w", err)
		}
		flags := binary.LittleEndian.Uint16(hdr[6:])
		method := binary.LittleEndian.Uint16(hdr[8:])
		crc := binary.LittleEndian.Uint32(hdr[14:])
		csize := uint64(binary.LittleEndian.Uint32(hdr[18:]))
		usize := uint64(binary.LittleEndian.Uint32(hdr[22:]))
		nameLen := int(binary.LittleEndian.Uint16(hdr[26:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		ne := make([]byte, nameLen+extraLen)
		if _, err := io.ReadFull(br, ne); err != nil {
			return 0, fmt.Errorf("artifact: zip: reading a header: %w", err)
		}
		name := string(ne[:nameLen])
		zip64 := false
		for extra := ne[nameLen:]; len(extra) >= 4; {
			tag, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
			if 4+n > len(extra) {
				break
			}
			if tag == 0x0001 {
				zip64 = true
				f := extra[4 : 4+n]
				if usize == max32 && len(f) >= 8 {
					usize, f = binary.LittleEndian.Uint64(f), f[8:]
				}
				if csize == max32 && len(f) >= 8 {
					csize = binary.LittleEndian.Uint64(f)
				}
			}
			extra = extra[4+n:]
		}
		seen = append(seen, name)
		if flags&flagEncrypted != 0 {
			return 0, fmt.Errorf("artifact: zip: member %q is encrypted", name)
		}
		descr := flags&flagDescr != 0
		if method != methodStore && method != methodDeflate {
			return 0, fmt.Errorf("artifact: zip: member %q: compression method %d is not supported", name, method)
		}
		if method == methodStore && descr && csize == 0 {
			return 0, fmt.Errorf("artifact: zip: member %q is stored without its size in the local header, so it cannot be read from a stream", name)
		}
		want := !strings.HasSuffix(name, "/") && (member == "" || name == member)

		var body io.Reader = br
		if method == methodStore {
			body = io.LimitReader(br, int64(csize))
		} else if !descr {
			body = io.LimitReader(br, int64(csize))
		}
		var dec io.ReadCloser = io.NopCloser(body)
		if method == methodDeflate {
			// On a bufio.Reader, flate reads no byte past the stream's end.
			if descr {
				dec = flate.NewReader(br)
			} else {
				dec = flate.NewReader(bufio.NewReader(body))
			}
		}
		dst := io.Discard
		if want {
			dst = w
		}
		sum := crc32.NewIEEE()
		n, err := io.Copy(io.MultiWriter(dst, sum), dec)
		dec.Close()
		if err != nil {
			if want {
				return n, fmt.Errorf("artifact: zip: member %q: %w", name, err)
			}
			return 0, fmt.Errorf("artifact: zip: skipping member %q: %w", name, err)
		}
		if !descr && method == methodDeflate {
			// Skip what the bounded deflate reader left unread.
			if _, err := io.Copy(io.Discard, body); err != nil {
				return 0, fmt.Errorf("artifact: zip: skipping member %q: %w", name, err)
			}
		}
		if descr {
			var d [24]byte
			if _, err := io.ReadFull(br, d[:4]); err != nil {
				return 0, fmt.Errorf("artifact: zip: member %q: data descriptor: %w", name, err)
			}
			if binary.LittleEndian.Uint32(d[:4]) == sigDescriptor {
				if _, err := io.ReadFull(br, d[:4]); err != nil {
					return 0, fmt.Errorf("artifact: zip: member %q: data descriptor: %w", name, err)
				}
			}
			crc = binary.LittleEndian.Uint32(d[:4])
			sizes := 8
			if zip64 || uint64(n) >= max32 {
				sizes = 16
			}
			if _, err := io.ReadFull(br, d[4:4+sizes]); err != nil {
				return 0, fmt.Errorf("artifact: zip: member %q: data descriptor: %w", name, err)
			}
		}
		if want {
			if sum.Sum32() != crc {
				return n, fmt.Errorf("artifact: zip: member %q: CRC-32 mismatch: the download is corrupt", name)
			}
			if !descr && usize != uint64(n) {
				return n, fmt.Errorf("artifact: zip: member %q: %d bytes, header says %d", name, n, usize)
			}
			return n, nil
		}
	}
}
