package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/sethvargo/go-githubactions"

	"github.com/balena/leviathan-action/suites/gotest"
)

// MaxAnnotationsPerCall is the Checks API's limit of annotations per
// create or update request.
const MaxAnnotationsPerCall = 50

// maxDetails is GitHub's limit on an annotation's message and raw_details
// (64 KB), with room to spare.
const maxDetails = 64000

// Config says where results go and how they are named.
type Config struct {
	Owner, Repo string
	HeadSHA     string // the commit the check runs attach to
	DeviceType  string
	// NameFormat names check runs; "{suite}" and "{device}" are replaced.
	// "leviathan / {suite} / {device}" when empty ("leviathan / {suite}"
	// without a device type).
	NameFormat string
	// Suite, when set, puts every case in one check run named after it
	// instead of one check run per <testsuite>.
	Suite string
	// SourceDir is the repository path of a suite's sources, with
	// "{suite}" replaced by the suite name (for example
	// "tests/suites/{suite}"). A failure's file is joined to it when
	// the file has no directory of its own.
	SourceDir string
	// Workspace is the checkout's absolute path ($GITHUB_WORKSPACE). A
	// failure's file is placed in it (see Resolver): an absolute path
	// under it is made repository-relative, a bare file name is found
	// through the case's package and the workspace's go.mod files, or as
	// the one file of that name, else kept as written. An absolute path
	// outside it gets no annotation. Empty: relative file names are taken
	// as repository-relative, absolute ones get no annotation.
	Workspace string
	// LogDir is a Leviathan report directory: tests/<suite>/<test>.serial.log
	// under it gives each failure its serial-log excerpt.
	LogDir string
	// DetailsURL is the check runs' details link.
	DetailsURL string
	// ReportURL is where the full report is, named when a summary is
	// truncated; the workflow run's page when empty and known.
	ReportURL string
	// Secrets are masked in the log (::add-mask::) and replaced by ***
	// in everything sent to GitHub.
	Secrets []string
}

// Reporter publishes test results to GitHub.
type Reporter struct {
	gh     *github.Client
	action *githubactions.Action
	cfg    Config
	paths  *Resolver
	log    *slog.Logger
	now    func() time.Time
	shots  func() []gotest.Shot // the failure screenshots, read once
	// redacted are the secrets' lines that redact replaces.
	redacted []string

	logsMu sync.Mutex
	logs   map[string]map[string]bool // suite → its serial logs, listed once
}

// Option configures a Reporter.
type Option func(*Reporter)

// WithLogger logs progress to l; the Reporter is silent by default.
func WithLogger(l *slog.Logger) Option { return func(r *Reporter) { r.log = logger(l) } }

// WithClock sets the clock used for check-run timestamps.
func WithClock(now func() time.Time) Option { return func(r *Reporter) { r.now = now } }

// New returns a Reporter that creates check runs through gh and writes
// workflow commands, the job summary and outputs through action. gh may
// be nil: failures are then reported as workflow-command annotations.
func New(gh *github.Client, action *githubactions.Action, cfg Config, opts ...Option) *Reporter {
	r := &Reporter{gh: gh, action: action, cfg: cfg, paths: NewResolver(cfg.Workspace), log: logger(nil), now: time.Now,
		logs: map[string]map[string]bool{}}
	for _, sec := range cfg.Secrets {
		for _, l := range strings.Split(sec, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 4 {
				r.redacted = append(r.redacted, l)
			}
		}
	}
	for _, o := range opts {
		o(r)
	}
	r.shots = sync.OnceValue(func() []gotest.Shot {
		if cfg.LogDir == "" {
			return nil
		}
		shots, err := gotest.ReadShots(cfg.LogDir)
		if err != nil {
			r.log.Warn("report: reading the failure screenshots", "err", err)
		}
		return shots
	})
	return r
}

// CheckRun is a check run the Reporter wrote.
type CheckRun struct {
	Name        string
	ID          int64
	URL         string
	Conclusion  string
	Annotations int
}

// Outcome is what Report did.
type Outcome struct {
	Counts
	Conclusion string // success, failure, skipped or neutral
	CheckRuns  []CheckRun
	// WorkflowCommands is set when the token could not write check runs
	// and failures were reported as ::error workflow commands instead.
	WorkflowCommands bool
	APICalls         int // GitHub API calls made, retries excluded
}

// CheckRunURL is the first check run's page, or "".
func (o *Outcome) CheckRunURL() string {
	for _, c := range o.CheckRuns {
		if c.URL != "" {
			return c.URL
		}
	}
	return ""
}

// group is the cases of one check run.
type group struct {
	suite    string
	name     string
	cases    []Case
	failures []failure
}

func (g *group) counts() Counts {
	var c Counts
	for _, k := range g.cases {
		c.add(k)
	}
	return c
}

// failure is a failed case placed in the repository.
type failure struct {
	c Case
	// path is the repository-relative file the annotation goes on; ""
	// when the failure could not be placed in the repository: it then
	// has no annotation, only its rows in the check run's summary.
	path    string
	line    int
	located bool // path and line are the failure's own, not the JUnit file's line 1
	message string
	details string
}

// where is the failure's location for a summary: path:line, else the
// file and line the tool wrote (base name only: the path was not the
// repository's), else "–".
func (f *failure) where() string {
	switch {
	case f.located && f.path != "":
		return fmt.Sprintf("%s:%d", f.path, f.line)
	case f.c.File != "" && f.c.Line > 0:
		return fmt.Sprintf("%s:%d", path.Base(filepath.ToSlash(f.c.File)), f.c.Line)
	}
	return "–"
}

func conclusion(c Counts) string {
	switch {
	case c.Failed > 0:
		return "failure"
	case c.Passed > 0:
		return "success"
	case c.Skipped > 0:
		return "skipped"
	}
	return "neutral"
}

// Report publishes res: one check run per suite (or one for Config.Suite)
// with an annotation per failed test, the job summary and the step
// outputs passed, failed, skipped, conclusion and check-run-url. When the
// token cannot write check runs, failures become ::error workflow
// commands. It returns an error when GitHub refuses the credentials or
// keeps failing after the retries; the summary and outputs are written
// even then.
func (r *Reporter) Report(ctx context.Context, res *Results) (*Outcome, error) {
	r.mask()
	groups := r.groups(res)
	out := &Outcome{Counts: res.Counts()}
	out.Conclusion = conclusion(out.Counts)
	var apiErr error
	if r.gh == nil {
		out.WorkflowCommands = true
	} else {
		for _, g := range groups {
			cr, err := r.publish(ctx, g, out)
			if isForbidden(err) && len(out.CheckRuns) == 0 {
				r.log.Warn("report: the token cannot write check runs; using workflow commands", "error", err)
				r.action.Warningf("%s", "Leviathan: the token cannot write check runs (GitHub answered 403 Resource not accessible by integration, as it does for a pull request from a fork); failures are reported as workflow annotations instead.")
				out.WorkflowCommands = true
				break
			}
			if err != nil {
				apiErr = err
				break
			}
			out.CheckRuns = append(out.CheckRuns, cr)
		}
	}
	if out.WorkflowCommands {
		r.workflowCommands(groups)
	}
	if err := r.writeSummaryAndOutputs(groups, out); err != nil {
		return out, errors.Join(apiErr, err)
	}
	return out, apiErr
}

func isForbidden(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusForbidden &&
		strings.Contains(e.Message, "Resource not accessible by integration")
}

// mask registers the secrets with the runner, line by line since a mask
// covers one line.
func (r *Reporter) mask() {
	for _, s := range r.cfg.Secrets {
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				r.action.AddMask(l)
			}
		}
	}
}

// redact replaces secrets in text bound for GitHub.
func (r *Reporter) redact(s string) string {
	for _, l := range r.redacted {
		s = strings.ReplaceAll(s, l, "***")
	}
	return s
}

// checkName is the check run's name for suite: NameFormat with its
// placeholders replaced and the parts left empty dropped with their
// separator, so "leviathan / {suite} / {device}" without a device type
// is "leviathan / os", not "leviathan / os / ".
func (r *Reporter) checkName(suite string) string {
	f := r.cfg.NameFormat
	if f == "" {
		f = "leviathan / {suite} / {device}"
	}
	return expandName(f, map[string]string{"{suite}": suite, "{device}": r.cfg.DeviceType})
}

// nameSeparators are what stands between the parts of a check-run name.
const nameSeparators = " /|:·,-–—"

// expandName replaces the placeholders of format with their values. A
// placeholder whose value is empty is removed with the separators before
// it (after it, when it begins the name), and brackets left empty go too.
func expandName(format string, values map[string]string) string {
	const gone = "\x00"
	var pairs []string
	for k, v := range values {
		if strings.TrimSpace(v) == "" {
			v = gone
		}
		pairs = append(pairs, k, v)
	}
	s := strings.NewReplacer(pairs...).Replace(format)
	for _, empty := range []string{"()", "[]", "{}", "<>"} {
		s = strings.ReplaceAll(s, empty[:1]+gone+empty[1:], gone)
	}
	for {
		i := strings.Index(s, gone)
		if i < 0 {
			break
		}
		before := strings.TrimRight(s[:i], nameSeparators)
		after := s[i+len(gone):]
		if before == "" {
			after = strings.TrimLeft(after, nameSeparators)
		}
		s = before + after
	}
	return strings.TrimSpace(s)
}

// groups splits the results into check runs and places each failure.
func (r *Reporter) groups(res *Results) []*group {
	var gs []*group
	if r.cfg.Suite != "" {
		g := &group{suite: r.cfg.Suite, name: r.checkName(r.cfg.Suite)}
		for _, s := range res.Suites {
			g.cases = append(g.cases, s.Cases...)
		}
		gs = append(gs, g)
	} else {
		for _, s := range res.Suites {
			gs = append(gs, &group{suite: s.Name, name: r.checkName(s.Name), cases: s.Cases})
		}
	}
	for _, g := range gs {
		for _, k := range g.cases {
			if k.Status == Failed {
				g.failures = append(g.failures, r.place(g.suite, k, res.Source))
			}
		}
	}
	return gs
}

// place finds a failure's repository path, line, message and details.
func (r *Reporter) place(suite string, k Case, source string) failure {
	f := failure{c: k, line: 1}
	if k.File != "" && k.Line > 0 {
		if p, ok := r.repoPath(suite, k.File, k.Classname); ok {
			f.path, f.line, f.located = p, k.Line, true
		}
	} else if p, ok := r.repoPath(suite, source, ""); ok {
		// No location: line 1 of the JUnit file, when it is the
		// repository's.
		f.path = p
	}
	_, _, msg, ok := goLocation(k.Output)
	switch {
	case ok && msg != "":
		f.message = msg
	case k.Message != "" && k.Message != "Failed":
		f.message = k.Message
	default:
		f.message = firstLine(k.Output, 500)
	}
	if strings.TrimSpace(f.message) == "" {
		f.message = "test failed"
	}
	f.message = tail(r.redact(f.message), 4000)
	f.details = r.details(suite, k)
	return f
}

// repoPath places file, written by the test tool for a case of package
// pkg, in the repository; false when it is not the repository's.
func (r *Reporter) repoPath(suite, file, pkg string) (string, bool) {
	dir := ""
	if r.cfg.SourceDir != "" {
		dir = strings.ReplaceAll(r.cfg.SourceDir, "{suite}", suite)
	}
	return r.paths.Resolve(file, pkg, dir)
}

// details is the failing test's output and, when the Leviathan report
// has one, the test's serial-log excerpt.
func (r *Reporter) details(suite string, k Case) string {
	out := tail(k.Output, 32000)
	if r.cfg.LogDir != "" {
		name := logName.Replace(k.Name) + ".serial.log"
		if r.serialLogs(suite)[name] {
			if b, err := os.ReadFile(filepath.Join(r.cfg.LogDir, "tests", suite, name)); err == nil && len(b) > 0 {
				out += "\n\n--- serial console during the test ---\n" + tail(string(b), 16000)
			}
		}
		if shot := r.failureShot(suite, k.Name); shot != "" {
			out = "A screenshot of the DUT's screen at this failure is in the report artifact: " + shot + " (shown in index.html).\n\n" + out
		}
	}
	return tail(r.redact(out), maxDetails)
}

// logName turns a test's name into its serial log's file name, less the
// ".serial.log" extension.
var logName = strings.NewReplacer("/", "__", " ", "_")

// serialLogs is the set of serial-log file names in the report
// directory's tests/<suite>, listed once per suite rather than a file
// opened, mostly in vain, for each failure.
func (r *Reporter) serialLogs(suite string) map[string]bool {
	r.logsMu.Lock()
	defer r.logsMu.Unlock()
	if logs, ok := r.logs[suite]; ok {
		return logs
	}
	logs := map[string]bool{}
	entries, _ := os.ReadDir(filepath.Join(r.cfg.LogDir, "tests", suite)) // none when it cannot be read
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".serial.log") {
			logs[e.Name()] = true
		}
	}
	r.logs[suite] = logs
	return logs
}

// failureShot is the report directory's screenshot of suite's test at
// its failure ("" when none was taken: the DUT has no screen).
func (r *Reporter) failureShot(suite, test string) string {
	for _, s := range r.shots() {
		if s.Suite == suite && s.Test == test {
			return s.File
		}
	}
	return ""
}

// visualNote points at the visual report when the report directory has
// one ("" otherwise).
func (r *Reporter) visualNote() string {
	if r.cfg.LogDir == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Join(r.cfg.LogDir, "index.html")); err != nil {
		return ""
	}
	where := "this run's report artifact"
	srv, repo, run := r.action.Getenv("GITHUB_SERVER_URL"), r.action.Getenv("GITHUB_REPOSITORY"), r.action.Getenv("GITHUB_RUN_ID")
	if srv != "" && repo != "" && run != "" {
		where = fmt.Sprintf("[this run's report artifact](%s/%s/actions/runs/%s#artifacts)", strings.TrimSuffix(srv, "/"), repo, run)
	}
	return fmt.Sprintf("\n> [!TIP]\n> The visual report — timeline, console, screenshots — is `index.html` in %s: download it and open it in a browser.\n", where)
}

// publish creates one check run: the first 50 annotations with the
// create call, 50 more with each update, the conclusion with the last
// call, so ceil(annotations/50) calls and at least one.
func (r *Reporter) publish(ctx context.Context, g *group, out *Outcome) (CheckRun, error) {
	c := g.counts()
	conc := conclusion(c)
	summary := r.redact(r.runSummary(g))
	title := countsLine(c)
	anns := make([]*github.CheckRunAnnotation, 0, len(g.failures))
	for _, f := range g.failures {
		if f.path == "" {
			continue // GitHub needs a path: the summary lists it
		}
		anns = append(anns, &github.CheckRunAnnotation{
			Path:            github.String(f.path),
			StartLine:       github.Int(f.line),
			EndLine:         github.Int(f.line),
			AnnotationLevel: github.String("failure"),
			Title:           github.String(truncRunes(r.redact(f.c.Name), 255)),
			Message:         github.String(f.message),
			RawDetails:      github.String(f.details),
		})
	}
	batch := func(i int) []*github.CheckRunAnnotation {
		lo := i * MaxAnnotationsPerCall
		return anns[lo:min(lo+MaxAnnotationsPerCall, len(anns))]
	}
	calls := max(1, (len(anns)+MaxAnnotationsPerCall-1)/MaxAnnotationsPerCall)
	output := func(i int) *github.CheckRunOutput {
		return &github.CheckRunOutput{Title: github.String(title), Summary: github.String(summary), Annotations: batch(i)}
	}
	now := github.Timestamp{Time: r.now()}
	opts := github.CreateCheckRunOptions{
		Name: g.name, HeadSHA: r.cfg.HeadSHA, StartedAt: &now, Output: output(0),
		ExternalID: github.String(g.suite),
	}
	if r.cfg.DetailsURL != "" {
		opts.DetailsURL = github.String(r.cfg.DetailsURL)
	}
	if calls == 1 {
		opts.Status, opts.Conclusion, opts.CompletedAt = github.String("completed"), github.String(conc), &now
	} else {
		opts.Status = github.String("in_progress")
	}
	out.APICalls++
	run, _, err := r.gh.Checks.CreateCheckRun(ctx, r.cfg.Owner, r.cfg.Repo, opts)
	if err != nil {
		return CheckRun{}, apiError("checks/create", err)
	}
	r.log.Info("report: created a check run", "name", g.name, "id", run.GetID(), "annotations", len(batch(0)))
	for i := 1; i < calls; i++ {
		up := github.UpdateCheckRunOptions{Name: g.name, Output: output(i)}
		out.APICalls++
		if i < calls-1 {
			err = r.updateCheckRun(ctx, run.GetID(), up)
		} else {
			done := github.Timestamp{Time: r.now()}
			up.Status, up.Conclusion, up.CompletedAt = github.String("completed"), github.String(conc), &done
			run, _, err = r.gh.Checks.UpdateCheckRun(ctx, r.cfg.Owner, r.cfg.Repo, run.GetID(), up)
		}
		if err != nil {
			return CheckRun{}, apiError("checks/update", err)
		}
	}
	return CheckRun{Name: g.name, ID: run.GetID(), URL: run.GetHTMLURL(), Conclusion: conc, Annotations: len(anns)}, nil
}

// updateCheckRun is go-github's Checks.UpdateCheckRun for an update whose
// answer is not needed: it is read and dropped, not decoded, since GitHub
// sends the whole check run back, summary (up to 64 KB) included.
func (r *Reporter) updateCheckRun(ctx context.Context, id int64, opts github.UpdateCheckRunOptions) error {
	req, err := r.gh.NewRequest(http.MethodPatch, fmt.Sprintf("repos/%v/%v/check-runs/%d", r.cfg.Owner, r.cfg.Repo, id), opts)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github.antiope-preview+json") // as go-github sends it
	_, err = r.gh.Do(ctx, req, io.Discard)
	return err
}

// workflowCommands reports failures as ::error file=…,line=…:: commands.
func (r *Reporter) workflowCommands(groups []*group) {
	for _, g := range groups {
		for _, f := range g.failures {
			var fields []string
			if f.path != "" {
				fields = append(fields, "file="+f.path)
			}
			fields = append(fields, "title="+truncRunes(r.redact(g.suite+": "+f.c.Name), 255))
			if f.located {
				fields = append(fields, "line="+strconv.Itoa(f.line))
			}
			r.action.WithFieldsSlice(fields).Errorf("%s", f.message)
		}
	}
}

// writeSummaryAndOutputs writes the job summary and the step outputs when
// the runner provides their files.
func (r *Reporter) writeSummaryAndOutputs(groups []*group, out *Outcome) (err error) {
	defer func() { // go-githubactions panics when it cannot write a file
		if p := recover(); p != nil {
			err = fmt.Errorf("report: writing the job summary or outputs: %v", p)
		}
	}()
	if r.action.Getenv("GITHUB_STEP_SUMMARY") != "" {
		r.action.AddStepSummary(r.redact(r.stepSummary(groups, out)))
	}
	if r.action.Getenv("GITHUB_OUTPUT") != "" {
		r.action.SetOutput("passed", strconv.Itoa(out.Passed))
		r.action.SetOutput("failed", strconv.Itoa(out.Failed))
		r.action.SetOutput("skipped", strconv.Itoa(out.Skipped))
		r.action.SetOutput("conclusion", out.Conclusion)
		r.action.SetOutput("check-run-url", out.CheckRunURL())
	}
	return nil
}

// reportURL is where the full report is.
func (r *Reporter) reportURL() string {
	if r.cfg.ReportURL != "" {
		return r.cfg.ReportURL
	}
	srv, repo, run := r.action.Getenv("GITHUB_SERVER_URL"), r.action.Getenv("GITHUB_REPOSITORY"), r.action.Getenv("GITHUB_RUN_ID")
	if srv != "" && repo != "" && run != "" {
		return fmt.Sprintf("%s/%s/actions/runs/%s (the junit.xml artifact)", strings.TrimSuffix(srv, "/"), repo, run)
	}
	return ""
}
