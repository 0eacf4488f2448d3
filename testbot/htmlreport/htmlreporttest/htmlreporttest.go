// Package htmlreporttest checks a report that package htmlreport wrote in a
// real browser: headless Chromium, driven over the DevTools protocol with
// chromedp (a pure Go driver: no Node, no WebDriver server). Only tests
// import it.
//
// Check opens the file, fails on any JavaScript exception, console.error,
// browser log error (a blocked resource, a Content-Security-Policy
// violation) or request that leaves the file (the report must open with no
// network), waits for the page's drawn marker (document.body.dataset.ready
// == "1") and, for a page that draws the rest after its first view, for its
// complete marker (document.body.dataset.complete, "0" until then), and
// returns what the page shows: the timeline, the test rows, the console
// anchors, the screenshots, and a PNG of the whole page. Times measures how
// long a file takes to open — until its drawn marker —, for the benchmark.
//
// The browser is /usr/bin/chromium (Debian's chromium package) or the first
// of chromium, chromium-browser, google-chrome, google-chrome-stable and
// headless-shell on PATH; without one, Check and Times return ErrNoBrowser,
// and a test skips with its message.
package htmlreporttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ErrNoBrowser is returned when no Chromium or Chrome is installed; a test
// skips with it.
var ErrNoBrowser = errors.New("htmlreporttest: no Chromium found: install Debian's chromium package (apt-get install chromium) or put chromium on PATH")

// browsers are the names looked up on PATH after /usr/bin/chromium.
var browsers = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

// Browser is the path of the browser Check starts, or ErrNoBrowser.
func Browser() (string, error) {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium", nil
	}
	for _, name := range browsers {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Want is what Check demands of the page; a zero field demands nothing (a
// caller that wants none of something checks Found).
type Want struct {
	Timeline       bool     // #timeline holds the drawing
	Tests          int      // rows in #tests (tr[data-test]), exactly
	TimelineBars   int      // test bars in the timeline, at least
	Anchors        int      // console anchors ([data-anchor]), exactly
	Screens        int      // screenshots shown (#screens img), exactly
	FailureScreens int      // failures' screenshots (#screens img[data-test]), exactly
	Absent         []string // CSS selectors that must match nothing, such as an injected element
	Verdict        string   // the verdict's text, "PASSED" or "FAILED"
	// Anchor, when set, is the fragment the page is opened at (without
	// "#"), as a link to one of its rows would open it.
	Anchor string
	// FirstView probes run in order as soon as the drawn marker is set,
	// while the page may still be drawing the rest; each must come to true.
	FirstView []Probe
	// Probes run in order once the page is complete and its counts read;
	// each must come to true (a Promise is awaited).
	Probes []Probe
}

// Probe is a JavaScript expression run in the drawn page, such as a click
// on a row and a look for what it opened.
type Probe struct {
	Name string // what it checks, for the error
	JS   string // an expression that is true, or a Promise of true, when the page behaves
}

// Found is what the page showed.
type Found struct {
	Verdict        string        // the text of #verdict
	Timeline       bool          // #timeline holds an SVG
	TimelineBars   int           // test bars in the timeline
	PowerMarks     int           // power events in the timeline
	ScreenMarks    int           // screenshot markers in the timeline
	Tests          int           // #tests tr[data-test]
	FailedRows     int           // #tests tr[data-test].fail
	Anchors        int           // #console [data-anchor]
	Screens        int           // #screens img
	FailureScreens int           // #screens img[data-test]
	Facts          int           // rows of #facts
	Absent         []string      // the selectors of Want.Absent that matched something
	Ready          time.Duration // from the start of navigation until the page's first view was drawn, as Go saw it
	Complete       time.Duration // from the start of navigation until the whole page was drawn, as Go saw it
	Log            []string      // the page's console messages that are not errors
	png            []byte
}

// SavePNG writes the screenshot of the whole page Check took to path.
func (f *Found) SavePNG(path string) error {
	if len(f.png) == 0 {
		return errors.New("htmlreporttest: no screenshot was taken")
	}
	if err := os.WriteFile(path, f.png, 0o644); err != nil {
		return fmt.Errorf("htmlreporttest: saving the screenshot: %w", err)
	}
	return nil
}

// counts is what the page's DOM holds, read in one evaluation.
const counts = `(() => {
	const n = s => document.querySelectorAll(s).length;
	const v = document.getElementById('verdict');
	return {
		Verdict: v ? v.textContent.trim() : '',
		Timeline: !!document.querySelector('#timeline svg'),
		TimelineBars: n('#timeline rect.bar'),
		PowerMarks: n('#timeline .power'),
		ScreenMarks: n('#timeline .screen-mark'),
		Tests: n('#tests tr[data-test]'),
		FailedRows: n('#tests tr[data-test].fail'),
		Anchors: n('#console [data-anchor]'),
		Screens: n('#screens img'),
		FailureScreens: n('#screens img[data-test]'),
		Facts: n('#facts tr'),
		Absent: %s.filter(s => document.querySelector(s)),
	};
})()`

// Check opens the report at path in headless Chromium and checks it: no
// JavaScript error, no request beyond the file, the drawn marker and then
// the complete marker within 30 s, the counts want demands and its probes. It returns what the page
// showed (nil when it was not drawn) and an error naming every problem.
func Check(ctx context.Context, path string, want Want) (*Found, error) {
	u, err := fileURL(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := start(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var (
		mu       sync.Mutex
		problems []string
		logged   []string
	)
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "uncaught exception: "+exception(ev.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			msg := string(ev.Type) + ": " + args(ev.Args)
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				problems = append(problems, "console."+msg)
			} else {
				logged = append(logged, msg)
			}
		case *log.EventEntryAdded:
			if ev.Entry != nil && ev.Entry.Level == log.EntryLevelError {
				problems = append(problems, fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			if ev.Request != nil && ev.Request.URL != u && !strings.HasPrefix(ev.Request.URL, "data:") {
				problems = append(problems, "the page requested "+ev.Request.URL+": a report must open with no network")
			}
		}
	}
	if err := chromedp.Listen(ctx, listen); err != nil {
		return nil, fmt.Errorf("htmlreporttest: starting the browser: %w", err)
	}
	report := func(f *Found, err error) (*Found, error) {
		mu.Lock()
		defer mu.Unlock()
		if f != nil {
			f.Log = logged
		}
		var errs []error
		if err != nil {
			errs = append(errs, err)
		}
		for _, p := range problems {
			errs = append(errs, errors.New("htmlreporttest: "+p))
		}
		return f, errors.Join(errs...)
	}

	at := u
	if want.Anchor != "" {
		at += "#" + want.Anchor
	}
	began := time.Now()
	if err := open(ctx, at); err != nil {
		return report(nil, err)
	}
	ready := time.Since(began)
	early := probe(ctx, "first view: ", want.FirstView)
	if err := wait(ctx, u, complete, "document.body.dataset.complete stayed \"0\""); err != nil {
		return report(nil, errors.Join(early, err))
	}
	whole := time.Since(began)
	f, err := chromedp.Run(ctx, chromedp.Evaluate[Found](fmt.Sprintf(counts, jsArray(want.Absent))))
	if err != nil {
		return report(nil, fmt.Errorf("htmlreporttest: reading the page: %w", err))
	}
	f.Ready, f.Complete = ready, whole
	if f.png, err = fullPage(ctx); err != nil {
		return report(&f, fmt.Errorf("htmlreporttest: taking the page's screenshot: %w", err))
	}
	return report(&f, errors.Join(early, probe(ctx, "", want.Probes), f.compare(want)))
}

// probe runs ps in order in the page and returns an error naming each that
// failed or did not come to true; when names where the page was.
func probe(ctx context.Context, when string, ps []Probe) error {
	var errs []error
	for _, p := range ps {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](p.JS, chromedp.EvalAwaitPromise))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("htmlreporttest: %sprobe %q: %w", when, p.Name, err))
		case !ok:
			errs = append(errs, fmt.Errorf("htmlreporttest: %sprobe %q came to false", when, p.Name))
		}
	}
	return errors.Join(errs...)
}

// compare is an error naming each count of want that f does not meet.
func (f *Found) compare(want Want) error {
	var errs []error
	demand := func(what string, want, got int, atLeast bool) {
		if want == 0 || got == want || (atLeast && got > want) {
			return
		}
		rel := ""
		if atLeast {
			rel = "at least "
		}
		errs = append(errs, fmt.Errorf("htmlreporttest: %s: want %s%d, the page shows %d", what, rel, want, got))
	}
	if want.Timeline && !f.Timeline {
		errs = append(errs, errors.New("htmlreporttest: #timeline holds no drawing"))
	}
	if want.Verdict != "" && f.Verdict != want.Verdict {
		errs = append(errs, fmt.Errorf("htmlreporttest: verdict: want %q, the page shows %q", want.Verdict, f.Verdict))
	}
	demand("test rows (#tests tr[data-test])", want.Tests, f.Tests, false)
	demand("test bars in the timeline", want.TimelineBars, f.TimelineBars, true)
	demand("console anchors ([data-anchor])", want.Anchors, f.Anchors, false)
	demand("screenshots (#screens img)", want.Screens, f.Screens, false)
	demand("failure screenshots (#screens img[data-test])", want.FailureScreens, f.FailureScreens, false)
	for _, s := range f.Absent {
		errs = append(errs, fmt.Errorf("htmlreporttest: %s is in the page: a string of the run was not escaped", s))
	}
	return errors.Join(errs...)
}

// Times opens the file at path n times, each in a new tab of one headless
// Chromium, and returns how long each took from the start of navigation
// until the page was ready: for an HTML page, its drawn marker
// (document.body.dataset.ready == "1", which only a report sets); for any
// other file, such as a junit.xml the browser shows as a tree, the load
// event.
func Times(ctx context.Context, path string, n int) ([]time.Duration, error) {
	return times(ctx, path, n, ready)
}

// CompleteTimes is Times up to the page's second marker
// (document.body.dataset.complete no longer "0": every row, the console
// and the screenshots drawn); for a file that is not a report, the load
// event.
func CompleteTimes(ctx context.Context, path string, n int) ([]time.Duration, error) {
	return times(ctx, path, n, complete)
}

func times(ctx context.Context, path string, n int, cond string) ([]time.Duration, error) {
	u, err := fileURL(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := start(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return nil, fmt.Errorf("htmlreporttest: starting the browser: %w", err)
	}
	var times []time.Duration
	for range n {
		tab, closeTab := chromedp.NewContext(ctx)
		if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
			closeTab()
			return times, fmt.Errorf("htmlreporttest: opening a tab: %w", err)
		}
		began := time.Now()
		err := openUntil(tab, u, cond)
		times = append(times, time.Since(began))
		closeTab()
		if err != nil {
			return times, err
		}
	}
	return times, nil
}

// The browser's window, and the tallest screenshot Check takes.
const (
	viewWidth, viewHeight = 1280, 900
	maxPNGHeight          = 16000
)

// fullPage is a PNG of the whole page (up to maxPNGHeight): the view grows
// to the page's height first, so that what the page draws only near the
// view (content-visibility: auto) is drawn.
func fullPage(ctx context.Context) ([]byte, error) {
	return chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		height := func() (int64, error) {
			return chromedp.Evaluate[int64](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(Math.ceil(document.documentElement.scrollHeight)))))`, chromedp.EvalAwaitPromise)(ctx, t)
		}
		h, err := height()
		if err != nil {
			return nil, err
		}
		defer cdp.Call(ctx, t, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		// Twice: a height in vh grows with the view, up to its cap.
		for range 2 {
			h = min(max(h, viewHeight), maxPNGHeight)
			if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: viewWidth, Height: h, DeviceScaleFactor: 1}); err != nil {
				return nil, err
			}
			if h, err = height(); err != nil {
				return nil, err
			}
		}
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
		return r.Data, err
	})
}

// start starts a headless Chromium for ctx; cancel stops it.
func start(ctx context.Context) (context.Context, context.CancelFunc, error) {
	bin, err := Browser()
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.WindowSize(viewWidth, viewHeight),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses its sandbox as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	return bctx, func() { cancelBrowser(); cancelAlloc() }, nil
}

// The page's markers, as JavaScript conditions: ready is its first view
// drawn (for a file other than HTML, its load); complete is all of it
// drawn, for a page that draws more after its first view and says so with
// document.body.dataset.complete = "0" until it is done.
const (
	ready    = `document.readyState === 'complete' && (document.contentType !== 'text/html' || (document.body && document.body.dataset.ready === '1'))`
	complete = ready + ` && (document.contentType !== 'text/html' || document.body.dataset.complete !== '0')`
)

// open navigates to u and waits until the page is ready (see Times).
func open(ctx context.Context, u string) error { return openUntil(ctx, u, ready) }

// openUntil navigates to u and waits until cond (ready or complete) holds.
func openUntil(ctx context.Context, u, cond string) error {
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		return fmt.Errorf("htmlreporttest: opening %s: %w", u, err)
	}
	why := "document.body.dataset.ready never became \"1\""
	if cond == complete {
		why = "document.body.dataset.complete stayed \"0\""
	}
	return wait(ctx, u, cond, why)
}

// wait polls the page at u until cond holds, for up to 30 s; why says what
// did not happen when it does not.
func wait(ctx context.Context, u, cond, why string) error {
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(5*time.Millisecond))); err != nil {
		return fmt.Errorf("htmlreporttest: %s was not drawn (%s): %w", u, why, err)
	}
	return nil
}

// fileURL is the file: URL of path.
func fileURL(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("htmlreporttest: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("htmlreporttest: the report: %w", err)
	}
	return (&url.URL{Scheme: "file", Path: abs}).String(), nil
}

// exception is an uncaught exception as the DevTools console shows it.
func exception(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d:%d)", s, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

// args is a console call's arguments, space-separated.
func args(as []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range as {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// jsArray is ss as a JavaScript array literal of strings.
func jsArray(ss []string) string {
	if ss == nil {
		ss = []string{}
	}
	b, _ := json.Marshal(ss) // strings always encode
	return string(b)
}
