package bmap

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden parses the samples in testdata/ (real bmaptool output for
// 2.0, hand-written for the 1.x layouts) and compares the result with the
// .golden JSON next to each.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bmap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			m := parseFile(t, file)
			got, err := json.MarshalIndent(m, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(file, ".bmap") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("parsed %s differs from %s:\ngot:\n%s\nwant:\n%s", file, golden, got, want)
			}
			if err := invariants(m); err != nil {
				t.Error(err)
			}
		})
	}
}

func parseFile(t *testing.T, name string) *Map {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return m
}

// TestRangeChecksumsMatchImage checks the meaning of Range.SHA256 and
// MappedBytes against the image bmaptool made the 2.0 sample from.
func TestRangeChecksumsMatchImage(t *testing.T) {
	f, err := os.Open("testdata/v2.0-sha256.img.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	img, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"testdata/v2.0-sha256.bmap", "testdata/v1.3-sha1.bmap", "testdata/v1.2-nochecksum.bmap"} {
		m := parseFile(t, name)
		if err := m.Check(int64(len(img))); err != nil {
			t.Errorf("%s: Check(%d): %v", name, len(img), err)
		}
		var mapped int64
		for i, r := range m.Ranges {
			start, end := r.First*m.BlockSize, min((r.Last+1)*m.BlockSize, m.ImageSize)
			mapped += end - start
			if r.SHA256 == "" {
				continue
			}
			sum := sha256.Sum256(img[start:end])
			if got := hex.EncodeToString(sum[:]); got != r.SHA256 {
				t.Errorf("%s: range %d (%d-%d): image sha256 %s, map says %s", name, i, r.First, r.Last, got, r.SHA256)
			}
		}
		if got := m.MappedBytes(); got != mapped || got != 25576 {
			t.Errorf("%s: MappedBytes() = %d, want %d (and 25576)", name, got, mapped)
		}
		// Everything outside the ranges is zero, or the map would lose data.
		covered := make([]bool, len(img))
		for _, r := range m.Ranges {
			for i := r.First * m.BlockSize; i < min((r.Last+1)*m.BlockSize, m.ImageSize); i++ {
				covered[i] = true
			}
		}
		for i, b := range img {
			if b != 0 && !covered[i] {
				t.Fatalf("%s: byte %d is %#x but not mapped", name, i, b)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	m := &Map{ImageSize: 1000, BlockSize: 512, BlocksCount: 2}
	tests := []struct {
		size int64
		ok   bool
	}{
		{-1, true},
		{1000, true},
		{999, false},
		{1001, false},
		{0, false},
	}
	for _, tt := range tests {
		err := m.Check(tt.size)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%d) = %v, want ok=%v", tt.size, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrSizeMismatch) {
			t.Errorf("Check(%d) = %v, not ErrSizeMismatch", tt.size, err)
		}
	}
}

func TestMappedBytes(t *testing.T) {
	tests := []struct {
		name string
		m    Map
		want int64
	}{
		{"none", Map{ImageSize: 4096, BlockSize: 4096, BlocksCount: 1}, 0},
		{"whole blocks", Map{ImageSize: 8192, BlockSize: 4096, BlocksCount: 2, Ranges: []Range{{First: 0, Last: 1}}}, 8192},
		{"partial last block", Map{ImageSize: 4097, BlockSize: 4096, BlocksCount: 2, Ranges: []Range{{First: 1, Last: 1}}}, 1},
		{"two ranges", Map{ImageSize: 5 * 512, BlockSize: 512, BlocksCount: 5, Ranges: []Range{{First: 0, Last: 0}, {First: 2, Last: 4}}}, 4 * 512},
	}
	for _, tt := range tests {
		if got := tt.m.MappedBytes(); got != tt.want {
			t.Errorf("%s: MappedBytes() = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// base is a small valid 2.0 map; tests edit it and sign it again.
const base = `<?xml version="1.0" ?>
<bmap version="2.0">
    <ImageSize> 10000 </ImageSize>
    <BlockSize> 4096 </BlockSize>
    <BlocksCount> 3 </BlocksCount>
    <MappedBlocksCount> 2 </MappedBlocksCount>
    <ChecksumType> sha256 </ChecksumType>
    <BmapFileChecksum> 0000000000000000000000000000000000000000000000000000000000000000 </BmapFileChecksum>
    <BlockMap>
        <Range chksum="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"> 0 </Range>
        <Range> 2 </Range>
    </BlockMap>
</bmap>
`

var sumRE = regexp.MustCompile(`(<BmapFileChecksum>\s*)([0-9a-fA-F]+)(\s*</BmapFileChecksum>)`)

// sign puts the right file checksum into doc, as bmaptool does: hash the
// file with the value zeroed, then write the value in. A 40-digit value
// is taken for SHA-1, anything else for SHA-256.
func sign(doc string) string {
	loc := sumRE.FindStringSubmatchIndex(doc)
	if loc == nil {
		return doc
	}
	vs, ve := loc[4], loc[5]
	zeroed := []byte(doc[:vs] + strings.Repeat("0", ve-vs) + doc[ve:])
	var sum []byte
	if ve-vs == 40 {
		s := sha1.Sum(zeroed)
		sum = s[:]
	} else {
		s := sha256.Sum256(zeroed)
		sum = s[:]
	}
	return doc[:vs] + hex.EncodeToString(sum) + doc[ve:]
}

// edit applies old→new replacements to base, in pairs.
func edit(pairs ...string) string {
	doc := base
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			panic("test bug: " + pairs[i] + " is not in the base document")
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return doc
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(*Map) string
	}{
		{"base", sign(base), func(m *Map) string {
			if m.ChecksumType != SHA256 || len(m.Ranges) != 2 || m.Ranges[1].SHA256 != "" || m.MappedBytes() != 4096+(10000-8192) {
				return "wrong map"
			}
			return ""
		}},
		{"no file checksum", edit(`    <BmapFileChecksum> 0000000000000000000000000000000000000000000000000000000000000000 </BmapFileChecksum>
`, ""), func(m *Map) string {
			if m.BmapFileChecksum != "" {
				return "BmapFileChecksum set"
			}
			return ""
		}},
		{"uppercase hex is lowered", sign(edit(`chksum="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`,
			`chksum="9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"`)), func(m *Map) string {
			if m.Ranges[0].SHA256 != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
				return "not lowered: " + m.Ranges[0].SHA256
			}
			return ""
		}},
		{"spaced range", sign(edit("<Range> 2 </Range>", "<Range>1 - 2</Range>", "<MappedBlocksCount> 2 ", "<MappedBlocksCount> 3 ")), func(m *Map) string {
			if m.Ranges[1] != (Range{First: 1, Last: 2}) {
				return "wrong range"
			}
			return ""
		}},
		{"version 1.4 is 2.0", sign(edit(`version="2.0"`, `version="1.4"`)), nil},
		{"version 2.1", sign(edit(`version="2.0"`, `version="2.1"`)), nil},
		{"sha1 type", sign(edit("<ChecksumType> sha256 ", "<ChecksumType> sha1 ",
			`chksum="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`, `chksum="a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"`,
			"0000000000000000000000000000000000000000000000000000000000000000", "0000000000000000000000000000000000000000")), func(m *Map) string {
			if m.ChecksumType != SHA1 || m.Ranges[0].SHA256 != "" || len(m.BmapFileChecksum) != 40 {
				return "wrong sha1 map"
			}
			return ""
		}},
		{"unknown elements skipped", sign(edit("<BlockMap>", "<Future a=\"1\"><x/>text</Future><BlockMap><Other/>")), nil},
		{"CRLF line ends", sign(strings.ReplaceAll(base, "\n", "\r\n")), nil},
		{"empty image", sign(edit("<ImageSize> 10000 ", "<ImageSize> 0 ", "<BlocksCount> 3 ", "<BlocksCount> 0 ",
			"<MappedBlocksCount> 2 ", "<MappedBlocksCount> 0 ",
			`<Range chksum="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"> 0 </Range>`, "", "<Range> 2 </Range>", "")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, tt.doc)
			}
			if err := invariants(m); err != nil {
				t.Error(err)
			}
			if tt.check != nil {
				if msg := tt.check(m); msg != "" {
					t.Errorf("%s: %+v", msg, m)
				}
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	long := strings.Repeat("9", 25)
	tests := []struct {
		name    string
		doc     string
		class   error
		element string
		index   int    // -1: not a range
		line    int    // 0: do not check
		want    string // in the message
	}{
		{"empty", "", ErrInvalid, "bmap", -1, 0, "no <bmap> root"},
		{"not xml", "hello", ErrInvalid, "", -1, 1, `"hello": text outside`},
		{"truncated", sign(base)[:300], ErrInvalid, "", -1, 0, "not well-formed XML"},
		{"mismatched tags", edit("</BlockSize>", "</BlockSizes>"), ErrInvalid, "", -1, 4, "not well-formed XML"},
		{"wrong root", edit("<bmap ", "<bmapx ", "</bmap>", "</bmapx>"), ErrInvalid, "bmapx", -1, 2, "not <bmap>"},
		{"second root", sign(base) + "<bmap/>", ErrInvalid, "bmap", -1, 0, "second root"},
		{"no version", edit(` version="2.0"`, ""), ErrInvalid, "bmap", -1, 2, "no version"},
		{"version without minor", edit(`version="2.0"`, `version="2"`), ErrInvalid, "bmap", -1, 2, `"2": the version is not`},
		{"version words", edit(`version="2.0"`, `version="two.0"`), ErrInvalid, "bmap", -1, 2, `"two.0"`},
		{"version 3", edit(`version="2.0"`, `version="3.0"`), ErrUnsupported, "bmap", -1, 2, "3.x is not supported"},
		{"version 0", edit(`version="2.0"`, `version="0.9"`), ErrUnsupported, "bmap", -1, 2, "0.x is not supported"},
		{"missing ImageSize", sign(edit("    <ImageSize> 10000 </ImageSize>\n", "")), ErrInvalid, "ImageSize", -1, 0, "missing"},
		{"missing BlockMap", sign(edit("<BlockMap>", "<BlockMapX>", "</BlockMap>", "</BlockMapX>")), ErrInvalid, "BlockMap", -1, 0, "missing"},
		{"missing ChecksumType", sign(edit("<ChecksumType> sha256 </ChecksumType>", "")), ErrInvalid, "ChecksumType", -1, 0, "missing"},
		{"duplicate BlockSize", sign(edit("<BlocksCount>", "<BlockSize>1</BlockSize><BlocksCount>")), ErrInvalid, "BlockSize", -1, 5, "second <BlockSize> (the first is on line 4)"},
		{"duplicate BlockMap", sign(edit("</bmap>", "<BlockMap/></bmap>")), ErrInvalid, "BlockMap", -1, 0, "second <BlockMap>"},
		{"element in number", sign(edit("<ImageSize> 10000 ", "<ImageSize> <b>1</b> ")), ErrInvalid, "ImageSize", -1, 3, "unexpected element <b>"},
		{"stray text in bmap", sign(edit("<BlockMap>", "junk<BlockMap>")), ErrInvalid, "bmap", -1, 0, `"junk": stray text`},
		{"stray text in BlockMap", sign(edit("<Range> 2", "junk<Range> 2")), ErrInvalid, "BlockMap", -1, 0, `"junk": stray text`},
		{"negative size", sign(edit("<ImageSize> 10000 ", "<ImageSize> -5 ")), ErrInvalid, "ImageSize", -1, 3, `"-5": not a non-negative`},
		{"size words", sign(edit("<ImageSize> 10000 ", "<ImageSize> ten ")), ErrInvalid, "ImageSize", -1, 3, `"ten"`},
		{"size empty", sign(edit("<ImageSize> 10000 ", "<ImageSize>  ")), ErrInvalid, "ImageSize", -1, 3, "empty"},
		{"size overflows", sign(edit("<ImageSize> 10000 ", "<ImageSize> "+long+" ")), ErrInvalid, "ImageSize", -1, 3, "out of range"},
		{"block size zero", sign(edit("<BlockSize> 4096 ", "<BlockSize> 0 ")), ErrInvalid, "BlockSize", -1, 4, "power of two"},
		{"block size small", sign(edit("<BlockSize> 4096 ", "<BlockSize> 256 ")), ErrInvalid, "BlockSize", -1, 4, "at least 512"},
		{"block size odd", sign(edit("<BlockSize> 4096 ", "<BlockSize> 4000 ")), ErrInvalid, "BlockSize", -1, 4, `"4000"`},
		{"blocks count wrong", sign(edit("<BlocksCount> 3 ", "<BlocksCount> 4 ")), ErrInvalid, "BlocksCount", -1, 5, "make 3 blocks"},
		{"image too large", sign(edit("<ImageSize> 10000 ", "<ImageSize> 9223372036854775807 ", "<BlockSize> 4096 ", "<BlockSize> 512 ",
			"<BlocksCount> 3 ", "<BlocksCount> 18014398509481984 ")), ErrInvalid, "ImageSize", -1, 3, "too large"},
		{"range reversed", sign(edit("<Range> 2 ", "<Range> 2-1 ")), ErrInvalid, "Range", 1, 11, `"2-1": the first block 2 is after the last block 1`},
		{"range words", sign(edit("<Range> 2 ", "<Range> a-b ")), ErrInvalid, "Range", 1, 11, "first block: not a"},
		{"range open end", sign(edit("<Range> 2 ", "<Range> 1- ")), ErrInvalid, "Range", 1, 11, "last block: empty"},
		{"range three parts", sign(edit("<Range> 2 ", "<Range> 1-2-3 ")), ErrInvalid, "Range", 1, 11, "last block: not a"},
		{"range negative", sign(edit("<Range> 2 ", "<Range> -2 ")), ErrInvalid, "Range", 1, 11, "first block: empty"},
		{"range empty", sign(edit("<Range> 2 </Range>", "<Range/>")), ErrInvalid, "Range", 1, 11, "first block: empty"},
		{"range past end", sign(edit("<Range> 2 ", "<Range> 3 ")), ErrInvalid, "Range", 1, 11, "past the last block of the image (2)"},
		{"range overflows", sign(edit("<Range> 2 ", "<Range> 1-"+long+" ")), ErrInvalid, "Range", 1, 11, "out of range"},
		{"ranges unsorted", sign(edit("> 0 </Range>", "> 2 </Range>", "<Range> 2 ", "<Range> 0 ")), ErrInvalid, "Range", 1, 11, "end of range 0"},
		{"ranges overlap", sign(edit("> 0 </Range>", "> 0-1 </Range>", "<Range> 2 ", "<Range> 1-2 ", "<MappedBlocksCount> 2 ", "<MappedBlocksCount> 4 ")), ErrInvalid, "Range", 1, 11, "sorted and disjoint"},
		{"ranges repeated", sign(edit("<Range> 2 ", "<Range> 0 ")), ErrInvalid, "Range", 1, 11, "sorted and disjoint"},
		{"mapped count wrong", sign(edit("<MappedBlocksCount> 2 ", "<MappedBlocksCount> 3 ")), ErrInvalid, "MappedBlocksCount", -1, 6, `"3": the ranges hold 2 blocks`},
		{"checksum type md5", sign(edit("<ChecksumType> sha256 ", "<ChecksumType> md5 ")), ErrUnsupported, "ChecksumType", -1, 7, `"md5"`},
		{"file checksum mismatch", edit("<BlockSize> 4096 ", "<BlockSize> 4096  "), ErrChecksum, "BmapFileChecksum", -1, 8, "damaged"},
		{"file checksum not hex", edit("0000000000000000000000000000000000000000000000000000000000000000", "zz"), ErrInvalid, "BmapFileChecksum", -1, 8, `"zz": not a 64-digit hex sha256`},
		{"file checksum with comment", edit("0000000000000000000000000000000000000000000000000000000000000000 ",
			"00000000000000000000000000000000<!-- -->00000000000000000000000000000000 "), ErrInvalid, "BmapFileChecksum", -1, 8, "plain text"},
		{"range checksum short", sign(edit(`chksum="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`, `chksum="9f86"`)), ErrInvalid, "Range", 0, 10, `"9f86": the chksum attribute is not a 64-digit hex`},
		{"range checksum not hex", sign(edit(`chksum="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`, `chksum="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g"`)), ErrInvalid, "Range", 0, 10, "hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v\n%s", m, tt.doc)
			}
			t.Log(err)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if !errors.Is(err, tt.class) {
				t.Errorf("error %q is not %v", err, tt.class)
			}
			if e.Element != tt.element || e.Index != tt.index {
				t.Errorf("error %q: element %q index %d, want %q %d", err, e.Element, e.Index, tt.element, tt.index)
			}
			if tt.line != 0 && e.Line != tt.line {
				t.Errorf("error %q: line %d, want %d", err, e.Line, tt.line)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "bmap: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	defer func(n int64) { maxFileSize = n }(maxFileSize)
	maxFileSize = 4096
	doc := sign(base)
	if _, err := Parse(strings.NewReader(doc)); err != nil {
		t.Fatalf("Parse of a file under the limit: %v", err)
	}
	r := io.MultiReader(strings.NewReader(doc), io.LimitReader(zeros{}, maxFileSize))
	_, err := Parse(r)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Parse of an oversized file: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Parse(io.MultiReader(strings.NewReader("<bmap"), errReader{boom}))
	if !errors.Is(err, boom) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Parse with a failing reader: %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// invariants checks what every Map from Parse must satisfy, independently
// of the parser's own code.
func invariants(m *Map) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("invariant: "+format, args...)
	}
	if m.BlockSize < 512 || m.BlockSize&(m.BlockSize-1) != 0 {
		return fail("block size %d", m.BlockSize)
	}
	if m.ImageSize < 0 || m.BlocksCount < 0 || m.BlocksCount > math.MaxInt64/m.BlockSize {
		return fail("sizes %d %d", m.ImageSize, m.BlocksCount)
	}
	if m.BlocksCount*m.BlockSize < m.ImageSize || m.BlocksCount*m.BlockSize-m.ImageSize >= m.BlockSize {
		return fail("%d blocks of %d do not cover %d bytes exactly", m.BlocksCount, m.BlockSize, m.ImageSize)
	}
	var sum int64
	for i, r := range m.Ranges {
		if r.First < 0 || r.First > r.Last || r.Last >= m.BlocksCount {
			return fail("range %d %+v out of bounds", i, r)
		}
		if i > 0 && r.First <= m.Ranges[i-1].Last {
			return fail("range %d %+v not after %+v", i, r, m.Ranges[i-1])
		}
		if r.SHA256 != "" {
			if m.ChecksumType != SHA256 || len(r.SHA256) != 64 || strings.ToLower(r.SHA256) != r.SHA256 {
				return fail("range %d checksum %q", i, r.SHA256)
			}
			if _, err := hex.DecodeString(r.SHA256); err != nil {
				return fail("range %d checksum %q", i, r.SHA256)
			}
		}
		sum += r.Last - r.First + 1
	}
	if sum != m.MappedBlocksCount {
		return fail("mapped %d, ranges hold %d", m.MappedBlocksCount, sum)
	}
	switch m.ChecksumType {
	case "", SHA1, SHA256:
	default:
		return fail("checksum type %q", m.ChecksumType)
	}
	if mb := m.MappedBytes(); mb < 0 || mb > m.ImageSize || mb > m.MappedBlocksCount*m.BlockSize {
		return fail("mapped bytes %d", mb)
	}
	if err := m.Check(m.ImageSize); err != nil {
		return fail("Check(ImageSize): %v", err)
	}
	major, _, ok := parseVersion(m.Version)
	if !ok || (major != 1 && major != 2) {
		return fail("version %q", m.Version)
	}
	return nil
}
