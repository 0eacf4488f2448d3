package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Status is a test case's outcome.
type Status string

// The outcomes. A JUnit <error> counts as failed.
const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// Case is one test case.
type Case struct {
	Name      string
	Classname string
	Status    Status
	Duration  time.Duration
	Message   string // the failure, error or skip message attribute
	Output    string // the result's body, then system-out and system-err
	// File and Line locate the failure: the case's file and line
	// attributes, else the first "file.go:123:" line of a Go test's
	// output. File is as the tool wrote it; empty when unknown.
	File string
	Line int
}

// Suite is one <testsuite>.
type Suite struct {
	Name     string
	Cases    []Case
	Duration time.Duration
}

// Results is a parsed JUnit file.
type Results struct {
	Source string // the file it came from, for messages
	Suites []Suite
}

// Counts are the number of cases per outcome.
type Counts struct {
	Passed, Failed, Skipped int
	Duration                time.Duration
}

// Total is the number of cases.
func (c Counts) Total() int { return c.Passed + c.Failed + c.Skipped }

func (c *Counts) add(k Case) {
	switch k.Status {
	case Passed:
		c.Passed++
	case Failed:
		c.Failed++
	case Skipped:
		c.Skipped++
	}
	c.Duration += k.Duration
}

// Counts counts the suite's cases.
func (s *Suite) Counts() Counts {
	var c Counts
	for _, k := range s.Cases {
		c.add(k)
	}
	return c
}

// Counts counts every case.
func (r *Results) Counts() Counts {
	var c Counts
	for i := range r.Suites {
		for _, k := range r.Suites[i].Cases {
			c.add(k)
		}
	}
	return c
}

// ParseFile reads a JUnit XML file.
func ParseFile(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: reading the JUnit file: %w", err)
	}
	return parse(string(b), path)
}

type xmlResult struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

type xmlCase struct {
	Name      string     `xml:"name,attr"`
	Classname string     `xml:"classname,attr"`
	Time      string     `xml:"time,attr"`
	File      string     `xml:"file,attr"`
	Line      string     `xml:"line,attr"`
	Failure   *xmlResult `xml:"failure"`
	Error     *xmlResult `xml:"error"`
	Skipped   *xmlResult `xml:"skipped"`
	SystemOut string     `xml:"system-out"`
	SystemErr string     `xml:"system-err"`
}

type xmlSuite struct {
	Name   string     `xml:"name,attr"`
	Time   string     `xml:"time,attr"`
	Suites []xmlSuite `xml:"testsuite"`
	Cases  []xmlCase  `xml:"testcase"`
}

// Parse reads JUnit XML whose root is <testsuites> or a single
// <testsuite>; nested suites are flattened. source names the input in
// errors. It reads r to its end.
func Parse(r io.Reader, source string) (*Results, error) {
	var b strings.Builder
	if l, ok := r.(interface{ Len() int }); ok { // bytes.Reader, strings.Reader, bytes.Buffer
		b.Grow(l.Len())
	}
	if _, err := io.Copy(&b, r); err != nil {
		return nil, fmt.Errorf("report: %s: %w", source, err)
	}
	return parse(b.String(), source)
}

// parse decodes s with the fast scanner, and with encoding/xml when the
// scanner leaves it (an error, or XML it does not handle): the errors
// are encoding/xml's.
func parse(s, source string) (*Results, error) {
	if res, ok := scanJUnit(s, source); ok {
		return res, nil
	}
	return decodeJUnit(strings.NewReader(s), source)
}

// decodeJUnit decodes JUnit XML with encoding/xml.
func decodeJUnit(r io.Reader, source string) (*Results, error) {
	root, err := decodeRoot(r, source)
	if err != nil {
		return nil, err
	}
	res := &Results{Source: source}
	var flatten func(xs []xmlSuite)
	flatten = func(xs []xmlSuite) {
		for _, x := range xs {
			if len(x.Cases) > 0 || len(x.Suites) == 0 {
				res.Suites = append(res.Suites, convertSuite(x))
			}
			flatten(x.Suites)
		}
	}
	flatten(root.Suites)
	if len(root.Cases) > 0 { // cases directly under <testsuites>
		res.Suites = append(res.Suites, convertSuite(xmlSuite{Name: root.Name, Cases: root.Cases}))
	}
	return res, nil
}

// decodeRoot decodes the root element into a <testsuites> tree (a
// single <testsuite> root is its one suite).
func decodeRoot(r io.Reader, source string) (xmlSuite, error) {
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return xmlSuite{}, fmt.Errorf("report: %s: no JUnit XML in the file", source)
		}
		if err != nil {
			return xmlSuite{}, fmt.Errorf("report: %s: %w", source, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var root xmlSuite
		switch se.Name.Local {
		case "testsuites":
			if err := dec.DecodeElement(&root, &se); err != nil {
				return xmlSuite{}, fmt.Errorf("report: %s: %w", source, err)
			}
		case "testsuite":
			var one xmlSuite
			if err := dec.DecodeElement(&one, &se); err != nil {
				return xmlSuite{}, fmt.Errorf("report: %s: %w", source, err)
			}
			root.Suites = []xmlSuite{one}
		default:
			return xmlSuite{}, fmt.Errorf("report: %s: the root element is <%s>, not <testsuites> or <testsuite>", source, se.Name.Local)
		}
		return root, nil
	}
}

func convertSuite(x xmlSuite) Suite {
	cases := make([]Case, 0, len(x.Cases))
	for i := range x.Cases {
		cases = append(cases, convertCase(&x.Cases[i]))
	}
	return newSuite(x.Name, x.Time, cases)
}

// newSuite is a suite of the cases: named "tests" when it has no name,
// lasting as long as its cases when it has no time.
func newSuite(name, time string, cases []Case) Suite {
	s := Suite{Name: name, Duration: seconds(time), Cases: cases}
	if s.Name == "" {
		s.Name = "tests"
	}
	if s.Duration == 0 {
		for _, c := range s.Cases {
			s.Duration += c.Duration
		}
	}
	return s
}

func convertCase(xc *xmlCase) Case {
	c := Case{Name: xc.Name, Classname: xc.Classname, Duration: seconds(xc.Time), Status: Passed}
	var res *xmlResult
	switch {
	case xc.Failure != nil:
		c.Status, res = Failed, xc.Failure
	case xc.Error != nil:
		c.Status, res = Failed, xc.Error
	case xc.Skipped != nil:
		c.Status, res = Skipped, xc.Skipped
	}
	body := ""
	if res != nil {
		c.Message, body = res.Message, res.Body
	}
	c.Output = joinNonEmpty(body, xc.SystemOut, xc.SystemErr)
	c.File, c.Line = xc.File, atoi(xc.Line)
	if c.Status == Failed && (c.File == "" || c.Line == 0) {
		if f, l, _, ok := goLocation(c.Output); ok {
			c.File, c.Line = f, l
		}
	}
	return c
}

// joinNonEmpty joins the parts that are not blank, one per line, with
// their leading and trailing newlines cut.
func joinNonEmpty(parts ...string) string {
	out := ""
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			continue
		}
		if p = strings.Trim(p, "\n"); out == "" {
			out = p
		} else {
			out += "\n" + p
		}
	}
	return out
}

// seconds parses a JUnit time attribute ("1.234", "1,234.5").
func seconds(s string) time.Duration {
	if s = strings.TrimSpace(s); s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil || f < 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

func atoi(s string) int {
	if s = strings.TrimSpace(s); s == "" {
		return 0 // as Atoi's answer, without its error
	}
	n, _ := strconv.Atoi(s)
	return n
}

// goLine matches the location `go test` prints before a t.Error
// message, "    file_test.go:123: message": the line as
// ^\s+([^\s:]+\.go):(\d+): ?(.*)$ matches it, without a regular
// expression.
func goLine(l string) (file, line, msg string, ok bool) {
	i := 0
	for i < len(l) && reSpace(l[i]) {
		i++
	}
	j := i
	for j < len(l) && !reSpace(l[j]) && l[j] != ':' {
		j++
	}
	if i == 0 || j == len(l) || l[j] != ':' || j-i < len("x.go") || !strings.HasSuffix(l[i:j], ".go") {
		return "", "", "", false
	}
	k := j + 1
	for k < len(l) && '0' <= l[k] && l[k] <= '9' {
		k++
	}
	if k == j+1 || k == len(l) || l[k] != ':' {
		return "", "", "", false
	}
	msg = l[k+1:]
	if strings.HasPrefix(msg, " ") {
		msg = msg[1:]
	}
	return l[i:j], l[j+1 : k], msg, true
}

// reSpace is a regular expression's \s: [\t\n\f\r ].
func reSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// goLocation finds the first "    file_test.go:123: message" line of a Go
// test's output and returns the file, line and message, with the
// message's continuation lines (indented deeper) joined on.
func goLocation(output string) (file string, line int, msg string, ok bool) {
	for rest, more := output, true; more; {
		var l string
		l, rest, more = strings.Cut(rest, "\n")
		f, n, m, ok := goLine(l)
		if !ok {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " \t"))
		for more {
			var next string
			next, rest, more = strings.Cut(rest, "\n")
			ni := len(next) - len(strings.TrimLeft(next, " \t"))
			if strings.TrimSpace(next) == "" || ni <= indent {
				break
			}
			m += "\n" + strings.TrimSpace(next)
		}
		return f, atoi(n), m, true
	}
	return "", 0, "", false
}
