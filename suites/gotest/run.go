package gotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jstemmer/go-junit-report/v2/gtr"
	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/jstemmer/go-junit-report/v2/parser/gotest"
)

// SerialSource reads the DUT's console log from offset on and returns it
// with the log's end offset. It gives each test its console excerpt.
type SerialSource func(ctx context.Context, offset int64) ([]byte, int64, error)

// Options configure Run.
type Options struct {
	Suites []Suite
	Env    []string // added to the suites' environment (worker URL, lease, …)
	// CleanEnv starts the suites from a minimal environment (PATH, HOME,
	// TMPDIR, LANG, TZ) plus Env, instead of this process's: for runs in
	// a CI job, whose environment holds tokens the suites must not see.
	CleanEnv  bool
	ReportDir string        // where junit.xml, summary.json and tests/ go
	Run       string        // -test.run filter; all tests when empty
	Timeout   time.Duration // per suite; 30 minutes when 0
	Test2JSON string        // found with FindTest2JSON when empty
	Serial    SerialSource  // optional
	Out       io.Writer     // live progress; io.Discard when nil
	// OnFail, when set, is called as soon as a top-level test fails,
	// before the next event is read: the moment to take evidence of the
	// DUT's state (a screenshot, see ShootOnFail).
	OnFail func(ctx context.Context, suite, test string)
}

// TestResult is one test's outcome.
type TestResult struct {
	Suite   string  `json:"suite"`
	Name    string  `json:"name"`
	Result  string  `json:"result"` // pass, fail, skip
	Seconds float64 `json:"seconds"`
}

// Summary is the outcome of a run.
type Summary struct {
	Passed   int          `json:"passed"`
	Failed   int          `json:"failed"`
	Skipped  int          `json:"skipped"`
	Errors   []string     `json:"errors,omitempty"` // suites that crashed or timed out outside any test
	Seconds  float64      `json:"seconds"`
	Tests    []TestResult `json:"tests"`
	JUnit    string       `json:"junit"`
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished"`
}

// OK reports whether every test passed or was skipped and no suite crashed.
func (s *Summary) OK() bool { return s.Failed == 0 && len(s.Errors) == 0 && s.Passed+s.Skipped > 0 }

// event is one `go test -json` event.
type event struct {
	Time    time.Time `json:"Time"`
	Action  string    `json:"Action"`
	Package string    `json:"Package"`
	Test    string    `json:"Test"`
	Elapsed float64   `json:"Elapsed"`
	Output  string    `json:"Output"`
}

// Run runs every suite in turn and writes the reports. It returns an error
// only when it cannot run the suites or write the reports; failing tests
// are counted in the summary.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if len(opts.Suites) == 0 {
		return nil, errors.New("gotest: no suites to run")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Minute
	}
	t2j := opts.Test2JSON
	if t2j == "" {
		var err error
		if t2j, err = FindTest2JSON(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(opts.ReportDir, "tests"), 0o755); err != nil {
		return nil, fmt.Errorf("gotest: %w", err)
	}
	sum := &Summary{Started: time.Now()}
	streams := make([]bytes.Buffer, len(opts.Suites)) // each suite's go test -json events
	for i, s := range opts.Suites {
		if err := runSuite(ctx, opts, t2j, s, sum, &streams[i]); err != nil {
			return sum, err
		}
	}
	sum.Finished = time.Now()
	sum.Seconds = sum.Finished.Sub(sum.Started).Seconds()
	if err := writeReports(opts.ReportDir, sum, opts.Suites, streams); err != nil {
		return sum, err
	}
	return sum, ctx.Err()
}

// testState tracks one running test.
type testState struct {
	output      bytes.Buffer
	serialStart int64
}

func runSuite(ctx context.Context, opts Options, t2j string, s Suite, sum *Summary, stream *bytes.Buffer) error {
	if _, err := os.Stat(s.Binary); err != nil {
		return fmt.Errorf("gotest: suite %s: %w", s.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout+30*time.Second)
	defer cancel()
	args := []string{"-t", "-p", s.Name, s.Binary, "-test.v=test2json", "-test.timeout=" + opts.Timeout.String()}
	if opts.Run != "" {
		args = append(args, "-test.run="+opts.Run)
	}
	cmd := exec.CommandContext(ctx, t2j, args...)
	// test2json and the suite binary form one process group, killed
	// together, so a cancelled run leaves no suite driving the DUT.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(baseEnv(opts.CleanEnv), opts.Env...)
	cmd.Dir = filepath.Dir(s.Binary)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("gotest: %w", err)
	}
	fmt.Fprintf(opts.Out, "suite %s\n", s.Name)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("gotest: starting suite %s: %w", s.Name, err)
	}
	dir := filepath.Join(opts.ReportDir, "tests", s.Name)
	os.MkdirAll(dir, 0o755)
	tests := map[string]*testState{}
	var pkgOutput bytes.Buffer
	failedBefore := sum.Failed
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			continue
		}
		stream.Write(line)
		stream.WriteByte('\n')
		if ev.Test == "" {
			if ev.Action == "output" {
				pkgOutput.WriteString(ev.Output)
			}
			continue
		}
		st := tests[ev.Test]
		switch ev.Action {
		case "run":
			st = &testState{serialStart: serialEnd(ctx, opts.Serial)}
			tests[ev.Test] = st
			if !strings.Contains(ev.Test, "/") {
				fmt.Fprintf(opts.Out, "  ▶ %s\n", ev.Test)
			}
		case "output":
			if st != nil {
				st.output.WriteString(ev.Output)
			}
		case "pass", "fail", "skip":
			if st == nil {
				st = &testState{}
			}
			res := TestResult{Suite: s.Name, Name: ev.Test, Result: ev.Action, Seconds: ev.Elapsed}
			sum.Tests = append(sum.Tests, res)
			if !strings.Contains(ev.Test, "/") {
				count(sum, ev.Action)
				printResult(opts.Out, res, st.output.String())
				if ev.Action == "fail" && opts.OnFail != nil {
					opts.OnFail(ctx, s.Name, ev.Test)
				}
			}
			saveTestLogs(ctx, opts.Serial, dir, ev.Test, st)
			delete(tests, ev.Test)
		}
	}
	werr := cmd.Wait()
	if werr != nil && sum.Failed == failedBefore {
		// The binary failed outside any test: a crash, a timeout, a TestMain error.
		msg := fmt.Sprintf("suite %s: %v\n%s", s.Name, werr, strings.TrimSpace(lastLines(pkgOutput.String()+stderr.String(), 20)))
		sum.Errors = append(sum.Errors, msg)
		fmt.Fprintf(opts.Out, "  ✗ %s\n", msg)
	}
	return nil
}

func count(sum *Summary, action string) {
	switch action {
	case "pass":
		sum.Passed++
	case "fail":
		sum.Failed++
	case "skip":
		sum.Skipped++
	}
}

func printResult(w io.Writer, r TestResult, output string) {
	d := strconv.FormatFloat(r.Seconds, 'f', 2, 64) + "s"
	switch r.Result {
	case "pass":
		fmt.Fprintf(w, "  ✓ %s (%s)\n", r.Name, d)
	case "skip":
		fmt.Fprintf(w, "  – %s skipped: %s\n", r.Name, skipReason(output))
	case "fail":
		fmt.Fprintf(w, "  ✗ %s (%s)\n", r.Name, d)
		for _, l := range strings.Split(strings.TrimRight(lastLines(output, 30), "\n"), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "=== RUN") {
				continue
			}
			fmt.Fprintf(w, "      %s\n", l)
		}
	}
}

// skipReason is the text of the t.Skip call in a test's output.
func skipReason(output string) string {
	var lines []string
	for _, l := range strings.Split(output, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, " ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func serialEnd(ctx context.Context, src SerialSource) int64 {
	if src == nil {
		return 0
	}
	_, end, err := src(ctx, 1<<62)
	if err != nil {
		return 0
	}
	return end
}

// fileName makes a test name safe as a file name.
func fileName(test string) string {
	return strings.NewReplacer("/", "__", " ", "_", string(os.PathSeparator), "_").Replace(test)
}

func saveTestLogs(ctx context.Context, src SerialSource, dir, test string, st *testState) {
	base := filepath.Join(dir, fileName(test))
	os.WriteFile(base+".log", st.output.Bytes(), 0o644)
	if src == nil {
		return
	}
	if b, _, err := src(ctx, st.serialStart); err == nil {
		os.WriteFile(base+".serial.log", b, 0o644)
	}
}

func writeReports(dir string, sum *Summary, suites []Suite, streams []bytes.Buffer) error {
	// test2json on a binary prints no "ok pkg" line, so each suite's
	// stream is converted with its name given.
	var report gtr.Report
	var all bytes.Buffer
	for i, s := range suites {
		r, err := gotest.NewJSONParser(gotest.PackageName(s.Name)).Parse(bytes.NewReader(streams[i].Bytes()))
		if err != nil {
			return fmt.Errorf("gotest: converting suite %s's test events: %w", s.Name, err)
		}
		report.Packages = append(report.Packages, r.Packages...)
		all.Write(streams[i].Bytes())
	}
	stream := all.Bytes()
	host, _ := os.Hostname()
	doc := junit.CreateFromReport(report, host)
	sum.JUnit = filepath.Join(dir, "junit.xml")
	f, err := os.Create(sum.JUnit)
	if err != nil {
		return fmt.Errorf("gotest: %w", err)
	}
	if err := doc.WriteXML(f); err != nil {
		f.Close()
		return fmt.Errorf("gotest: writing JUnit: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gotest: writing JUnit: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "events.json"), stream, 0o644); err != nil {
		return fmt.Errorf("gotest: %w", err)
	}
	b, _ := json.MarshalIndent(sum, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("gotest: %w", err)
	}
	return nil
}

// baseEnv is the environment the suites start from: this process's, or
// only what a program needs to run when clean.
func baseEnv(clean bool) []string {
	if !clean {
		return os.Environ()
	}
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
