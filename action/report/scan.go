package report

import (
	"strings"
	"unicode/utf8"
)

// scanJUnit is Parse's fast path: it decodes the JUnit XML in s into the
// Results that decodeJUnit, with encoding/xml, makes of it; without
// reflection, with every case in one array and the strings cut from s
// unless they hold references or carriage returns. It handles the XML that test tools write: ASCII names
// with at most one colon, attributes, text, CDATA, comments, processing
// instructions, an XML declaration for UTF-8 and the predefined and
// numeric character references. At anything else (a DOCTYPE, a non-ASCII
// name, another encoding) and at every error it returns false, and Parse
// decodes s with encoding/xml instead, so that what is accepted and the
// errors stay exactly encoding/xml's.
//
// Like Parse's encoding/xml decoder, it reads up to the end of the root
// element and ignores what follows.
func scanJUnit(s, source string) (*Results, bool) {
	// One array for every case, sized by a count that misses only
	// prefixed <x:testcase> elements.
	sc := scanner{s: s, cases: make([]Case, 0, strings.Count(s, "<testcase"))}
	tok := sc.next(false)
	for tok == tokText {
		tok = sc.next(false)
	}
	if tok != tokStart { // an end tag or the end of the input before the root
		return nil, false
	}
	var root scanSuite
	switch sc.local {
	case "testsuites":
		if !sc.suite(&root, 0) {
			return nil, false
		}
	case "testsuite":
		var one scanSuite
		if !sc.suite(&one, 0) {
			return nil, false
		}
		root.suites = []scanSuite{one}
	default:
		return nil, false
	}
	// The suites in document order, those with neither cases nor suites
	// of their own included, as Parse's encoding/xml path lists them.
	res := &Results{Source: source}
	var flatten func(xs []scanSuite)
	flatten = func(xs []scanSuite) {
		for _, x := range xs {
			if len(x.cases) > 0 || len(x.suites) == 0 {
				res.Suites = append(res.Suites, newSuite(x.name, x.time, x.cases))
			}
			flatten(x.suites)
		}
	}
	flatten(root.suites)
	if len(root.cases) > 0 { // cases directly under <testsuites>
		res.Suites = append(res.Suites, newSuite(root.name, "", root.cases))
	}
	return res, true
}

// scanSuite is a <testsuite> or <testsuites> as scanJUnit decodes it.
type scanSuite struct {
	name, time string
	cases      []Case
	suites     []scanSuite
}

// maxScanDepth bounds the nesting of <testsuite> elements the fast path
// decodes; deeper files go to encoding/xml, which has its own limit.
const maxScanDepth = 100

// token is what scanner.next found.
type token int

const (
	tokBad   token = iota // something scanJUnit leaves to encoding/xml
	tokText               // character data, in scanner.text when kept
	tokStart              // a start tag: scanner.name, local, attrs, empty
	tokEnd                // an end tag: scanner.name
	tokEOF
)

// attr is an attribute by its local name, as encoding/xml matches it.
type attr struct {
	local, value string
}

// scanner reads XML tokens from a string. Comments and processing
// instructions are checked and skipped.
type scanner struct {
	s     string
	i     int
	name  string   // the tag's name as written, prefix included
	local string   // the tag's name without its prefix
	attrs []attr   // the start tag's attributes, valid until the next tag
	empty bool     // the start tag closes itself (<x/>)
	text  string   // the character data, when next was asked to keep it
	open  []string // the elements skip is in
	cases []Case   // every case so far, in document order
}

// next reads the next token. keep says whether the text of a tokText is
// needed in sc.text; it is checked either way.
func (sc *scanner) next(keep bool) token {
	for {
		if sc.i >= len(sc.s) {
			return tokEOF
		}
		rest := sc.s[sc.i:]
		if rest[0] != '<' {
			return sc.chars(0, keep)
		}
		switch {
		case strings.HasPrefix(rest, "</"):
			return sc.endTag()
		case strings.HasPrefix(rest, "<!--"):
			// The first "--" must end the comment, as XML requires.
			n := strings.Index(rest[4:], "--")
			if n < 0 || 4+n+2 >= len(rest) || rest[4+n+2] != '>' {
				return tokBad
			}
			sc.i += 4 + n + 3
		case strings.HasPrefix(rest, "<![CDATA["):
			n := strings.Index(rest[9:], "]]>")
			if n < 0 {
				return tokBad
			}
			text, ok := cdata(rest[9:9+n], keep)
			if !ok {
				return tokBad
			}
			sc.text = text
			sc.i += 9 + n + 3
			return tokText
		case strings.HasPrefix(rest, "<?"):
			if !sc.procInst() {
				return tokBad
			}
		case strings.HasPrefix(rest, "<!"): // a DOCTYPE or other directive
			return tokBad
		default:
			return sc.startTag()
		}
	}
}

// procInst skips a processing instruction, checking an XML declaration
// as encoding/xml does: version 1.0 and UTF-8 only.
func (sc *scanner) procInst() bool {
	sc.i += 2
	target, _, ok := sc.readName(false)
	if !ok {
		return false
	}
	sc.skipSpace()
	n := strings.Index(sc.s[sc.i:], "?>")
	if n < 0 {
		return false
	}
	content := sc.s[sc.i : sc.i+n]
	sc.i += n + 2
	if target != "xml" {
		return true
	}
	if v := declValue(content, "version"); v != "" && v != "1.0" {
		return false
	}
	if e := declValue(content, "encoding"); e != "" && !strings.EqualFold(e, "utf-8") {
		return false
	}
	return true
}

// declValue finds a pseudo-attribute of an XML declaration the way
// encoding/xml does: at the first `key=` followed by a quote, up to the
// next such quote; "" when there is none.
func declValue(content, key string) string {
	key += "="
	rest := content
	for {
		k := strings.Index(rest, key)
		if k < 0 || k+len(key) >= len(rest) {
			return ""
		}
		rest = rest[k+len(key):]
		if q := rest[0]; q == '"' || q == '\'' {
			v, _, ok := strings.Cut(rest[1:], rest[:1])
			if !ok {
				return ""
			}
			return v
		}
		rest = rest[1:]
	}
}

// startTag reads <name attr="value" ...> or <name .../>.
func (sc *scanner) startTag() token {
	sc.i++
	name, local, ok := sc.readName(true)
	if !ok {
		return tokBad
	}
	sc.name, sc.local, sc.attrs = name, local, sc.attrs[:0]
	for {
		sc.skipSpace()
		if sc.i >= len(sc.s) {
			return tokBad
		}
		switch sc.s[sc.i] {
		case '>':
			sc.i++
			sc.empty = false
			return tokStart
		case '/':
			if !strings.HasPrefix(sc.s[sc.i:], "/>") {
				return tokBad
			}
			sc.i += 2
			sc.empty = true
			return tokStart
		}
		_, local, ok := sc.readName(true)
		if !ok {
			return tokBad
		}
		sc.skipSpace()
		if sc.i >= len(sc.s) || sc.s[sc.i] != '=' {
			return tokBad
		}
		sc.i++
		sc.skipSpace()
		if sc.i >= len(sc.s) || (sc.s[sc.i] != '"' && sc.s[sc.i] != '\'') {
			return tokBad
		}
		q := sc.s[sc.i]
		sc.i++
		if sc.chars(q, true) != tokText {
			return tokBad
		}
		sc.i++ // the closing quote
		sc.attrs = append(sc.attrs, attr{local: local, value: sc.text})
	}
}

// endTag reads </name>.
func (sc *scanner) endTag() token {
	sc.i += 2
	name, _, ok := sc.readName(true)
	if !ok {
		return tokBad
	}
	sc.skipSpace()
	if sc.i >= len(sc.s) || sc.s[sc.i] != '>' {
		return tokBad
	}
	sc.i++
	sc.name = name
	return tokEnd
}

// readName reads an ASCII XML name. With ns, a name with one colon has
// the part after it as its local name (encoding/xml's Name.Local), and a
// name with two colons is refused.
func (sc *scanner) readName(ns bool) (name, local string, ok bool) {
	start := sc.i
	if sc.i >= len(sc.s) || !nameStart(sc.s[sc.i]) {
		return "", "", false
	}
	colons := 0
	for ; sc.i < len(sc.s); sc.i++ {
		c := sc.s[sc.i]
		if c >= utf8.RuneSelf {
			return "", "", false // a non-ASCII name: encoding/xml's tables decide
		}
		if !nameByte(c) {
			break
		}
		if c == ':' {
			colons++
		}
	}
	if sc.i >= len(sc.s) {
		return "", "", false
	}
	name, local = sc.s[start:sc.i], sc.s[start:sc.i]
	if ns && colons > 0 {
		if colons > 1 {
			return "", "", false
		}
		if prefix, l, _ := strings.Cut(name, ":"); prefix != "" && l != "" {
			local = l
		}
	}
	return name, local, true
}

func nameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':'
}

func nameByte(c byte) bool {
	return nameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

func (sc *scanner) skipSpace() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// plain marks the bytes that stand for themselves in character data and
// attribute values: printable ASCII but for markup, quotes and "]", plus
// tab and newline.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range "<&]\"'" {
		t[c] = false
	}
	t['\t'], t['\n'] = true, true
	return t
}()

// chars reads character data up to '<' or the end of the input (quote
// 0) or an attribute value up to its closing quote (left unread),
// decoding references and turning "\r\n" and "\r" into "\n" as
// encoding/xml does. It fails where encoding/xml fails: invalid UTF-8, a
// character outside XML's range, an unknown reference, "]]>" in text,
// '<' or the end of the input in a value.
func (sc *scanner) chars(quote byte, keep bool) token {
	s := sc.s
	start, from, i := sc.i, sc.i, sc.i
	var out []byte
	decoded := false
scan:
	for i < len(s) {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == quote && quote != 0:
			break scan
		case c == '<':
			if quote != 0 {
				return tokBad
			}
			break scan
		case c == '&':
			r, n := reference(s[i:])
			if n == 0 {
				return tokBad
			}
			if keep {
				out = utf8.AppendRune(append(out, s[from:i]...), r)
			}
			decoded = true
			i += n
			from = i
		case c == '\r':
			if keep {
				out = append(append(out, s[from:i]...), '\n')
			}
			decoded = true
			if i++; i < len(s) && s[i] == '\n' {
				i++
			}
			from = i
		case c == ']':
			if quote == 0 && strings.HasPrefix(s[i:], "]]>") {
				return tokBad
			}
			i++
		case c == '"' || c == '\'':
			i++
		case c < utf8.RuneSelf: // a control character
			return tokBad
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && n == 1) || !xmlChar(r) {
				return tokBad
			}
			i += n
		}
	}
	if quote != 0 && i >= len(s) {
		return tokBad
	}
	sc.i = i
	switch {
	case !keep:
		sc.text = ""
	case decoded:
		sc.text = string(append(out, s[from:i]...))
	default:
		sc.text = s[start:i]
	}
	return tokText
}

// cdata checks and decodes the content of a CDATA section.
func cdata(s string, keep bool) (string, bool) {
	var out []byte
	decoded := false
	from := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\r':
			if keep {
				out = append(append(out, s[from:i]...), '\n')
			}
			decoded = true
			if i++; i < len(s) && s[i] == '\n' {
				i++
			}
			from = i
		case c >= 0x20 && c < utf8.RuneSelf, c == '\t', c == '\n':
			i++
		case c < utf8.RuneSelf:
			return "", false
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && n == 1) || !xmlChar(r) {
				return "", false
			}
			i += n
		}
	}
	switch {
	case !keep:
		return "", true
	case decoded:
		return string(append(out, s[from:]...)), true
	}
	return s, true
}

// reference decodes the character or entity reference at the start of s
// ("&amp;", "&#10;", "&#x1F600;") and returns its length; 0 when it is
// not one the fast path takes.
func reference(s string) (rune, int) {
	for _, e := range [...]struct {
		ref string
		r   rune
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}} {
		if strings.HasPrefix(s, e.ref) {
			return e.r, len(e.ref)
		}
	}
	if !strings.HasPrefix(s, "&#") {
		return 0, 0
	}
	i, base := 2, rune(10)
	if i < len(s) && s[i] == 'x' {
		i, base = 3, 16
	}
	var r rune
	digits := 0
	for ; i < len(s); i++ {
		d := digit(s[i])
		if d < 0 || d >= base {
			break
		}
		if digits++; digits > 7 {
			return 0, 0 // leading zeros or out of range: encoding/xml decides
		}
		r = r*base + d
	}
	if digits == 0 || i >= len(s) || s[i] != ';' || !xmlChar(r) {
		return 0, 0
	}
	return r, i + 1
}

func digit(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

// xmlChar reports whether r is in XML's character range.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// suite decodes the <testsuite> or <testsuites> whose start tag was just
// read into x: its name and time, its suites and cases. Its cases are a
// slice of sc.cases, or a copy when a nested suite comes between them.
func (sc *scanner) suite(x *scanSuite, depth int) bool {
	name := sc.name
	for _, a := range sc.attrs {
		switch a.local {
		case "name":
			x.name = a.value
		case "time":
			x.time = a.value
		}
	}
	from := len(sc.cases) // this suite's latest run of cases
	var cases []Case      // its earlier runs, when a nested suite came between
	if sc.empty {
		x.cases = sc.cases[from:from:from]
		return true
	}
	for {
		switch sc.next(false) {
		case tokText:
		case tokStart:
			switch sc.local {
			case "testsuite":
				if depth >= maxScanDepth {
					return false
				}
				if len(sc.cases) > from {
					cases = append(cases, sc.cases[from:]...)
				}
				x.suites = append(x.suites, scanSuite{})
				if !sc.suite(&x.suites[len(x.suites)-1], depth+1) {
					return false
				}
				from = len(sc.cases)
			case "testcase":
				var c xmlCase
				if !sc.testCase(&c) {
					return false
				}
				sc.cases = append(sc.cases, convertCase(&c))
			default:
				if !sc.skip() {
					return false
				}
			}
		case tokEnd:
			if cases == nil {
				x.cases = sc.cases[from:len(sc.cases):len(sc.cases)]
			} else {
				x.cases = append(cases, sc.cases[from:]...)
			}
			return sc.name == name
		default:
			return false
		}
	}
}

// testCase decodes the <testcase> whose start tag was just read into c.
func (sc *scanner) testCase(c *xmlCase) bool {
	name := sc.name
	for _, a := range sc.attrs {
		switch a.local {
		case "name":
			c.Name = a.value
		case "classname":
			c.Classname = a.value
		case "time":
			c.Time = a.value
		case "file":
			c.File = a.value
		case "line":
			c.Line = a.value
		}
	}
	if sc.empty {
		return true
	}
	for {
		switch sc.next(false) {
		case tokText:
		case tokStart:
			var ok bool
			switch sc.local {
			case "failure":
				ok = sc.result(&c.Failure)
			case "error":
				ok = sc.result(&c.Error)
			case "skipped":
				ok = sc.result(&c.Skipped)
			case "system-out":
				c.SystemOut, ok = sc.content()
			case "system-err":
				c.SystemErr, ok = sc.content()
			default:
				ok = sc.skip()
			}
			if !ok {
				return false
			}
		case tokEnd:
			return sc.name == name
		default:
			return false
		}
	}
}

// result decodes a <failure>, <error> or <skipped> into *r. A second
// one of the same kind decodes into the same result, as encoding/xml
// does: its message when it has one, its text always.
func (sc *scanner) result(r **xmlResult) bool {
	if *r == nil {
		*r = new(xmlResult)
	}
	for _, a := range sc.attrs {
		if a.local == "message" {
			(*r).Message = a.value
		}
	}
	body, ok := sc.content()
	(*r).Body = body
	return ok
}

// content reads the text directly inside the element whose start tag
// was just read, skipping child elements, up to its end tag.
func (sc *scanner) content() (string, bool) {
	if sc.empty {
		return "", true
	}
	name := sc.name
	text := ""
	for {
		switch sc.next(true) {
		case tokText:
			if text == "" {
				text = sc.text
			} else {
				text += sc.text
			}
		case tokStart:
			if !sc.skip() {
				return "", false
			}
		case tokEnd:
			return text, sc.name == name
		default:
			return "", false
		}
	}
}

// skip reads past the element whose start tag was just read, checking
// what is inside it.
func (sc *scanner) skip() bool {
	if sc.empty {
		return true
	}
	sc.open = append(sc.open[:0], sc.name)
	for len(sc.open) > 0 {
		switch sc.next(false) {
		case tokText:
		case tokStart:
			if !sc.empty {
				sc.open = append(sc.open, sc.name)
			}
		case tokEnd:
			if sc.name != sc.open[len(sc.open)-1] {
				return false
			}
			sc.open = sc.open[:len(sc.open)-1]
		default:
			return false
		}
	}
	return true
}
