package zipstream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"
)

// Errors wrapped by the errors of Reader and One.
var (
	// ErrNotZip: the stream does not start with a zip local header, or a
	// header is not where the previous member's end says.
	ErrNotZip = errors.New("zipstream: not a zip archive, or a member ended where no header follows")
	// ErrEncrypted: a member is encrypted.
	ErrEncrypted = errors.New("zipstream: encrypted member")
	// ErrMethod: a member's compression method is neither store nor deflate.
	ErrMethod = errors.New("zipstream: unsupported compression method")
	// ErrNotStreamable: a stored member without its size in the local header.
	ErrNotStreamable = errors.New("zipstream: stored member without its size in the local header cannot be read from a stream")
	// ErrChecksum: a member's bytes do not match its CRC-32 or size.
	ErrChecksum = errors.New("zipstream: CRC-32 mismatch")
	// ErrTruncated: the archive ends inside a header or a member.
	ErrTruncated = errors.New("zipstream: truncated archive")
	// ErrNoFile: One found no file in the archive.
	ErrNoFile = errors.New("zipstream: the archive holds no file")
)

// SeveralError is One's error for an archive of more than one file.
type SeveralError struct {
	// Names are the files found, in archive order (at most maxNames).
	Names []string
	// More is true when the listing stopped before the archive's end.
	More bool
}

// Error implements error.
func (e *SeveralError) Error() string {
	q := make([]string, len(e.Names))
	for i, n := range e.Names {
		q[i] = fmt.Sprintf("%q", n)
	}
	more := ""
	if e.More {
		more = ", and maybe more"
	}
	return fmt.Sprintf("zipstream: the archive holds several files (%s%s), not one", strings.Join(q, ", "), more)
}

const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEnd        = 0x06054b50
	sigEnd64      = 0x06064b50
	sigDescriptor = 0x08074b50
	flagEncrypted = 0x1
	flagDescr     = 0x8
	methodStore   = 0
	methodDeflate = 8
	max32         = 0xffffffff
	maxNames      = 32
)

// Entry is a member's local header.
type Entry struct {
	// Name is the member's path in the archive; directories end in "/".
	Name string
	// Method is the compression method: 0 (store) or 8 (deflate).
	Method uint16
	// Size is the decompressed size, or -1 when the local header does not
	// say (a data descriptor follows the data).
	Size int64
	// CompressedSize is the size of the member's data in the archive, or
	// -1 when the local header does not say.
	CompressedSize int64
}

// IsDir reports whether the member is a directory.
func (e *Entry) IsDir() bool { return strings.HasSuffix(e.Name, "/") }

// Reader reads a zip archive front to back. It is not safe for concurrent
// use.
type Reader struct {
	br  *bufio.Reader
	cur *member
	err error // sticky: the archive cannot be read further
	end bool  // the members' end was reached
}

// member is the member being read.
type member struct {
	e     Entry
	crc   uint32 // from the local header; from the descriptor when descr
	descr bool
	zip64 bool
	body  io.Reader // the compressed bytes (bounded when their size is known)
	dec   io.Reader // the decompressed bytes
	flate io.ReadCloser
	sum   hash.Hash32
	n     int64 // decompressed bytes read
	done  bool  // checked and finished: Read returns io.EOF
}

// NewReader returns a Reader of the zip archive in r. It buffers r.
func NewReader(r io.Reader) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 64<<10 {
		br = bufio.NewReaderSize(r, 1<<20)
	}
	return &Reader{br: br}
}

// Next skips what is left of the current member and returns the next
// member's header; Read then reads its bytes. It returns io.EOF after the
// last member (at the central directory or the end record).
func (z *Reader) Next() (*Entry, error) {
	if z.err != nil {
		return nil, z.err
	}
	if z.end {
		return nil, io.EOF
	}
	if m := z.cur; m != nil && !m.done {
		if err := z.skip(m); err != nil {
			return nil, z.fail(err)
		}
	}
	z.cur = nil
	var hdr [30]byte
	if _, err := io.ReadFull(z.br, hdr[:4]); err != nil {
		if err == io.EOF {
			return nil, z.fail(fmt.Errorf("%w: no end record", ErrTruncated))
		}
		return nil, z.fail(readErr("a header", err))
	}
	switch binary.LittleEndian.Uint32(hdr[:4]) {
	case sigLocal:
	case sigCentral, sigEnd, sigEnd64:
		z.end = true
		return nil, io.EOF
	default:
		return nil, z.fail(ErrNotZip)
	}
	m, err := z.readLocal(&hdr)
	if err != nil {
		return nil, z.fail(err)
	}
	if err := z.open(m); err != nil {
		return nil, z.fail(err)
	}
	z.cur = m
	e := m.e
	return &e, nil
}

// readLocal reads the rest of a local header whose signature is in hdr
// (its first 4 bytes), with the member's name and extra field, and
// returns the member it describes, not yet open for reading.
func (z *Reader) readLocal(hdr *[30]byte) (*member, error) {
	if _, err := io.ReadFull(z.br, hdr[4:]); err != nil {
		return nil, readErr("a header", err)
	}
	flags := binary.LittleEndian.Uint16(hdr[6:])
	m := &member{
		crc:   binary.LittleEndian.Uint32(hdr[14:]),
		descr: flags&flagDescr != 0,
		sum:   crc32.NewIEEE(),
	}
	m.e.Method = binary.LittleEndian.Uint16(hdr[8:])
	csize := uint64(binary.LittleEndian.Uint32(hdr[18:]))
	usize := uint64(binary.LittleEndian.Uint32(hdr[22:]))
	nameLen := int(binary.LittleEndian.Uint16(hdr[26:]))
	extraLen := int(binary.LittleEndian.Uint16(hdr[28:]))
	ne := make([]byte, nameLen+extraLen)
	if _, err := io.ReadFull(z.br, ne); err != nil {
		return nil, readErr("a header", err)
	}
	m.e.Name = string(ne[:nameLen])
	usize, csize, m.zip64 = zip64Sizes(ne[nameLen:], usize, csize)
	if csize > 1<<62 || usize > 1<<62 {
		return nil, fmt.Errorf("%w: member %q: impossible size in its header", ErrNotZip, m.e.Name)
	}
	m.e.Size, m.e.CompressedSize = int64(usize), int64(csize)
	if m.descr {
		// The header's sizes are zero (or placeholders): the descriptor
		// after the data holds them.
		m.e.Size, m.e.CompressedSize = -1, -1
		if csize != 0 {
			m.e.CompressedSize = int64(csize)
		}
	}
	if flags&flagEncrypted != 0 {
		return nil, fmt.Errorf("%w: %q", ErrEncrypted, m.e.Name)
	}
	return m, nil
}

// zip64Sizes returns the sizes a local header's extra field gives in
// place of the 32-bit ones that are max32 (usize, the decompressed size,
// first), and whether it holds zip64 extended information at all.
func zip64Sizes(extra []byte, usize, csize uint64) (uint64, uint64, bool) {
	zip64 := false
	for len(extra) >= 4 {
		tag, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			break
		}
		if tag == 0x0001 { // zip64 extended information
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
	return usize, csize, zip64
}

// open sets up the reading of m's data, which follows its header: the
// compressed bytes (bounded when their size is known) and their
// decompression.
func (z *Reader) open(m *member) error {
	switch m.e.Method {
	case methodStore:
		if m.e.CompressedSize < 0 {
			return fmt.Errorf("%w: %q", ErrNotStreamable, m.e.Name)
		}
		m.body = io.LimitReader(z.br, m.e.CompressedSize)
		m.dec = m.body
	case methodDeflate:
		if m.e.CompressedSize >= 0 {
			m.body = io.LimitReader(z.br, m.e.CompressedSize)
			m.flate = flate.NewReader(bufio.NewReaderSize(m.body, 64<<10))
		} else {
			// On a bufio.Reader, flate reads no byte past the deflate
			// stream's end: the descriptor is left in place.
			m.body = z.br
			m.flate = flate.NewReader(z.br)
		}
		m.dec = m.flate
	default:
		return fmt.Errorf("%w: member %q uses method %d", ErrMethod, m.e.Name, m.e.Method)
	}
	return nil
}

// Read reads the current member's decompressed bytes. At the member's
// end it checks the CRC-32 and the size and returns io.EOF only when they
// match.
func (z *Reader) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	m := z.cur
	if m == nil {
		return 0, errors.New("zipstream: Read before Next")
	}
	if m.done {
		return 0, io.EOF
	}
	n, err := m.dec.Read(p)
	if n > 0 {
		m.sum.Write(p[:n])
		m.n += int64(n)
		if m.e.Size >= 0 && m.n > m.e.Size {
			return n, z.fail(fmt.Errorf("%w: member %q holds more than the %d bytes its header says", ErrChecksum, m.e.Name, m.e.Size))
		}
	}
	switch {
	case err == io.EOF:
		if ferr := z.finish(m); ferr != nil {
			return n, z.fail(ferr)
		}
		return n, io.EOF
	case err != nil:
		return n, z.fail(fmt.Errorf("zipstream: member %q after %d bytes: %w", m.e.Name, m.n, truncated(err)))
	}
	return n, nil
}

// finish checks the member m whose data ended, reading its descriptor.
func (z *Reader) finish(m *member) error {
	m.done = true
	if m.flate != nil {
		m.flate.Close()
		if m.e.CompressedSize >= 0 {
			// What the deflate stream did not use, up to the next header.
			if _, err := io.Copy(io.Discard, m.body); err != nil {
				return fmt.Errorf("zipstream: member %q: %w", m.e.Name, truncated(err))
			}
		}
	}
	if m.e.Method == methodStore && m.n < m.e.CompressedSize {
		return fmt.Errorf("zipstream: member %q ends after %d of %d bytes: %w", m.e.Name, m.n, m.e.CompressedSize, ErrTruncated)
	}
	size := m.e.Size
	if m.descr {
		var d [24]byte
		if _, err := io.ReadFull(z.br, d[:4]); err != nil {
			return fmt.Errorf("zipstream: member %q: data descriptor: %w", m.e.Name, truncated(err))
		}
		if binary.LittleEndian.Uint32(d[:4]) == sigDescriptor {
			if _, err := io.ReadFull(z.br, d[:4]); err != nil {
				return fmt.Errorf("zipstream: member %q: data descriptor: %w", m.e.Name, truncated(err))
			}
		}
		m.crc = binary.LittleEndian.Uint32(d[:4])
		sizes := 8
		if m.zip64 || m.n >= max32 {
			sizes = 16
		}
		if _, err := io.ReadFull(z.br, d[4:4+sizes]); err != nil {
			return fmt.Errorf("zipstream: member %q: data descriptor: %w", m.e.Name, truncated(err))
		}
		if sizes == 16 {
			size = int64(binary.LittleEndian.Uint64(d[12:]))
		} else {
			size = int64(binary.LittleEndian.Uint32(d[8:]))
		}
	}
	if got := m.sum.Sum32(); got != m.crc {
		return fmt.Errorf("%w: member %q: header says %08x, the data has %08x: the archive is corrupt", ErrChecksum, m.e.Name, m.crc, got)
	}
	if size >= 0 && size != m.n {
		return fmt.Errorf("%w: member %q: %d bytes, its header says %d", ErrChecksum, m.e.Name, m.n, size)
	}
	return nil
}

// skip moves past the rest of m: its compressed bytes when their size is
// known, else by decompressing them (which checks them).
func (z *Reader) skip(m *member) error {
	if m.e.CompressedSize >= 0 && !m.descr {
		if _, err := io.Copy(io.Discard, m.body); err != nil {
			return fmt.Errorf("zipstream: skipping member %q: %w", m.e.Name, truncated(err))
		}
		if m.flate != nil {
			m.flate.Close()
		}
		m.done = true
		return nil
	}
	if _, err := io.Copy(io.Discard, z); err != nil {
		return err
	}
	return nil
}

// fail makes err sticky.
func (z *Reader) fail(err error) error {
	z.err = err
	return err
}

func readErr(what string, err error) error {
	return fmt.Errorf("zipstream: reading %s: %w", what, truncated(err))
}

// truncated turns an early end into ErrTruncated, keeping other errors.
func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return fmt.Errorf("%w (%w)", ErrTruncated, io.ErrUnexpectedEOF)
	}
	return err
}

// One returns the name and a reader of the only file in the archive r
// (directories are skipped). It fails when the archive starts with
// anything but files and directories it can read. The returned reader
// fails in place of io.EOF when the file is corrupt (CRC-32, size) or
// when another file follows it: then with a *SeveralError that names the
// files. Detecting a second file needs the first one read through: see
// the package's limits.
func One(r io.Reader) (string, io.Reader, error) {
	z := NewReader(r)
	for {
		e, err := z.Next()
		if err == io.EOF {
			return "", nil, ErrNoFile
		}
		if err != nil {
			return "", nil, err
		}
		if !e.IsDir() {
			return e.Name, &oneReader{z: z, name: e.Name}, nil
		}
	}
}

// oneReader reads One's file, then makes sure no other file follows.
type oneReader struct {
	z    *Reader
	name string
	err  error
}

func (o *oneReader) Read(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.z.Read(p)
	if err == io.EOF {
		err = o.rest()
	}
	if err != nil {
		o.err = err
	}
	return n, err
}

// rest walks the members after the file; io.EOF when there are only
// directories.
func (o *oneReader) rest() error {
	var several *SeveralError
	for {
		e, err := o.z.Next()
		if err == io.EOF {
			if several != nil {
				return several
			}
			return io.EOF
		}
		if err != nil {
			if several != nil {
				// The listing stops here; the archive is refused anyway.
				several.More = true
				return several
			}
			return err
		}
		if e.IsDir() {
			continue
		}
		if several == nil {
			several = &SeveralError{Names: []string{o.name}}
		}
		if len(several.Names) == maxNames {
			several.More = true
			return several
		}
		several.Names = append(several.Names, e.Name)
	}
}
