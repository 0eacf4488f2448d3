package htmlreport

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"iter"
	"strings"
	"time"
)

// Data is what the report shows of one run. Every time is absolute; the
// page shows them relative to Started (and in UTC on hover). A zero time is
// unknown: the thing is listed but not drawn on the timeline.
type Data struct {
	Title   string    // e.g. "leviathan run — qemu-x86_64"
	Started time.Time // the run's start
	OK      bool      // the run's verdict
	Failure string    // a failed run's stage and error ("" when it completed)
	Facts   []Fact    // in order: image, sha256, size, worker, DUT, capabilities, device type, versions, timings, reproduce command…
	Stages  []Span    // lease, flash, boot, boot marks (Start == End: a mark), suites
	Flash   []Sample  // bytes written by time T, for the MB/s-over-time curve
	Power   []Mark    // power events: What is "on", "off" or "reboot"
	Tests   []Test    // every test and subtest, in the order they ended or started
	Console []Line    // the serial console, line by line
	Screens []Screen  // screenshots, in time order
	Errors  []string  // suites that crashed outside any test
}

// Fact is one line of the facts table.
type Fact struct {
	Name, Value string
	Mono        bool // show in a monospace font (hashes, commands)
}

// Span is a stage of the run; Start == End (or a zero End) makes it a mark,
// such as the kernel's first line on the console.
type Span struct {
	Name       string
	Start, End time.Time
}

// Sample is the number of bytes the flash had written by time T.
type Sample struct {
	T     time.Time
	Bytes int64
}

// Mark is a power event at time T: What is "on", "off" or "reboot" (a
// reboot seen on the console); any other word is shown as it is.
type Mark struct {
	T    time.Time
	What string
}

// Test is one test or subtest (a Name with "/" is a subtest, shown under
// its parent).
type Test struct {
	Suite, Name string
	Result      string // "pass", "fail" or "skip"
	Start, End  time.Time
	Output      string // what the test printed (a failure: its message with file:line)
	// Console[ConsoleFrom:ConsoleTo] are the console lines printed while it
	// ran; -1, -1 when unknown.
	ConsoleFrom, ConsoleTo int
	Screen                 int // index into Data.Screens of its failure screenshot, -1 when none
}

// Line is one console line and the time it ended.
type Line struct {
	T    time.Time
	Text string
}

// Screen is one screenshot: a PNG taken at T, for a failure of Test
// ("suite/Name") or by a suite (Test empty).
type Screen struct {
	T     time.Time
	Title string
	PNG   []byte
	Test  string
}

var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string

	page = template.Must(template.New("page").Parse(pageHTML))
)

// assets are the page's inline style and script; the golden test replaces
// them so that its file shows only what Write renders from the data.
type assets struct {
	CSS template.CSS
	JS  template.JS
}

// Write writes the report of d to w as one HTML document. It fails only
// when w does; any string in d is escaped, out-of-range console or
// screenshot indices are dropped, and a nil d is an empty run.
func Write(w io.Writer, d *Data) error {
	return render(w, d, assets{CSS: template.CSS(pageCSS), JS: template.JS(pageJS)})
}

func render(w io.Writer, d *Data, a assets) error {
	if d == nil {
		d = &Data{}
	}
	payload, err := encode(d)
	if err != nil {
		return fmt.Errorf("htmlreport: encoding the run's data: %w", err)
	}
	v := view{
		Data:    d,
		CSS:     a.CSS,
		JS:      a.JS,
		Payload: template.JS(payload),
		Counts:  count(d),
		Title:   d.Title,
	}
	if v.Title == "" {
		v.Title = "Leviathan run"
	}
	if !d.Started.IsZero() {
		v.Started = d.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if end := lastTime(d); !d.Started.IsZero() && end.After(d.Started) {
		v.Duration = human(end.Sub(d.Started))
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("htmlreport: writing the report: %w", err)
	}
	return nil
}

// view is what the template renders on the server side.
type view struct {
	*Data
	CSS      template.CSS
	JS       template.JS
	Payload  template.JS
	Counts   counts
	Title    string
	Started  string
	Duration string
}

// counts are the top-level tests by result, as `leviathan run` prints them,
// and the subtests apart.
type counts struct {
	Passed, Failed, Skipped, Other, Subtests int
}

func count(d *Data) counts {
	var c counts
	for _, t := range d.Tests {
		if strings.Contains(t.Name, "/") {
			c.Subtests++
			continue
		}
		switch t.Result {
		case "pass":
			c.Passed++
		case "fail":
			c.Failed++
		case "skip":
			c.Skipped++
		default:
			c.Other++
		}
	}
	return c
}

// times yields every time d holds that is set: stage bounds, flash
// samples, power marks, tests' starts and ends, console lines, screenshots.
func times(d *Data) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		var all []time.Time
		for _, s := range d.Stages {
			all = append(all, s.Start, s.End)
		}
		for _, s := range d.Flash {
			all = append(all, s.T)
		}
		for _, m := range d.Power {
			all = append(all, m.T)
		}
		for _, t := range d.Tests {
			all = append(all, t.Start, t.End)
		}
		if n := len(d.Console); n > 0 {
			all = append(all, d.Console[0].T, d.Console[n-1].T)
		}
		for _, s := range d.Screens {
			all = append(all, s.T)
		}
		for _, t := range all {
			if !t.IsZero() && !yield(t) {
				return
			}
		}
	}
}

// lastTime is the latest time d holds, d.Started at least.
func lastTime(d *Data) time.Time {
	end := d.Started
	for t := range times(d) {
		if t.After(end) {
			end = t
		}
	}
	return end
}

// firstTime is the earliest time d holds, or the zero time.
func firstTime(d *Data) time.Time {
	var first time.Time
	for t := range times(d) {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first
}

// human is a duration as a person reads it: 850ms, 12.3s, 2m13s, 1h02m.
func human(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
