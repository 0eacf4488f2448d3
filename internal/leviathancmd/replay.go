package leviathancmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/autokit/session/replay"
	"github.com/balena/leviathan-action/suites/gotest"
)

const replaySynopsis = `Run suites against a stand-in worker that answers from a recorded
session — SESSION is the session.jsonl.gz a run left in its reports — so a
CI failure can be stepped through on a laptop with no board. The same calls
get the same answers and the same console, at once: waits are answered
from their recorded results, not re-timed. A call the recording does not
hold (the suite changed) fails, naming it and what the recording held next.
When the recorded run's summary.json lies beside SESSION, each test's
result is compared with the recorded one. Reports go to --reports (default:
a new directory beside SESSION). See docs/replay.md.

--serve only serves the recording and prints the environment a suite
needs, to run one under a debugger (dlv test) against it.

Exit status: 0 every result equals the recorded one and nothing diverged;
1 a result differs or the replay diverged, or it could not run (an
unreadable session, a suite that does not compile); 2 bad usage.`

// replayLease is the lease id the suites get: the stand-in takes any.
const replayLease = "replay"

// replayFlags are the settings of `leviathan replay`.
type replayFlags struct {
	session        string
	suites         stringList
	run, reports   string
	listen         string
	serve, verbose bool
	streamTimeout  time.Duration
}

func replayCmd(ctx context.Context, e Env, args []string) error {
	f, err := parseReplayFlags(e, args)
	if err != nil {
		return err
	}
	log := e.logger(f.verbose, slog.LevelError)
	rec, err := readSession(f.session)
	if err != nil {
		return &exitError{ExitTestsFailed, err}
	}
	recorded, err := readRecordedSummary(filepath.Dir(f.session))
	if err != nil {
		return &exitError{ExitTestsFailed, err}
	}
	if !f.serve && len(f.suites) == 0 {
		return usageError("name the suites to replay: --suite DIR, repeatable%s", recorded.suiteHint())
	}
	opts := []replay.Option{replay.WithLogger(log), replay.WithStreamTimeout(f.streamTimeout)}
	if from, to, ok := recorded.window(rec.Header.Started); ok {
		opts = append(opts, replay.WithWindow(from, to))
	}
	events, err := readTestEvents(filepath.Dir(f.session), rec.Header.Started)
	if err != nil {
		return &exitError{ExitTestsFailed, err}
	}
	opts = append(opts, replay.WithTestEvents(events...))
	if f.run != "" {
		spans, err := testSpans(events, f.run)
		if err != nil {
			return err
		}
		opts = append(opts, replay.WithTests(spans...))
	}
	if f.serve {
		opts = append(opts, replay.WithRestart())
	}
	h, err := replay.New(rec, opts...)
	if err != nil {
		return &exitError{ExitTestsFailed, err}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", f.listen)
	if err != nil {
		return usageError("--listen %s: %v", f.listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(e.Stdout, "replaying %s (%s) on %s\n", f.session, describeRecording(rec, h), url)
	if f.serve {
		return serveReplay(ctx, e, h, url, f.run)
	}
	return runReplay(ctx, e, f, h, url, recorded)
}

// parseReplayFlags reads the command line: flags and the one SESSION,
// in any order.
func parseReplayFlags(e Env, args []string) (*replayFlags, error) {
	f := &replayFlags{}
	fs := e.flags("replay SESSION [flags]", replaySynopsis)
	fs.Var(&f.suites, "suite", "suite to replay: a Go test package directory; repeatable, in the recorded run's order")
	fs.StringVar(&f.run, "run", "", "replay only tests matching this regexp (as go test -run); the others are not compared. With --serve: the tests the suite will run")
	fs.StringVar(&f.reports, "reports", "", "report directory (default: a new replay-* directory beside SESSION)")
	fs.BoolVar(&f.serve, "serve", false, "only serve the recording and print the environment to run a suite against it (under a debugger), until interrupted")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "address to serve the stand-in worker on")
	fs.DurationVar(&f.streamTimeout, "stream-timeout", replay.DefaultStreamTimeout, "how long a replayed tunnel waits for the suite's recorded bytes")
	fs.BoolVar(&f.verbose, "v", false, "log every answer, and each divergence as it happens")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, usageError("want one SESSION, the session.jsonl.gz of a recorded run (got %d arguments: %s)", len(pos), strings.Join(pos, " "))
	}
	f.session = pos[0]
	if f.serve && len(f.suites) > 0 {
		return nil, usageError("--serve runs no suite: drop --suite, and run the suite yourself against the URL it prints")
	}
	if f.reports != "" && sameDir(f.reports, filepath.Dir(f.session)) {
		return nil, usageError("--reports %s holds the recorded run's reports: give another directory, or none for a new one beside the session", f.reports)
	}
	return f, nil
}

// parseInterleaved parses flags and positional arguments in any order.
func parseInterleaved(fs *envconf.Flags, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{ExitUsage, err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func sameDir(a, b string) bool {
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}

// readSession reads a recording, with errors that say what to pass.
func readSession(path string) (*session.Recording, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("session %s: no such file; pass the %s a run left in its report directory (leviathan run --reports DIR leaves DIR/%s)", path, session.FileName, session.FileName)
	}
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("session %s is a directory; pass the %s in it", path, session.FileName)
	}
	rec, err := session.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a session recording a replay can read: %w", path, err)
	}
	return rec, nil
}

// describeRecording names where and when the session was recorded.
func describeRecording(rec *session.Recording, h *replay.Handler) string {
	var parts []string
	if !rec.Header.Started.IsZero() {
		parts = append(parts, "recorded "+rec.Header.Started.Local().Format("2006-01-02 15:04:05"))
	}
	where := rec.Header.DUT
	if rec.Header.Worker != "" {
		where = strings.TrimSpace(rec.Header.Worker + " " + where)
	}
	if where != "" {
		parts = append(parts, "on "+where)
	}
	parts = append(parts, fmt.Sprintf("%d calls to answer from", h.Calls()))
	return strings.Join(parts, ", ")
}

// serveReplay serves until interrupted, then reports how the replay went.
func serveReplay(ctx context.Context, e Env, h *replay.Handler, url, run string) error {
	testRun := "'TestName'"
	if run != "" {
		testRun = "'" + strings.ReplaceAll(run, "'", `'\''`) + "'"
	}
	fmt.Fprintf(e.Stdout, `run a suite against it, for instance under the debugger:

  export %s=%s %s=%s
  dlv test ./suites/os -- -test.run %s -test.v

a suite that opens the DUT again starts the replay over; Ctrl-C stops.
`, api.EnvWorkerURL, url, api.EnvLease, replayLease, testRun)
	<-ctx.Done()
	divs := h.Divergences()
	printDivergences(e.Stdout, divs, h.Notes())
	if len(divs) > 0 {
		return &exitError{ExitTestsFailed, fmt.Errorf("the replay diverged %d time(s)", len(divs))}
	}
	return nil
}

// runReplay compiles and runs the suites against the stand-in at url and
// compares their results with the recorded ones.
func runReplay(ctx context.Context, e Env, f *replayFlags, h *replay.Handler, url string, recorded *recordedRun) error {
	reports := f.reports
	if reports == "" {
		dir, err := os.MkdirTemp(filepath.Dir(f.session), "replay-")
		if err != nil {
			return &exitError{ExitTestsFailed, fmt.Errorf("a report directory beside the session: %w (give one with --reports)", err)}
		}
		reports = dir
	}
	build, err := os.MkdirTemp("", "leviathan-replay-")
	if err != nil {
		return &exitError{ExitTestsFailed, err}
	}
	defer os.RemoveAll(build)
	var suites []gotest.Suite
	for _, dir := range f.suites {
		s, err := gotest.Build(ctx, dir, build)
		var be *gotest.BuildError
		if errors.As(err, &be) {
			return &exitError{ExitTestsFailed, fmt.Errorf("suite %s does not compile; fix it (or replay the suite as it was recorded):\n%s", dir, be.Output)}
		}
		if err != nil {
			return &exitError{ExitTestsFailed, err}
		}
		suites = append(suites, s)
	}
	sum, err := gotest.Run(ctx, gotest.Options{
		Suites: suites, ReportDir: reports, Run: f.run, Out: e.Stdout, Serial: h.SerialLog,
		Env: []string{api.EnvWorkerURL + "=" + url, api.EnvLease + "=" + replayLease},
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &exitError{ExitTestsFailed, err}
	}
	r := replayReport{
		Rows:        compareResults(recorded, sum, f.run != ""),
		Recorded:    recorded,
		Seconds:     sum.Seconds,
		Errors:      sum.Errors,
		Divergences: h.Divergences(),
		Notes:       h.Notes(),
		Unused:      len(h.Unused()),
		Filtered:    f.run != "",
		Reports:     reports,
	}
	r.write(e.Stdout)
	if !r.ok() {
		return &exitError{ExitTestsFailed, errors.New(r.verdict())}
	}
	return nil
}

// recordedRun is what replay reads of the recorded run's summary.json
// (gotest's summary, and the testbot's timings or failed stage); nil
// when there is none.
type recordedRun struct {
	Tests    []gotest.TestResult `json:"tests"`
	Seconds  float64             `json:"seconds"`
	Errors   []string            `json:"errors"`
	Started  time.Time           `json:"started"`
	Finished time.Time           `json:"finished"`
	Stage    string              `json:"stage"`
	Error    string              `json:"error"`
	Timings  struct {
		Total float64 `json:"total"`
	} `json:"timings"`
}

// readRecordedSummary reads summary.json in dir; nil when there is none.
func readRecordedSummary(dir string) (*recordedRun, error) {
	p := filepath.Join(dir, "summary.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the recorded run's summary: %w", err)
	}
	r := &recordedRun{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("the recorded run's summary %s is not a run's summary.json: %w (move it away to replay without comparing)", p, err)
	}
	return r, nil
}

// window is when the recorded suites ran, since the lease began.
func (r *recordedRun) window(leaseStart time.Time) (from, to time.Duration, ok bool) {
	if r == nil || r.Started.IsZero() || leaseStart.IsZero() {
		return 0, 0, false
	}
	from = max(r.Started.Sub(leaseStart), 0)
	if !r.Finished.IsZero() {
		to = r.Finished.Sub(leaseStart)
	}
	return from, to, to == 0 || to > from
}

// suiteHint names the recorded suites, for the usage error.
func (r *recordedRun) suiteHint() string {
	if r == nil {
		return ""
	}
	var names []string
	for _, t := range r.Tests {
		if !slices.Contains(names, t.Suite) {
			names = append(names, t.Suite)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (the recorded run ran: " + strings.Join(names, ", ") + ")"
}

// resultRow is one test's recorded and replayed result ("" when it has
// none).
type resultRow struct {
	Suite, Test        string
	Recorded, Replayed string
	Seconds            float64 // the recorded test's time
	// Skipped: --run left it out, so it is not compared.
	Skipped bool
}

func (r resultRow) same() bool { return r.Skipped || r.Recorded == r.Replayed }

// compareResults pairs each test's results, the recorded run's order
// first. With filtered (--run), a recorded test the replay did not run is
// not compared.
func compareResults(rec *recordedRun, sum *gotest.Summary, filtered bool) []resultRow {
	key := func(t gotest.TestResult) string { return t.Suite + "\x00" + t.Name }
	replayed := map[string]string{}
	for _, t := range sum.Tests {
		replayed[key(t)] = t.Result
	}
	var rows []resultRow
	seen := map[string]bool{}
	if rec != nil {
		for _, t := range rec.Tests {
			k := key(t)
			seen[k] = true
			got := replayed[k]
			rows = append(rows, resultRow{Suite: t.Suite, Test: t.Name, Recorded: t.Result, Replayed: got, Seconds: t.Seconds, Skipped: filtered && got == ""})
		}
	}
	for _, t := range sum.Tests {
		if !seen[key(t)] {
			rows = append(rows, resultRow{Suite: t.Suite, Test: t.Name, Replayed: t.Result})
		}
	}
	return rows
}

// replayReport is how a replay went, as printed at its end.
type replayReport struct {
	Rows        []resultRow
	Recorded    *recordedRun // nil: no summary.json beside the session
	Seconds     float64      // the replayed suites' time
	Errors      []string     // suites that crashed
	Divergences []replay.Divergence
	Notes       []replay.Divergence // tunnels that differed
	Unused      int                 // recorded suite calls never asked for
	Filtered    bool                // --run left tests out (so their calls)
	Reports     string
}

// recordedSeconds is how long the recorded run's suites took, or with
// --run the top-level tests replayed; 0 when unknown.
func (r *replayReport) recordedSeconds() float64 {
	if r.Recorded == nil {
		return 0
	}
	if !r.Filtered {
		return r.Recorded.Seconds
	}
	var sum float64
	for _, row := range r.Rows {
		if !row.Skipped && row.Recorded != "" && !strings.Contains(row.Test, "/") {
			sum += row.Seconds
		}
	}
	return sum
}

func (r *replayReport) differing() int {
	if r.Recorded == nil {
		return 0 // nothing to compare with
	}
	n := 0
	for _, row := range r.Rows {
		if !row.same() {
			n++
		}
	}
	return n
}

func (r *replayReport) ok() bool {
	return r.differing() == 0 && len(r.Divergences) == 0 && len(r.Errors) == 0
}

// verdict is the one-line outcome.
func (r *replayReport) verdict() string {
	var why []string
	if n := r.differing(); n > 0 {
		why = append(why, fmt.Sprintf("%d result(s) differ from the recorded run", n))
	}
	if n := len(r.Divergences); n > 0 {
		why = append(why, fmt.Sprintf("the replay diverged %d time(s)", n))
	}
	if n := len(r.Errors); n > 0 {
		why = append(why, fmt.Sprintf("%d suite(s) crashed", n))
	}
	if len(why) == 0 {
		if r.Recorded == nil {
			return "the replay did not diverge (no recorded summary.json to compare results with)"
		}
		return "every result equals the recorded run's, and the replay did not diverge"
	}
	return strings.Join(why, "; ")
}

func (r *replayReport) write(w io.Writer) {
	fmt.Fprintln(w)
	if r.Recorded == nil {
		fmt.Fprintln(w, "no summary.json beside the session: the results are not compared")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TEST\tRECORDED\tREPLAYED\t")
		for _, row := range r.Rows {
			mark := ""
			if !row.same() {
				mark = "≠"
			}
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\n", row.Suite, row.Test, result(row.Recorded, "–"), result(row.Replayed, notRun(row.Skipped)), mark)
		}
		tw.Flush()
		if r.Recorded.Stage != "" {
			fmt.Fprintf(w, "the recorded run did not complete: it failed at its %s stage (%s)\n", r.Recorded.Stage, r.Recorded.Error)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "suite error: %s\n", e)
	}
	printDivergences(w, r.Divergences, r.Notes)
	if r.Unused > 0 && len(r.Divergences) == 0 && !r.Filtered {
		fmt.Fprintf(w, "note: the recording holds %d call(s) of the suites the replay never made\n", r.Unused)
	}
	fmt.Fprintf(w, "replay: suites %s", seconds(r.Seconds))
	if rec := r.recordedSeconds(); rec > 0 {
		what := "suites"
		if r.Filtered {
			what = "the same tests"
		}
		fmt.Fprintf(w, "; recorded: %s %s", what, seconds(rec))
		if r.Recorded.Timings.Total > 0 {
			fmt.Fprintf(w, " (whole run %s)", seconds(r.Recorded.Timings.Total))
		}
		if r.Seconds > 0 {
			fmt.Fprintf(w, "; %.1f× faster", rec/r.Seconds)
		}
	}
	fmt.Fprintf(w, "\nreports: %s\n%s\n", r.Reports, r.verdict())
}

// seconds writes s with a tenth's precision, a hundredth's below 1 s.
func seconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.2fs", s)
	}
	return fmt.Sprintf("%.1fs", s)
}

func result(s, none string) string {
	if s == "" {
		return none
	}
	return strings.ToUpper(s)
}

func notRun(filtered bool) string {
	if filtered {
		return "not run (--run)"
	}
	return "not run"
}

// printDivergences prints the first divergence and the first stream
// note whole, and counts the others.
func printDivergences(w io.Writer, divs, notes []replay.Divergence) {
	for _, l := range []struct {
		what string
		ds   []replay.Divergence
	}{{"first divergence", divs}, {"note: a stream differed", notes}} {
		if len(l.ds) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", l.what, l.ds[0].Message)
		if len(l.ds) > 1 {
			fmt.Fprintf(w, "(and %d more; -v logs each)\n", len(l.ds)-1)
		}
	}
}

// spanSlack widens a test's span back: test2json stamps a test's start
// when it has read the line the test printed, a moment after the test's
// first calls may have gone out.
const spanSlack = 100 * time.Millisecond

// readTestEvents reads the recorded run's go test -json stream,
// events.json in dir: when each test started and ended, since the lease
// began. None when there is no such file.
func readTestEvents(dir string, leaseStart time.Time) ([]replay.TestEvent, error) {
	b, err := os.ReadFile(filepath.Join(dir, "events.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the recorded run's test events: %w", err)
	}
	var evs []replay.TestEvent
	for line := range strings.SplitSeq(string(b), "\n") {
		var ev struct {
			Time   time.Time
			Action string
			Test   string
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Test == "" {
			continue
		}
		switch ev.Action {
		case "run", "pass", "fail", "skip":
			evs = append(evs, replay.TestEvent{T: ev.Time.Sub(leaseStart), Test: ev.Test, Start: ev.Action == "run"})
		}
	}
	return evs, nil
}

// testSpans is when each recorded top-level test matching the -run
// pattern run ran (see replay.WithTests).
func testSpans(evs []replay.TestEvent, run string) ([]replay.Span, error) {
	top := run
	if i := topLevelSlash(run); i >= 0 {
		top = run[:i]
	}
	re, err := regexp.Compile(top)
	if err != nil {
		return nil, usageError("--run %q: %v", run, err)
	}
	started := map[string]time.Duration{}
	var spans []replay.Span
	for _, ev := range evs {
		switch {
		case strings.Contains(ev.Test, "/") || !re.MatchString(ev.Test):
		case ev.Start:
			started[ev.Test] = ev.T
		default:
			if from, ok := started[ev.Test]; ok {
				spans = append(spans, replay.Span{From: from - spanSlack, To: ev.T})
			}
		}
	}
	return spans, nil
}

// topLevelSlash is the index of the first '/' of a -run pattern outside
// brackets and parentheses (where go test splits it by level), -1 when
// none.
func topLevelSlash(p string) int {
	depth := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case '/':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
