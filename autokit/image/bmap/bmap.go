package bmap

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// MaxFileSize is the largest block map file Parse reads. bmaptool writes
// about 100 bytes per range, so this allows over half a million ranges.
const MaxFileSize = 64 << 20

// maxFileSize is MaxFileSize, lowered by tests.
var maxFileSize int64 = MaxFileSize

// Checksum types a Map may carry.
const (
	SHA256 = "sha256"
	SHA1   = "sha1"
)

// Range is a run of mapped blocks.
type Range struct {
	// First and Last are block numbers, inclusive.
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	// SHA256 is the lowercase hex SHA-256 of the range's bytes (the last
	// block of the image counts only up to ImageSize), or "" when the map
	// carries no SHA-256 for it.
	SHA256 string `json:"sha256,omitempty"`
}

// Blocks is the number of blocks in the range.
func (r Range) Blocks() int64 { return r.Last - r.First + 1 }

// Map is a parsed block map. A Map returned by Parse satisfies every
// check Parse makes; one built by hand is not checked.
type Map struct {
	// Version is the format version, "major.minor", as in the file.
	Version string `json:"version"`
	// ImageSize is the size in bytes of the (decompressed) image.
	ImageSize int64 `json:"image_size"`
	// BlockSize is the size of a block in bytes.
	BlockSize int64 `json:"block_size"`
	// BlocksCount is the number of blocks in the image, the last one
	// possibly partial.
	BlocksCount int64 `json:"blocks_count"`
	// MappedBlocksCount is the number of blocks in Ranges.
	MappedBlocksCount int64 `json:"mapped_blocks_count"`
	// ChecksumType is SHA256, SHA1, or "" for formats before 1.3.
	ChecksumType string `json:"checksum_type,omitempty"`
	// BmapFileChecksum is the lowercase hex checksum of the file itself
	// (with this value replaced by zeros), already verified; "" when the
	// file has none.
	BmapFileChecksum string `json:"bmap_file_checksum,omitempty"`
	// Ranges are the mapped blocks, sorted and disjoint.
	Ranges []Range `json:"ranges"`
}

// MappedBytes is the number of bytes in the mapped blocks: what a flasher
// that follows the map writes. The last block of the image counts only up
// to ImageSize.
func (m *Map) MappedBytes() int64 {
	var n int64
	for _, r := range m.Ranges {
		start, end := r.First*m.BlockSize, (r.Last+1)*m.BlockSize
		end = min(end, m.ImageSize)
		if end > start {
			n += end - start
		}
	}
	return n
}

// Check reports whether m describes an image of imageSize bytes
// (decompressed). bmaptool demands the exact size: a shorter image would
// end inside a mapped range, a longer one has data the map does not
// cover. A negative imageSize means the size is not known yet, and passes.
func (m *Map) Check(imageSize int64) error {
	if imageSize < 0 || imageSize == m.ImageSize {
		return nil
	}
	return errorf(ErrSizeMismatch, "ImageSize", -1, 0, strconv.FormatInt(m.ImageSize, 10),
		"the map is for a %d-byte image, this image has %d bytes", m.ImageSize, imageSize)
}

// layout is what a format version calls its checksum parts.
type layout struct {
	rangeAttr string // the <Range> attribute holding a range's checksum
	fileElem  string // the element holding the file's checksum
	typeElem  bool   // whether <ChecksumType> names the type
	fixedType string // the type when typeElem is false
}

func layoutOf(major, minor int) layout {
	switch {
	case major == 2 || minor >= 4:
		return layout{rangeAttr: "chksum", fileElem: "BmapFileChecksum", typeElem: true}
	case minor == 3:
		return layout{rangeAttr: "sha1", fileElem: "BmapFileSHA1", fixedType: SHA1}
	default:
		return layout{}
	}
}

// field is a simple element's text and where it was.
type field struct {
	text  string // trimmed
	line  int
	start int64 // byte offset of the content in the file
	end   int64 // byte offset just past the content
}

// rawRange is a <Range> as read, before the checksum type is known.
type rawRange struct {
	Range
	sum  string // the checksum attribute, trimmed
	line int
	text string
}

// parser walks a block map's XML tokens.
type parser struct {
	data   []byte
	dec    *xml.Decoder
	lay    layout
	fields map[string]*field
	ranges []rawRange
	hasMap bool
}

// simple elements of <bmap> with text content; the checksum elements are
// added per version.
var simpleElems = []string{"ImageSize", "BlockSize", "BlocksCount", "MappedBlocksCount"}

// Parse reads and checks a block map. See the package documentation for
// what it checks; every failure is an *Error.
func Parse(r io.Reader) (*Map, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, &Error{Index: -1, Reason: "reading the block map", Err: ErrInvalid, Cause: err}
	}
	if int64(len(data)) > maxFileSize {
		return nil, errorf(ErrInvalid, "", -1, 0, "", "the file is larger than %d bytes", maxFileSize)
	}
	p := &parser{data: data, dec: xml.NewDecoder(bytes.NewReader(data)), fields: map[string]*field{}}
	m, err := p.document()
	if err != nil {
		return nil, err
	}
	return m, nil
}

// line is the decoder's current line.
func (p *parser) line() int {
	l, _ := p.dec.InputPos()
	return l
}

// token returns the next token, turning decoder failures into *Error.
func (p *parser) token() (xml.Token, error) {
	tok, err := p.dec.Token()
	if err == io.EOF {
		return nil, err
	}
	if err != nil {
		line := 0
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			line = se.Line
		}
		return nil, &Error{Index: -1, Line: line, Reason: "not well-formed XML", Err: ErrInvalid, Cause: err}
	}
	return tok, nil
}

// skip skips the rest of the element just started, as a *Error on failure.
func (p *parser) skip() error {
	if err := p.dec.Skip(); err != nil {
		return &Error{Index: -1, Line: p.line(), Reason: "not well-formed XML", Err: ErrInvalid, Cause: err}
	}
	return nil
}

// document reads the whole file.
func (p *parser) document() (*Map, error) {
	var m *Map
	for {
		tok, err := p.token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if m != nil {
				return nil, errorf(ErrInvalid, t.Name.Local, -1, p.line(), "", "a second root element after </bmap>")
			}
			if m, err = p.root(t); err != nil {
				return nil, err
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				return nil, errorf(ErrInvalid, "", -1, p.line(), s, "text outside the <bmap> element")
			}
		}
	}
	if m == nil {
		return nil, errorf(ErrInvalid, "bmap", -1, 0, "", "no <bmap> root element: not a block map")
	}
	if err := p.finish(m); err != nil {
		return nil, err
	}
	return m, nil
}

// root reads the <bmap> element started by t.
func (p *parser) root(t xml.StartElement) (*Map, error) {
	line := p.line()
	if t.Name.Local != "bmap" || t.Name.Space != "" {
		return nil, errorf(ErrInvalid, t.Name.Local, -1, line, "", "the root element is not <bmap>: not a block map")
	}
	m := &Map{}
	found := false
	for _, a := range t.Attr {
		if a.Name.Local == "version" && a.Name.Space == "" {
			m.Version, found = strings.TrimSpace(a.Value), true
		}
	}
	if !found {
		return nil, errorf(ErrInvalid, "bmap", -1, line, "", "no version attribute")
	}
	major, minor, ok := parseVersion(m.Version)
	if !ok {
		return nil, errorf(ErrInvalid, "bmap", -1, line, m.Version, "the version is not \"major.minor\"")
	}
	if major != 1 && major != 2 {
		return nil, errorf(ErrUnsupported, "bmap", -1, line, m.Version, "format version %d.x is not supported (only 1.x and 2.x)", major)
	}
	p.lay = layoutOf(major, minor)
	known := map[string]bool{}
	for _, n := range simpleElems {
		known[n] = true
	}
	if p.lay.typeElem {
		known["ChecksumType"] = true
	}
	if p.lay.fileElem != "" {
		known[p.lay.fileElem] = true
	}
	for {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			switch {
			case t.Name.Space != "":
				if err := p.skip(); err != nil {
					return nil, err
				}
			case name == "BlockMap":
				if p.hasMap {
					return nil, errorf(ErrInvalid, name, -1, p.line(), "", "a second <BlockMap>")
				}
				p.hasMap = true
				if err := p.blockMap(); err != nil {
					return nil, err
				}
			case known[name]:
				if prev, ok := p.fields[name]; ok {
					return nil, errorf(ErrInvalid, name, -1, p.line(), "", "a second <%s> (the first is on line %d)", name, prev.line)
				}
				f, err := p.text(name)
				if err != nil {
					return nil, err
				}
				p.fields[name] = f
			default:
				if err := p.skip(); err != nil {
					return nil, err
				}
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				return nil, errorf(ErrInvalid, "bmap", -1, p.line(), s, "stray text inside <bmap>")
			}
		case xml.EndElement:
			return m, nil
		}
	}
}

// text reads the content of a simple element just started.
func (p *parser) text(name string) (*field, error) {
	f := &field{line: p.line(), start: p.dec.InputOffset()}
	var b strings.Builder
	for {
		before := p.dec.InputOffset()
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			return nil, errorf(ErrInvalid, name, -1, p.line(), "", "unexpected element <%s> inside <%s>", t.Name.Local, name)
		case xml.EndElement:
			f.end = before
			f.text = strings.TrimSpace(b.String())
			return f, nil
		}
	}
}

// blockMap reads the ranges of the <BlockMap> just started.
func (p *parser) blockMap() error {
	for {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "Range" || t.Name.Space != "" {
				if err := p.skip(); err != nil {
					return err
				}
				continue
			}
			var rr rawRange
			for _, a := range t.Attr {
				if p.lay.rangeAttr != "" && a.Name.Local == p.lay.rangeAttr && a.Name.Space == "" {
					rr.sum = strings.TrimSpace(a.Value)
				}
			}
			f, err := p.text("Range")
			if err != nil {
				return err
			}
			rr.line, rr.text = f.line, f.text
			first, last, reason := parseRange(f.text)
			if reason != "" {
				return errorf(ErrInvalid, "Range", len(p.ranges), rr.line, f.text, "%s", reason)
			}
			rr.First, rr.Last = first, last
			p.ranges = append(p.ranges, rr)
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				return errorf(ErrInvalid, "BlockMap", -1, p.line(), s, "stray text inside <BlockMap>")
			}
		case xml.EndElement:
			return nil
		}
	}
}

// finish checks what was read and fills m.
func (p *parser) finish(m *Map) error {
	nums := []struct {
		name string
		dst  *int64
	}{
		{"ImageSize", &m.ImageSize},
		{"BlockSize", &m.BlockSize},
		{"BlocksCount", &m.BlocksCount},
		{"MappedBlocksCount", &m.MappedBlocksCount},
	}
	for _, n := range nums {
		f, ok := p.fields[n.name]
		if !ok {
			return errorf(ErrInvalid, n.name, -1, 0, "", "missing")
		}
		v, reason := parseCount(f.text)
		if reason != "" {
			return errorf(ErrInvalid, n.name, -1, f.line, f.text, "%s", reason)
		}
		*n.dst = v
	}
	if !p.hasMap {
		return errorf(ErrInvalid, "BlockMap", -1, 0, "", "missing")
	}

	// The checksum type, then the file's own checksum: a damaged file is
	// best reported as such before anything else.
	m.ChecksumType = p.lay.fixedType
	if p.lay.typeElem {
		f, ok := p.fields["ChecksumType"]
		if !ok {
			return errorf(ErrInvalid, "ChecksumType", -1, 0, "", "missing (required from format 1.4 on)")
		}
		switch t := strings.ToLower(f.text); t {
		case SHA256, SHA1:
			m.ChecksumType = t
		default:
			return errorf(ErrUnsupported, "ChecksumType", -1, f.line, f.text, "checksum type not supported (only sha256 and sha1)")
		}
	}
	if err := p.fileChecksum(m); err != nil {
		return err
	}

	bs := m.BlockSize
	if bs < 512 || bs&(bs-1) != 0 {
		f := p.fields["BlockSize"]
		return errorf(ErrInvalid, "BlockSize", -1, f.line, f.text, "the block size must be a power of two of at least 512")
	}
	want := m.ImageSize / bs
	if m.ImageSize%bs != 0 {
		want++
	}
	if m.BlocksCount != want {
		f := p.fields["BlocksCount"]
		return errorf(ErrInvalid, "BlocksCount", -1, f.line, f.text,
			"%d bytes in %d-byte blocks make %d blocks", m.ImageSize, bs, want)
	}
	if m.BlocksCount > math.MaxInt64/bs {
		f := p.fields["ImageSize"]
		return errorf(ErrInvalid, "ImageSize", -1, f.line, f.text, "too large: the last block would end past 2^63 bytes")
	}

	var sumLen int
	switch m.ChecksumType {
	case SHA256:
		sumLen = sha256.Size * 2
	case SHA1:
		sumLen = sha1.Size * 2
	}
	m.Ranges = make([]Range, 0, len(p.ranges))
	var mapped int64
	for i, rr := range p.ranges {
		if rr.Last >= m.BlocksCount {
			return errorf(ErrInvalid, "Range", i, rr.line, rr.text, "block %d is past the last block of the image (%d)", rr.Last, m.BlocksCount-1)
		}
		if i > 0 && rr.First <= p.ranges[i-1].Last {
			prev := p.ranges[i-1]
			return errorf(ErrInvalid, "Range", i, rr.line, rr.text,
				"ranges must be sorted and disjoint, and this one starts at or before the end of range %d (%s, line %d)", i-1, prev.text, prev.line)
		}
		r := rr.Range
		if rr.sum != "" {
			if !isHex(rr.sum, sumLen) {
				return errorf(ErrInvalid, "Range", i, rr.line, rr.sum, "the %s attribute is not a %d-digit hex %s checksum", p.lay.rangeAttr, sumLen, m.ChecksumType)
			}
			if m.ChecksumType == SHA256 {
				r.SHA256 = strings.ToLower(rr.sum)
			}
		}
		mapped += r.Blocks()
		m.Ranges = append(m.Ranges, r)
	}
	if m.MappedBlocksCount != mapped {
		f := p.fields["MappedBlocksCount"]
		return errorf(ErrInvalid, "MappedBlocksCount", -1, f.line, f.text, "the ranges hold %d blocks", mapped)
	}
	return nil
}

// fileChecksum verifies the file's own checksum, when it has one: the
// checksum of the file with the value replaced by as many '0' characters.
func (p *parser) fileChecksum(m *Map) error {
	name := p.lay.fileElem
	f, ok := p.fields[name]
	if name == "" || !ok {
		return nil
	}
	var h hash.Hash
	switch m.ChecksumType {
	case SHA256:
		h = sha256.New()
	case SHA1:
		h = sha1.New()
	}
	if !isHex(f.text, h.Size()*2) {
		return errorf(ErrInvalid, name, -1, f.line, f.text, "not a %d-digit hex %s checksum", h.Size()*2, m.ChecksumType)
	}
	// The value must be the element's only content, bar spaces, so that
	// zeroing it in the raw bytes gives the file bmaptool hashed.
	raw := p.data[f.start:f.end]
	lead := len(raw) - len(bytes.TrimLeftFunc(raw, unicode.IsSpace))
	if string(bytes.TrimSpace(raw)) != f.text {
		return errorf(ErrInvalid, name, -1, f.line, f.text, "the checksum must be plain text, without comments or entities")
	}
	at := int(f.start) + lead
	h.Write(p.data[:at])
	h.Write(bytes.Repeat([]byte{'0'}, len(f.text)))
	h.Write(p.data[at+len(f.text):])
	got := hex.EncodeToString(h.Sum(nil))
	want := strings.ToLower(f.text)
	if got != want {
		return errorf(ErrChecksum, name, -1, f.line, f.text, "the file's %s is %s: the file is damaged or was edited", m.ChecksumType, got)
	}
	m.BmapFileChecksum = want
	return nil
}

// parseVersion splits "major.minor", both decimal.
func parseVersion(s string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found || !isDigits(a) || !isDigits(b) || len(a) > 6 || len(b) > 6 {
		return 0, 0, false
	}
	major, _ = strconv.Atoi(a)
	minor, _ = strconv.Atoi(b)
	return major, minor, true
}

// parseRange parses "a" or "a-b" (spaces allowed around each number). It
// returns a reason when s is not a range.
func parseRange(s string) (first, last int64, reason string) {
	a, b, isRange := strings.Cut(s, "-")
	first, reason = parseCount(strings.TrimSpace(a))
	if reason != "" {
		return 0, 0, "first block: " + reason
	}
	if !isRange {
		return first, first, ""
	}
	last, reason = parseCount(strings.TrimSpace(b))
	if reason != "" {
		return 0, 0, "last block: " + reason
	}
	if first > last {
		return 0, 0, fmt.Sprintf("the first block %d is after the last block %d", first, last)
	}
	return first, last, ""
}

// parseCount parses a non-negative decimal number. It returns a reason
// when s is not one.
func parseCount(s string) (int64, string) {
	if s == "" {
		return 0, "empty, want a number"
	}
	if !isDigits(s) {
		return 0, "not a non-negative decimal number"
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, "out of range"
	}
	return v, ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isHex reports whether s is n hex digits, either case.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
