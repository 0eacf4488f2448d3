// Package visual gathers a run's visual report (reports/index.html, drawn
// by package htmlreport) from what the run left in its report directory:
// summary.json, events.json, the session's recording (or serial.log) and
// the failure screenshots. The testbot writes it at the end of every run,
// the testrunner container after its suites.
package visual

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/suites/gotest"
	"github.com/balena/leviathan-action/testbot/htmlreport"
)

// IndexFile is the visual report's name in a report directory.
const IndexFile = "index.html"

// Index is what WriteIndex knows of a run beyond its report directory.
type Index struct {
	Title string
	// Started is the run's start; zero takes the suites' start.
	Started time.Time
	// Failure is a failed run's stage and error; empty when it completed.
	Failure string
	// Facts come first in the report's facts table.
	Facts []htmlreport.Fact
	// Stages are the run's stages (lease, flash, boot and its marks,
	// suites) in absolute time.
	Stages []htmlreport.Span
}

// WriteIndex writes dir/index.html, the run's visual report, from what
// the run left in dir: summary.json, events.json (each test's span and
// output), session.jsonl.gz (the console with its times, power and flash
// events, screenshots), or serial.log without times when there is no
// recording, and the failure screenshots (screens/). What is missing is
// left out; the report still says what is known.
func WriteIndex(dir string, in Index) error {
	d, err := indexData(dir, in)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := htmlreport.Write(&out, d); err != nil {
		return fmt.Errorf("testbot: the visual report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFile), out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("testbot: %w", err)
	}
	return nil
}

// indexData gathers the visual report's data from the report directory.
func indexData(dir string, in Index) (*htmlreport.Data, error) {
	d := &htmlreport.Data{Title: in.Title, Started: in.Started, Failure: in.Failure, Facts: in.Facts, Stages: in.Stages}
	sum, err := readSummary(dir)
	if err != nil {
		return nil, err
	}
	if sum != nil {
		d.Errors = sum.Errors
		d.OK = in.Failure == "" && sum.OK()
		if d.Started.IsZero() {
			d.Started = sum.Started
		}
	}
	if d.Tests, err = readTestSpans(filepath.Join(dir, "events.json")); err != nil {
		return nil, err
	}
	rec, err := readSession(filepath.Join(dir, session.FileName))
	if err != nil {
		return nil, err
	}
	if rec != nil {
		fromSession(d, rec)
	} else if b, err := os.ReadFile(filepath.Join(dir, "serial.log")); err == nil {
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l != "" {
				d.Console = append(d.Console, htmlreport.Line{Text: strings.TrimRight(l, "\r\n")})
			}
		}
	}
	if d.Started.IsZero() && len(d.Tests) > 0 {
		d.Started = d.Tests[0].Start
	}
	d.Power = append(d.Power, reboots(d.Console)...)
	sort.SliceStable(d.Power, func(i, j int) bool { return d.Power[i].T.Before(d.Power[j].T) })
	consoleSpans(d.Tests, d.Console)
	if err := addShots(d, dir); err != nil {
		return nil, err
	}
	d.Facts = append(d.Facts, htmlreport.Fact{Name: "leviathan", Value: version()})
	return d, nil
}

func readSummary(dir string) (*gotest.Summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testbot: %w", err)
	}
	var s gotest.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("testbot: summary.json: %w", err)
	}
	return &s, nil
}

func readSession(p string) (*session.Recording, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testbot: %w", err)
	}
	defer f.Close()
	rec, err := session.Read(f)
	if err != nil {
		return nil, fmt.Errorf("testbot: %s: %w", session.FileName, err)
	}
	return rec, nil
}

// maxTestOutput bounds the output kept per test in the report.
const maxTestOutput = 8 << 10

// readTestSpans reads each test's span, result and output from a
// `go test -json` stream (test2json's Package is the suite's name).
func readTestSpans(p string) ([]htmlreport.Test, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testbot: %w", err)
	}
	defer f.Close()
	type key struct{ suite, test string }
	running := map[key]int{}
	var tests []htmlreport.Test
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ev struct {
			Time                          time.Time
			Action, Package, Test, Output string
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Test == "" {
			continue
		}
		k := key{ev.Package, ev.Test}
		i, ok := running[k]
		switch {
		case ev.Action == "run":
			running[k] = len(tests)
			tests = append(tests, htmlreport.Test{Suite: ev.Package, Name: ev.Test, Start: ev.Time, ConsoleFrom: -1, ConsoleTo: -1, Screen: -1})
		case !ok:
		case ev.Action == "output":
			if t := &tests[i]; len(t.Output) < maxTestOutput {
				t.Output += ev.Output
			}
		case ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip":
			tests[i].Result, tests[i].End = ev.Action, ev.Time
			delete(running, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("testbot: events.json: %w", err)
	}
	for _, i := range running { // a suite that crashed mid-test
		tests[i].Result = "fail"
	}
	return tests, nil
}

// fromSession adds what the worker recorded: the console with its times,
// power and flash events, screenshots, and the DUT's facts.
func fromSession(d *htmlreport.Data, rec *session.Recording) {
	h := rec.Header
	at := func(t session.Duration) time.Time { return h.Started.Add(time.Duration(t)) }
	if d.Started.IsZero() {
		d.Started = h.Started
	}
	for _, f := range []htmlreport.Fact{{Name: "worker", Value: h.Worker}, {Name: "DUT", Value: h.DUT},
		{Name: "device type", Value: h.DeviceType}, {Name: "capabilities", Value: strings.Join(h.Capabilities, ", ")}} {
		if f.Value != "" {
			d.Facts = append(d.Facts, f)
		}
	}
	var partial []byte
	var partialAt time.Time
	for _, ev := range rec.Events {
		switch ev.Kind {
		case session.KindConsole:
			partial = append(partial, ev.Data...)
			partialAt = at(ev.T)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 {
					break
				}
				d.Console = append(d.Console, htmlreport.Line{T: partialAt, Text: strings.TrimRight(string(partial[:i]), "\r")})
				partial = partial[i+1:]
			}
		case session.KindPower:
			d.Power = append(d.Power, htmlreport.Mark{T: at(ev.T), What: ev.What})
		case session.KindFlash:
			d.Flash = append(d.Flash, htmlreport.Sample{T: at(ev.T), Bytes: ev.Bytes})
		case session.KindScreen:
			d.Screens = append(d.Screens, htmlreport.Screen{T: at(ev.T), Title: fmt.Sprintf("screenshot (call %d)", ev.Seq), PNG: ev.Data})
		}
	}
	if len(partial) > 0 {
		d.Console = append(d.Console, htmlreport.Line{T: partialAt, Text: string(partial)})
	}
}

// reboots marks each kernel start after the first one the console shows.
func reboots(lines []htmlreport.Line) []htmlreport.Mark {
	var marks []htmlreport.Mark
	seen := false
	for _, l := range lines {
		if !kernelBanner.MatchString(l.Text) {
			continue
		}
		if seen && !l.T.IsZero() {
			marks = append(marks, htmlreport.Mark{T: l.T, What: "reboot"})
		}
		seen = true
	}
	return marks
}

// consoleSpans sets each test's console lines: those that ended while it
// ran. Lines without times (no recording) give no spans.
func consoleSpans(tests []htmlreport.Test, lines []htmlreport.Line) {
	if len(lines) == 0 || lines[0].T.IsZero() {
		return
	}
	for i := range tests {
		t := &tests[i]
		if t.End.IsZero() {
			continue
		}
		from := sort.Search(len(lines), func(j int) bool { return !lines[j].T.Before(t.Start) })
		to := sort.Search(len(lines), func(j int) bool { return lines[j].T.After(t.End) })
		t.ConsoleFrom, t.ConsoleTo = from, to
	}
}

// addShots adds the failure screenshots: each is linked from its test,
// and replaces the recording's copy of the same picture.
func addShots(d *htmlreport.Data, dir string) error {
	shots, err := gotest.ReadShots(dir)
	if err != nil {
		return fmt.Errorf("testbot: %w", err)
	}
	for _, s := range shots {
		png, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(s.File)))
		if err != nil {
			continue
		}
		// The recording holds the same picture (the worker took it):
		// the copy nearest in time, as a suite may have taken an equal one.
		idx := -1
		for i, sc := range d.Screens {
			if sc.Test == "" && bytes.Equal(sc.PNG, png) && (idx < 0 || absDur(sc.T.Sub(s.Time)) < absDur(d.Screens[idx].T.Sub(s.Time))) {
				idx = i
			}
		}
		shot := htmlreport.Screen{T: s.Time, Title: "failure: " + s.Suite + "/" + s.Test, PNG: png, Test: s.Suite + "/" + s.Test}
		if idx >= 0 {
			d.Screens[idx] = shot
		} else {
			d.Screens = append(d.Screens, shot)
			idx = len(d.Screens) - 1
		}
		for i := range d.Tests {
			if d.Tests[i].Suite == s.Suite && d.Tests[i].Name == s.Test {
				d.Tests[i].Screen = idx
			}
		}
	}
	return nil
}

func absDur(d time.Duration) time.Duration { return max(d, -d) }

// version is this program's module version and commit.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// kernelBanner is a kernel's first console line (as testbot's boot marks
// read it).
var kernelBanner = regexp.MustCompile(`Linux version \d`)
