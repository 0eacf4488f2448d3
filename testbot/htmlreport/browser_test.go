package htmlreport

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/testbot/htmlreport/htmlreporttest"
)

var outDir = flag.String("out", "", "keep the browser tests' reports and screenshots in this directory (default: the test's temporary directory)")

// needBrowser skips a test that starts Chromium under -short or when none
// is installed.
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts headless Chromium; skipped with -short")
	}
	if _, err := htmlreporttest.Browser(); err != nil {
		t.Skip(err)
	}
}

// writeReport writes d's report as name.html and returns its path and
// where its screenshot goes.
func writeReport(t *testing.T, name string, d *Data) (html, png string) {
	t.Helper()
	dir := *outDir
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	html = filepath.Join(dir, name+".html")
	f, err := os.Create(html)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Write(f, d); err != nil {
		t.Fatal(err)
	}
	return html, filepath.Join(dir, name+".png")
}

func browserContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// row is the JavaScript for the test row of key.
func row(key string) string { return `document.querySelector('#tests tr[data-test="` + key + `"]')` }

// synthetic's tests by index: 3 is os/TestNetwork, 2 its subtest dns, 7
// hw/TestGPIO (4 console lines, screenshot 0).
var syntheticProbes = []htmlreporttest.Probe{
	{Name: "failures come first, each with its subtests under it", JS: `[...document.querySelectorAll('#tests tr[data-test]')].slice(0, 4).map(r => r.dataset.test).join() ===
		'os/TestNetwork,os/TestNetwork/dhcp,os/TestNetwork/dns,hw/TestGPIO'`},
	{Name: "a subtest is indented under its parent", JS: `parseInt(getComputedStyle(` + row("os/TestNetwork/dns") + `.querySelector('.name')).paddingLeft) > parseInt(getComputedStyle(` + row("os/TestNetwork") + `.querySelector('.name')).paddingLeft)`},
	{Name: "a failure shows its message in its row", JS: row("hw/TestGPIO") + `.querySelector('.msg').textContent === 'gpio_test.go:77: pin 17 read 0, want 1'`},
	{Name: "a failure's row opens to its output, screenshot and console lines", JS: `(() => {
		const r = ` + row("hw/TestGPIO") + `; r.click();
		const d = r.nextElementSibling;
		const ok = d.classList.contains('detail') && d.textContent.includes('the relay did not switch') && !!d.querySelector('img') && d.textContent.includes('hw: TestGPIO step 3');
		r.click();
		return ok && !(r.nextElementSibling && r.nextElementSibling.classList.contains('detail'));
	})()`},
	{Name: "the Failed filter shows the 3 failures only", JS: `(() => {
		document.querySelector('#tests button[data-filter="fail"]').click();
		const shown = [...document.querySelectorAll('#tests tr[data-test]')].filter(r => !r.hidden);
		document.querySelector('#tests button[data-filter="all"]').click();
		return shown.length === 3 && shown.every(r => r.classList.contains('fail')) && document.querySelectorAll('#tests tr[data-test][hidden]').length === 0;
	})()`},
	{Name: "the search box filters the tests by name", JS: `new Promise(done => {
		const s = document.getElementById('tests-search');
		s.value = 'storage'; s.dispatchEvent(new Event('input'));
		setTimeout(() => {
			const shown = [...document.querySelectorAll('#tests tr[data-test]')].filter(r => !r.hidden).map(r => r.dataset.test);
			s.value = ''; s.dispatchEvent(new Event('input'));
			setTimeout(() => done(shown.join() === 'os/TestStorage'), 300);
		}, 300);
	})`},
	{Name: "the console anchor names its test", JS: `document.getElementById('console-test-7').dataset.test === 'hw/TestGPIO' && document.getElementById('console-test-7').hasAttribute('data-anchor')`},
	{Name: "a failure's console link scrolls the console to the lines it printed and marks them", JS: `new Promise(done => {
		addEventListener('hashchange', () => requestAnimationFrame(() => {
			const els = [...document.querySelectorAll('#console .ln.sel')], sel = els.map(l => l.textContent);
			const view = document.getElementById('console-view').getBoundingClientRect(), first = els.length && els[0].getBoundingClientRect();
			done(sel.length === 4 && sel[0].includes('hw: TestGPIO step 0') && sel[3].includes('hw: TestGPIO step 3') &&
				first.top >= view.top && first.bottom <= view.bottom && view.top >= 0 && view.top < innerHeight);
		}), {once: true});
		` + row("hw/TestGPIO") + `.querySelector('a[href="#console-test-7"]').click();
	})`},
	{Name: "the console's search finds a line, marks it and jumps to it", JS: `(() => {
		const s = document.getElementById('console-search');
		s.value = 'REBOOT: restarting';
		s.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));
		const cur = document.querySelector('#console .ln.cur');
		return document.getElementById('console-count').textContent === '1 of 1 lines' && !!cur &&
			cur.querySelector('mark').textContent === 'reboot: Restarting' && cur.getBoundingClientRect().top >= document.getElementById('console-view').getBoundingClientRect().top;
	})()`},
	{Name: "the console drops escape codes and carriage returns", JS: `(() => {
		const s = document.getElementById('console-search');
		s.value = 'welcome'; s.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));
		const t = document.querySelector('#console .ln.cur').textContent;
		return t.includes('Welcome to Leviathan Test OS!') && !/[\x1b\r]/.test(t);
	})()`},
	{Name: "a test's first console line links back to the test", JS: `!!document.querySelector('#console .ln a.tag[href^="#test-"]')`},
	{Name: "a failing test's bar is red and links to its row", JS: `!!document.querySelector('#timeline a[href="#test-7"] rect.bar.fail')`},
	{Name: "the timeline draws the boot marks and the flash curve", JS: `['firmware', 'kernel', 'userspace', 'SSH up'].every(m => [...document.querySelectorAll('#timeline .mark text')].some(t => t.textContent === m)) &&
		document.querySelector('#timeline .flash-area title').textContent.startsWith('flash: ')`},
	{Name: "the screenshot marker links to the gallery, where the failure's screenshot names its test", JS: `!!document.querySelector('#timeline a.screen-mark[href="#screen-0"]') &&
		!!document.querySelector('#screen-0 img[data-test="hw/TestGPIO"]') && !!document.querySelector('#screen-0 a[href="#test-7"]')`},
	{Name: "a thumbnail opens full size and closes on a click", JS: `(() => {
		document.querySelector('#screens img').click();
		const box = document.getElementById('lightbox'), open = !box.hidden && !!box.querySelector('img');
		box.click();
		return open && box.hidden;
	})()`},
	{Name: "a link to a hidden row shows every row again", JS: `new Promise(done => {
		document.querySelector('#tests button[data-filter="skip"]').click();
		addEventListener('hashchange', () => done(!` + row("os/TestBoot") + `.hidden), {once: true});
		document.querySelector('#timeline a[href="#test-0"]').dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
	})`},
}

func TestBrowserSynthetic(t *testing.T) {
	needBrowser(t)
	for _, tc := range []struct {
		name     string
		compress bool
	}{
		{"synthetic", false},
		{"synthetic-compressed", true}, // the console travels gzip-compressed
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.compress {
				defer func(n int) { compressAbove = n }(compressAbove)
				compressAbove = 0
			}
			d := synthetic()
			html, png := writeReport(t, tc.name, d)
			found, err := htmlreporttest.Check(browserContext(t), html, htmlreporttest.Want{
				Verdict:        "FAILED",
				Timeline:       true,
				Tests:          len(d.Tests),
				TimelineBars:   8, // the top-level tests
				Anchors:        len(d.Tests),
				Screens:        2,
				FailureScreens: 1,
				Probes:         syntheticProbes,
			})
			if err != nil {
				t.Fatal(err)
			}
			if found.TimelineBars != 8 || found.PowerMarks != len(d.Power) || found.ScreenMarks != 2 || found.FailedRows != 3 || found.Facts != len(d.Facts) {
				t.Errorf("found %d test bars (want 8), %d power marks (want %d), %d screenshot marks (want 2), %d failed rows (want 3), %d facts (want %d)",
					found.TimelineBars, found.PowerMarks, len(d.Power), found.ScreenMarks, found.FailedRows, found.Facts, len(d.Facts))
			}
			if err := found.SavePNG(png); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s drawn in %v; its screenshot: %s", html, found.Ready.Round(time.Millisecond), png)
		})
	}
}

// TestBrowserLarge opens a run of 2 000 tests and 20 000 console lines:
// rows in chunks the browser lays out only near the view, and a console
// drawn a screenful at a time, must still reach every test and line.
func TestBrowserLarge(t *testing.T) {
	needBrowser(t)
	d := large(2000, 400, 20000)
	last := len(d.Tests) - 1
	html, png := writeReport(t, "large", d)
	found, err := htmlreporttest.Check(browserContext(t), html, htmlreporttest.Want{
		Verdict: "FAILED", Timeline: true, Tests: len(d.Tests), Anchors: len(d.Tests), Screens: 3, FailureScreens: 1,
		Probes: []htmlreporttest.Probe{
			{Name: "the console travelled compressed", JS: `!JSON.parse(document.getElementById('report-data').textContent).console`},
			{Name: "following a link to the last row shows it", JS: `new Promise(done => {
				addEventListener('hashchange', () => requestAnimationFrame(() => requestAnimationFrame(() => {
					const r = document.getElementById('test-` + fmt.Sprint(last) + `').getBoundingClientRect(), wrap = document.querySelector('#tests .tests-wrap').getBoundingClientRect();
					done(r.height > 0 && r.top >= wrap.top - 1 && r.bottom <= wrap.bottom + 1);
				})), {once: true});
				location.hash = '#test-` + fmt.Sprint(last) + `';
			})`},
			{Name: "the console's last line is found and drawn", JS: `(() => {
				const s = document.getElementById('console-search');
				s.value = ` + strconv.Quote(d.Console[len(d.Console)-1].Text) + `;
				s.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));
				const cur = document.querySelector('#console .ln.cur');
				return !!cur && cur.querySelector('.no').textContent === '` + fmt.Sprint(len(d.Console)) + `';
			})()`},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := found.SavePNG(png); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: first view drawn in %v, whole in %v; its screenshot: %s", html, found.Ready.Round(time.Millisecond), found.Complete.Round(time.Millisecond), png)
}

// TestBrowserFirstView checks what a run of 2 000 tests shows at its drawn
// marker, while the rest is still being drawn: the verdict, the timeline and
// the first rows, failures first; and that a filter or a row's details used
// then work on every row and on the console read later.
func TestBrowserFirstView(t *testing.T) {
	needBrowser(t)
	d := large(2000, 400, 20000)
	html, _ := writeReport(t, "first-view", d)
	_, err := htmlreporttest.Check(browserContext(t), html, htmlreporttest.Want{
		Verdict: "FAILED", Timeline: true, Tests: len(d.Tests), Anchors: len(d.Tests), Screens: 3, FailureScreens: 1,
		FirstView: []htmlreporttest.Probe{
			{Name: "the verdict, the counts, the timeline and the first rows are drawn", JS: `document.getElementById('verdict').textContent === 'FAILED' &&
				document.getElementById('counts').textContent.includes('400 failed') && document.querySelectorAll('#timeline rect.bar').length > 0 &&
				document.querySelectorAll('#tests tr[data-test]').length >= 200 && document.querySelector('#tests tr[data-test]').dataset.test === 'suite00/TestDisplay0001' &&
				+document.body.dataset.drawnMs > 0`},
			{Name: "the console's place is kept while it is read", JS: `document.getElementById('console-view').getBoundingClientRect().height > 100`},
			{Name: "when the page says it is complete, every row, console anchor and screenshot is there", JS: `new Promise(done => {
				const all = () => document.querySelectorAll('#tests tr[data-test]').length === 2000 && document.querySelectorAll('#console [data-anchor]').length === 2000 &&
					document.querySelectorAll('#screens img').length === 3 && document.querySelectorAll('#console .ln').length > 0;
				if (document.body.dataset.complete === '1') { done(all()); return; }
				new MutationObserver((_, o) => {
					if (document.body.dataset.complete !== '1') return;
					o.disconnect();
					done(all());
				}).observe(document.body, {attributes: true, attributeFilter: ['data-complete']});
			})`},
			{Name: "a filter used at once draws every row and shows the failures", JS: `(() => {
				document.querySelector('#tests button[data-filter="fail"]').click();
				const rows = [...document.querySelectorAll('#tests tr[data-test]')], shown = rows.filter(r => !r.hidden);
				document.querySelector('#tests button[data-filter="all"]').click();
				return rows.length === 2000 && shown.length === 400 && shown.every(r => r.classList.contains('fail'));
			})()`},
			{Name: "a failure's details opened at once show its console lines once read", JS: `new Promise(done => {
				const r = ` + row("suite00/TestDisplay0001") + `; r.click();
				const pre = r.nextElementSibling.querySelector('.con-lines'), began = Date.now();
				(function look() {
					if (pre.textContent) { const n = pre.textContent.split('\n').length; r.click(); done(n === 10); }
					else if (Date.now() - began > 20000) done(false);
					else setTimeout(look, 10);
				})();
			})`},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBrowserAnchors opens a run of 2 000 tests at a link to a row, a
// screenshot and a test's console lines: the page draws the target with its
// first view, goes there, and stays there while it draws the rest.
func TestBrowserAnchors(t *testing.T) {
	needBrowser(t)
	d := large(2000, 400, 20000)
	html, _ := writeReport(t, "anchors", d)
	const inView = `(el => { const r = el.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; })`
	// Check's screenshot of the whole page resizes the view, so where the
	// page stayed is looked at before: once it is complete.
	whenComplete := func(js string) string {
		return `new Promise(done => (function look() {
			if (document.body.dataset.complete === '1') requestAnimationFrame(() => done(` + js + `));
			else setTimeout(look, 10);
		})())`
	}
	for _, tc := range []struct {
		anchor        string
		drawn, stayed htmlreporttest.Probe
	}{
		{"test-1999",
			htmlreporttest.Probe{Name: "the row is drawn", JS: `!!document.getElementById('test-1999')`},
			htmlreporttest.Probe{Name: "the row is in view", JS: whenComplete(`(() => {
				const r = document.getElementById('test-1999').getBoundingClientRect(), wrap = document.querySelector('#tests .tests-wrap').getBoundingClientRect();
				return ` + inView + `(document.getElementById('test-1999')) && r.top >= wrap.top - 1 && r.bottom <= wrap.bottom + 1;
			})()`)}},
		{"screen-2",
			htmlreporttest.Probe{Name: "the screenshot is drawn", JS: `!!document.querySelector('#screen-2 img')`},
			htmlreporttest.Probe{Name: "the screenshot is in view", JS: whenComplete(inView + `(document.getElementById('screen-2'))`)}},
		{"console-test-1000",
			htmlreporttest.Probe{Name: "the test's console lines are marked", JS: `document.querySelectorAll('#console .ln.sel').length === 10`},
			htmlreporttest.Probe{Name: "the test's first console line is marked and in view", JS: whenComplete(`(() => {
				const l = document.querySelector('#console .ln.sel');
				return !!l && l.querySelector('.no').textContent === '10001' && ` + inView + `(l);
			})()`)}},
	} {
		t.Run(tc.anchor, func(t *testing.T) {
			_, err := htmlreporttest.Check(browserContext(t), html, htmlreporttest.Want{
				Verdict: "FAILED", Timeline: true, Tests: len(d.Tests), Anchors: len(d.Tests), Screens: 3,
				Anchor: tc.anchor, FirstView: []htmlreporttest.Probe{tc.drawn, tc.stayed},
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBrowserSparse opens reports of runs with little to show: a run that
// stopped at flash, one with tests but no console or screens (an older
// worker), and one with nothing at all.
func TestBrowserSparse(t *testing.T) {
	needBrowser(t)
	noConsole := synthetic()
	noConsole.Console, noConsole.Screens, noConsole.Flash, noConsole.Power = nil, nil, nil, nil
	for i := range noConsole.Tests {
		noConsole.Tests[i].ConsoleFrom, noConsole.Tests[i].ConsoleTo, noConsole.Tests[i].Screen = -1, -1, -1
	}
	for _, tc := range []struct {
		name     string
		data     *Data
		want     htmlreporttest.Want
		timeline bool
	}{
		{"failed-at-flash", failedAtFlash(), htmlreporttest.Want{Verdict: "FAILED", Timeline: true, Probes: []htmlreporttest.Probe{
			{Name: "the failure is shown", JS: `document.getElementById('failure').textContent.startsWith('flash: ')`},
			{Name: "the tests say none ran", JS: `document.querySelector('#tests .empty').textContent.includes('stopped before its suites')`},
			{Name: "the console says none was recorded", JS: `!!document.querySelector('#console .empty')`},
			{Name: "the flash curve is drawn", JS: `!!document.querySelector('#timeline .flash-area')`},
		}}, true},
		{"no-console", noConsole, htmlreporttest.Want{Verdict: "FAILED", Timeline: true, Tests: len(noConsole.Tests), TimelineBars: 8, Probes: []htmlreporttest.Probe{
			{Name: "rows have no console link", JS: `!document.querySelector('#tests a[href^="#console-test-"]')`},
			{Name: "a failure's row still opens", JS: `(() => { const r = ` + row("hw/TestGPIO") + `; r.click(); return r.nextElementSibling.textContent.includes('pin 17'); })()`},
		}}, true},
		{"nothing", &Data{}, htmlreporttest.Want{Verdict: "FAILED", Probes: []htmlreporttest.Probe{
			{Name: "the timeline says there is nothing to draw", JS: `document.querySelector('#timeline .empty').textContent.startsWith('Nothing')`},
		}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			html, png := writeReport(t, tc.name, tc.data)
			found, err := htmlreporttest.Check(browserContext(t), html, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if found.Timeline != tc.timeline || found.Anchors != 0 || found.Screens != 0 {
				t.Errorf("found timeline %v (want %v), %d console anchors, %d screenshots (want none)", found.Timeline, tc.timeline, found.Anchors, found.Screens)
			}
			if err := found.SavePNG(png); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s; its screenshot: %s", html, png)
		})
	}
}

// TestBrowserBadConsole opens a report whose compressed console is
// damaged: the page says so in the console's place and draws the rest.
func TestBrowserBadConsole(t *testing.T) {
	needBrowser(t)
	defer func(n int) { compressAbove = n }(compressAbove)
	compressAbove = 0
	html, png := writeReport(t, "bad-console", synthetic())
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	// the gzip header kept, the deflate data after it all ones: a block of
	// the reserved type
	damaged := regexp.MustCompile(`("consoleGz":"H4sI[A-Za-z0-9+/]{12})[A-Za-z0-9+/]{40}`).ReplaceAllString(string(b), `${1}`+strings.Repeat("/", 40))
	if damaged == string(b) {
		t.Fatal("no compressed console to damage in the report")
	}
	if err := os.WriteFile(html, []byte(damaged), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := htmlreporttest.Check(browserContext(t), html, htmlreporttest.Want{
		Verdict: "FAILED", Timeline: true, Tests: 10, Screens: 2,
		Probes: []htmlreporttest.Probe{
			{Name: "the console says it cannot be inflated", JS: `document.querySelector('#console .empty').textContent.includes('cannot inflate the console')`},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := found.SavePNG(png); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserEscaping opens a report whose every string holds markup that
// runs script (console.error, which Check fails on) or adds an element if
// it is not escaped.
func TestBrowserEscaping(t *testing.T) {
	needBrowser(t)
	d := hostile()
	html, png := writeReport(t, "hostile", d)
	found, err := htmlreporttest.Check(browserContext(t), html, htmlreporttest.Want{
		Verdict: "FAILED", Timeline: true, Tests: 1, Anchors: 1, Screens: 1, FailureScreens: 1,
		Absent: []string{"#pwned", "b", `img[src="x"]`, "img[onerror]", "script:not(#report-data):not(:last-of-type)"},
		Probes: []htmlreporttest.Probe{
			{Name: "the page has its two scripts only", JS: `document.querySelectorAll('script').length === 2`},
			{Name: "the test's name shows as text", JS: `document.querySelector('#tests tr[data-test]').textContent.includes('Test</script><img src=x onerror=')`},
			{Name: "the console line shows as text", JS: `[...document.querySelectorAll('#console .ln')].some(l => l.textContent.includes('console </script><img src=x'))`},
			{Name: "the stage's name shows as text in the timeline", JS: `[...document.querySelectorAll('#timeline title')].some(t => t.textContent.startsWith('stage </script><img'))`},
			{Name: "the failure's screenshot links its test", JS: `!!document.querySelector('#screens a[href="#test-0"]')`},
			{Name: "the title is text", JS: `document.title.includes('<img src=x')`},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(found.Absent, "") != "" {
		t.Errorf("injected elements: %v", found.Absent)
	}
	if err := found.SavePNG(png); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; its screenshot: %s", html, png)
}

// TestCheckCatchesErrors makes sure the kit fails a page that throws, logs
// an error or loads something from the network: a check that
// cannot fail proves nothing.
func TestCheckCatchesErrors(t *testing.T) {
	needBrowser(t)
	dir := t.TempDir()
	const drawn = `<body><script>document.body.dataset.ready = '1';</script>`
	for _, tc := range []struct {
		name, page string
		check      htmlreporttest.Want
		want       string
	}{
		{"exception", `<body><script>document.body.dataset.ready = '1'; null.x;</script>`, htmlreporttest.Want{}, "uncaught exception"},
		{"console.error", `<body><script>console.error('boom'); document.body.dataset.ready = '1';</script>`, htmlreporttest.Want{}, "console.error: boom"},
		{"network", `<body><img src="https://example.invalid/x.png"><script>document.body.dataset.ready = '1';</script>`, htmlreporttest.Want{}, "requested https://example.invalid/x.png"},
		{"probe", drawn, htmlreporttest.Want{Probes: []htmlreporttest.Probe{{Name: "one is two", JS: "1 === 2"}}}, `probe "one is two" came to false`},
		{"counts", drawn, htmlreporttest.Want{Tests: 3, Timeline: true}, "test rows (#tests tr[data-test]): want 3, the page shows 0"},
		{"absent", `<body><b id="pwned"></b>` + drawn, htmlreporttest.Want{Absent: []string{"#pwned"}}, "#pwned is in the page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".html")
			if err := os.WriteFile(path, []byte(tc.page), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := htmlreporttest.Check(browserContext(t), path, tc.check)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
