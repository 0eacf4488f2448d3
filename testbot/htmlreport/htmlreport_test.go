package htmlreport

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// placeholders stand for the page's style and script in the golden files,
// which show only what Write renders from the data.
var placeholders = assets{CSS: "/* page.css */", JS: "/* page.js */"}

// small is a complete run of two tests, one with a subtest, a console of
// four lines and a failure's screenshot of 1×1 pixel.
func small() *Data {
	return &Data{
		Title:   "leviathan run — qemu-x86_64",
		Started: t0,
		OK:      false,
		Facts: []Fact{
			{Name: "image", Value: "leviathan-testos.img"},
			{Name: "sha256", Value: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Mono: true},
			{Name: "reproduce", Value: "leviathan run --suite os", Mono: true},
		},
		Stages:  []Span{{Name: "lease", Start: at(0), End: at(30)}, {Name: "kernel", Start: at(3), End: at(3)}},
		Flash:   []Sample{{at(1), 0}, {at(2), 50e6}},
		Power:   []Mark{{at(0.5), "on"}, {at(29), "off"}},
		Console: []Line{{at(3), "Linux version 6.6"}, {at(10), "boot: ok"}, {at(12), "net: eth0 up"}, {}},
		Tests: []Test{
			{Suite: "os", Name: "TestBoot", Result: "pass", Start: at(10), End: at(11), ConsoleFrom: 1, ConsoleTo: 2, Screen: -1},
			{Suite: "os", Name: "TestNet/dns", Result: "fail", Start: at(11), End: at(12), Output: "net_test.go:9: no answer\n", ConsoleFrom: 2, ConsoleTo: 3, Screen: 0},
			{Suite: "os", Name: "TestNet", Result: "fail", Start: at(11), End: at(12), Output: "--- FAIL: TestNet\n", ConsoleFrom: -1, ConsoleTo: -1, Screen: -1},
			{Suite: "os", Name: "TestScreen", Result: "skip", ConsoleFrom: 5, ConsoleTo: 9, Screen: 7},
		},
		Screens: []Screen{{T: at(12), Title: "TestNet/dns failed", PNG: []byte("\x89PNG"), Test: "os/TestNet/dns"}},
		Errors:  []string{"suite os: exit status 2"},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		data *Data
	}{
		{"small", small()},
		{"failed-at-flash", failedAtFlash()},
		{"passed", &Data{OK: true, Started: t0, Tests: []Test{{Suite: "os", Name: "TestBoot", Result: "pass", Start: at(1), End: at(2), ConsoleFrom: -1, ConsoleTo: -1, Screen: -1}}}},
		{"empty", &Data{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := render(&b, tc.data, placeholders); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("the report differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

func TestWriteNil(t *testing.T) {
	var nilData, empty bytes.Buffer
	if err := Write(&nilData, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(&empty, &Data{}); err != nil {
		t.Fatal(err)
	}
	if nilData.String() != empty.String() {
		t.Errorf("Write(nil) differs from the report of an empty run")
	}
}

// dataScript finds the run's JSON in a report.
var dataScript = regexp.MustCompile(`(?s)<script type="application/json" id="report-data">(.*?)</script>`)

// decode is the payload of a report Write wrote, or a test failure.
func decode(t testing.TB, html string) payload {
	t.Helper()
	m := dataScript.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no #report-data script in the report")
	}
	var p payload
	if err := json.Unmarshal([]byte(m[1]), &p); err != nil {
		t.Fatalf("#report-data is not JSON: %v", err)
	}
	return p
}

// checkInert fails unless html holds exactly the page's two scripts, no
// element of the run's strings, and a JSON payload without a raw line or
// paragraph separator.
func checkInert(t testing.TB, html string) {
	t.Helper()
	lower := strings.ToLower(html)
	if n := strings.Count(lower, "<script"); n != 2 {
		t.Errorf("the report has %d <script elements, want the page's 2", n)
	}
	if n := strings.Count(lower, "</script"); n != 2 {
		t.Errorf("the report has %d </script, want the page's 2", n)
	}
	for _, s := range []string{"<img", "<b ", "<!--", `id="pwned"`} {
		if strings.Contains(lower, s) {
			t.Errorf("the report holds %q: a string of the run was not escaped", s)
		}
	}
	if m := dataScript.FindStringSubmatch(html); m != nil && strings.ContainsAny(m[1], "\u2028\u2029<>") {
		t.Errorf("#report-data holds a raw <, >, U+2028 or U+2029")
	}
}

func TestEscaping(t *testing.T) {
	d := hostile()
	var b bytes.Buffer
	if err := Write(&b, d); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ name, text, bad string }{{"page.js", pageJS, "</script"}, {"page.js", pageJS, "<!--"}, {"page.css", pageCSS, "</style"}} {
		if strings.Contains(strings.ToLower(a.text), a.bad) {
			t.Errorf("%s holds %q, which ends its element early", a.name, a.bad)
		}
	}
	html := strings.Replace(b.String(), pageJS, "", 1) // the page's own script builds markup
	checkInert(t, html)
	p := decode(t, html)
	if got := p.Tests[0][1]; got != d.Tests[0].Name {
		t.Errorf("the test's name came back as %q, want %q", got, d.Tests[0].Name)
	}
	if got := p.Console.X[0]; got != d.Console[0].Text {
		t.Errorf("the console line came back as %q, want %q", got, d.Console[0].Text)
	}
	for _, s := range []string{"title &lt;/script&gt;", "failure &lt;/script&gt;", "error &lt;/script&gt;", "fact &lt;/script&gt;"} {
		if !strings.Contains(html, s) {
			t.Errorf("the server-rendered part lacks %q", s)
		}
	}
}

func FuzzWrite(f *testing.F) {
	f.Add("leviathan run", "TestBoot", "Linux version 6.6", "pass")
	f.Add(injection, injection, injection, injection)
	f.Add("\xff\xfe", "Test/\x00/sub", "\x1b[31mred\x1b[0m\r", "")
	f.Add("</SCRIPT >", "<!--<script>", "\u2028\u2029", "fail")
	f.Fuzz(func(t *testing.T, title, name, text, result string) {
		d := &Data{
			Title: title, Started: t0, Failure: text,
			Facts:   []Fact{{Name: name, Value: text, Mono: true}},
			Stages:  []Span{{Name: name, Start: at(1), End: at(2)}},
			Power:   []Mark{{at(1), result}},
			Console: []Line{{at(1), text}, {at(2), title}},
			Tests:   []Test{{Suite: title, Name: name, Result: result, Start: at(1), End: at(2), Output: text, ConsoleFrom: len(text) % 4, ConsoleTo: len(name) % 4, Screen: len(title)%3 - 1}},
			Screens: []Screen{{T: at(2), Title: title, PNG: []byte(text), Test: name}},
			Errors:  []string{text},
		}
		var b bytes.Buffer
		if err := Write(&b, d); err != nil {
			t.Fatal(err)
		}
		html := strings.Replace(b.String(), pageJS, "", 1)
		if n := strings.Count(strings.ToLower(html), "</script"); n != 2 {
			t.Fatalf("the report has %d </script, want the page's 2", n)
		}
		p := decode(t, html)
		if len(p.Tests) != 1 || len(p.Console.X) != 2 {
			t.Fatalf("the payload lost rows: %d tests, %d console lines", len(p.Tests), len(p.Console.X))
		}
	})
}

func TestConsoleCompressed(t *testing.T) {
	defer func(n int) { compressAbove = n }(compressAbove)
	compressAbove = 0
	d := synthetic()
	var b bytes.Buffer
	if err := Write(&b, d); err != nil {
		t.Fatal(err)
	}
	p := decode(t, b.String())
	if p.Console != nil || p.ConsoleGz == "" {
		t.Fatalf("the console travelled as JSON, want it compressed")
	}
	z, err := base64.StdEncoding.DecodeString(p.ConsoleGz)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var c console
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.X) != len(d.Console) || c.X[3] != d.Console[3].Text {
		t.Fatalf("the compressed console holds %d lines, want %d", len(c.X), len(d.Console))
	}
	// Times are deltas: their sum is the last line's time from the start.
	var sum int64
	for _, dt := range c.T {
		sum += dt
	}
	if want := d.Console[len(d.Console)-1].T.Sub(t0).Milliseconds(); sum != want {
		t.Errorf("the console's times add up to %d ms, want %d", sum, want)
	}
}

func TestConsoleRange(t *testing.T) {
	for _, tc := range []struct {
		from, to, n      int
		wantFrom, wantTo int
	}{
		{0, 3, 5, 0, 3},
		{2, 2, 5, 2, 2},       // printed nothing: still a place in the console
		{5, 5, 5, 5, 5},       // started after the last line
		{3, 9, 5, 3, 5},       // ran past the end: clipped
		{-1, -1, 5, -1, -1},   // unknown
		{6, 7, 5, -1, -1},     // out of range
		{3, 1, 5, -1, -1},     // backwards
		{0, 0, 0, 0, 0},       // no console
		{-1, 4, 5, -1, -1},    // half known
		{2, 100, 0, -1, -1},   // no console, a range anyway
		{0, 100, 100, 0, 100}, // all of it
	} {
		from, to := consoleRange(tc.from, tc.to, tc.n)
		if from != tc.wantFrom || to != tc.wantTo {
			t.Errorf("consoleRange(%d, %d, %d) = %d, %d; want %d, %d", tc.from, tc.to, tc.n, from, to, tc.wantFrom, tc.wantTo)
		}
	}
}

func TestCounts(t *testing.T) {
	got := count(synthetic())
	want := counts{Passed: 5, Failed: 2, Skipped: 1, Subtests: 2}
	if got != want {
		t.Errorf("count = %+v, want %+v", got, want)
	}
}

func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{850 * time.Millisecond, "850ms"},
		{12345 * time.Millisecond, "12.3s"},
		{133 * time.Second, "2m13s"},
		{3720 * time.Second, "1h02m"},
	} {
		if got := human(tc.d); got != tc.want {
			t.Errorf("human(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
