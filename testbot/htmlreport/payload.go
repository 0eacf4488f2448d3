package htmlreport

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"time"
)

// compressAbove is the size of the console's JSON above which it travels
// gzip-compressed: 100 000 lines of 70 characters are 7 MB as JSON and
// about 1 MB compressed. A variable so the browser test draws both forms.
var compressAbove = 256 << 10

// payload is the run's data as the page's script reads it: times are
// milliseconds from Start (null when unknown), rows are arrays, so that a
// 10 000-test run stays small.
type payload struct {
	Start     int64    `json:"start"` // Unix milliseconds every time is relative to
	Title     string   `json:"title"`
	OK        bool     `json:"ok"`
	Stages    [][3]any `json:"stages"` // name, start, end
	Flash     [][2]any `json:"flash"`  // t, bytes
	Power     [][2]any `json:"power"`  // t, what
	Suites    []string `json:"suites"`
	Tests     [][9]any `json:"tests"`   // suite index, name, result, start, end, console from, console to, screen, output
	Screens   [][4]any `json:"screens"` // t, title, test, PNG in base64
	Console   *console `json:"console,omitempty"`
	ConsoleGz string   `json:"consoleGz,omitempty"` // base64 of the gzip of console's JSON
	// ConsoleSpan is the times of the console's first and last lines, so
	// that the timeline is drawn before the console is read.
	ConsoleSpan []int64 `json:"consoleSpan,omitempty"`
}

// console is the console's lines: T[i] is the time of line i in
// milliseconds after line i-1 (after Start for the first).
type console struct {
	T []int64  `json:"t"`
	X []string `json:"x"`
}

// encode is d as the page's JSON, HTML-escaped (json.Marshal escapes <, >,
// &, U+2028 and U+2029), so it can sit inside a <script> element.
func encode(d *Data) ([]byte, error) {
	base := d.Started
	if base.IsZero() {
		base = firstTime(d)
	}
	rel := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.Sub(base).Milliseconds()
	}
	p := payload{
		Title:   d.Title,
		OK:      d.OK,
		Stages:  [][3]any{},
		Flash:   [][2]any{},
		Power:   [][2]any{},
		Suites:  []string{},
		Tests:   [][9]any{},
		Screens: [][4]any{},
	}
	if !base.IsZero() {
		p.Start = base.UnixMilli()
	}
	for _, s := range d.Stages {
		p.Stages = append(p.Stages, [3]any{s.Name, rel(s.Start), rel(s.End)})
	}
	for _, s := range d.Flash {
		p.Flash = append(p.Flash, [2]any{rel(s.T), s.Bytes})
	}
	for _, m := range d.Power {
		p.Power = append(p.Power, [2]any{rel(m.T), m.What})
	}
	suites := map[string]int{}
	for _, t := range d.Tests {
		si, ok := suites[t.Suite]
		if !ok {
			si = len(p.Suites)
			suites[t.Suite] = si
			p.Suites = append(p.Suites, t.Suite)
		}
		from, to := consoleRange(t.ConsoleFrom, t.ConsoleTo, len(d.Console))
		screen := t.Screen
		if screen < 0 || screen >= len(d.Screens) {
			screen = -1
		}
		p.Tests = append(p.Tests, [9]any{si, t.Name, t.Result, rel(t.Start), rel(t.End), from, to, screen, t.Output})
	}
	for _, s := range d.Screens {
		p.Screens = append(p.Screens, [4]any{rel(s.T), s.Title, s.Test, base64.StdEncoding.EncodeToString(s.PNG)})
	}
	if len(d.Console) > 0 {
		c := &console{T: make([]int64, len(d.Console)), X: make([]string, len(d.Console))}
		var prev int64 // ms from base of the line before
		for i, l := range d.Console {
			ms := prev
			if !l.T.IsZero() {
				ms = l.T.Sub(base).Milliseconds()
			}
			c.T[i] = ms - prev
			prev = ms
			c.X[i] = l.Text
		}
		p.ConsoleSpan = []int64{c.T[0], prev}
		if err := c.attach(&p); err != nil {
			return nil, err
		}
	}
	return json.Marshal(p)
}

// attach puts c into p: as it is, or compressed when large.
func (c *console) attach(p *payload) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if len(b) <= compressAbove {
		p.Console = c
		return nil
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b) // a bytes.Buffer does not fail
	if err := zw.Close(); err != nil {
		return err
	}
	p.ConsoleGz = base64.StdEncoding.EncodeToString(z.Bytes())
	return nil
}

// consoleRange is a test's console lines [from, to) within n lines, or
// -1, -1 when unknown or out of range.
func consoleRange(from, to, n int) (int, int) {
	if from < 0 || from > n || to < from {
		return -1, -1
	}
	return from, min(to, n)
}
