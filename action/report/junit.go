package report

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
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
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: reading the JUnit file: %w", err)
	}
	defer f.Close()
	return Parse(bufio.NewReader(f), path)
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
// errors.
func Parse(r io.Reader, source string) (*Results, error) {
	dec := xml.NewDecoder(r)
	var root xmlSuite
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("report: %s: no JUnit XML in the file", source)
		}
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", source, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "testsuites":
			if err := dec.DecodeElement(&root, &se); err != nil {
				return nil, fmt.Errorf("report: %s: %w", source, err)
			}
		case "testsuite":
			var one xmlSuite
			if err := dec.DecodeElement(&one, &se); err != nil {
				return nil, fmt.Errorf("report: %s: %w", source, err)
			}
			root.Suites = []xmlSuite{one}
		default:
			return nil, fmt.Errorf("report: %s: the root element is <%s>, not <testsuites> or <testsuite>", source, se.Name.Local)
		}
		break
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

func convertSuite(x xmlSuite) Suite {
	s := Suite{Name: x.Name, Duration: seconds(x.Time), Cases: make([]Case, 0, len(x.Cases))}
	if s.Name == "" {
		s.Name = "tests"
	}
	for _, xc := range x.Cases {
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
		var out []string
		if res != nil {
			c.Message = res.Message
			out = append(out, res.Body)
		}
		out = append(out, xc.SystemOut, xc.SystemErr)
		c.Output = joinNonEmpty(out)
		c.File, c.Line = xc.File, atoi(xc.Line)
		if c.Status == Failed && (c.File == "" || c.Line == 0) {
			if f, l, _, ok := goLocation(c.Output); ok {
				c.File, c.Line = f, l
			}
		}
		s.Cases = append(s.Cases, c)
	}
	if s.Duration == 0 {
		for _, c := range s.Cases {
			s.Duration += c.Duration
		}
	}
	return s
}

func joinNonEmpty(parts []string) string {
	var keep []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			keep = append(keep, strings.Trim(p, "\n"))
		}
	}
	return strings.Join(keep, "\n")
}

// seconds parses a JUnit time attribute ("1.234", "1,234.5").
func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
	if err != nil || f < 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// goLine is the location `go test` prints before a t.Error message.
var goLine = regexp.MustCompile(`^\s+([^\s:]+\.go):(\d+): ?(.*)$`)

// goLocation finds the first "    file_test.go:123: message" line of a Go
// test's output and returns the file, line and message, with the
// message's continuation lines (indented deeper) joined on.
func goLocation(output string) (file string, line int, msg string, ok bool) {
	lines := strings.Split(output, "\n")
	for i, l := range lines {
		m := goLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " \t"))
		parts := []string{m[3]}
		for _, next := range lines[i+1:] {
			ni := len(next) - len(strings.TrimLeft(next, " \t"))
			if strings.TrimSpace(next) == "" || ni <= indent {
				break
			}
			parts = append(parts, strings.TrimSpace(next))
		}
		return m[1], atoi(m[2]), strings.Join(parts, "\n"), true
	}
	return "", 0, "", false
}
