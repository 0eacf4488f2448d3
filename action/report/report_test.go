package report_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/sethvargo/go-githubactions"

	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/action/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const secret = "s3cr3t-api-key-value"

// env is a fake GitHub and a fake runner (step summary and output files,
// workflow commands captured).
type env struct {
	srv     *githubtest.Server
	stdout  bytes.Buffer
	summary string
	output  string
	action  *githubactions.Action
	mu      sync.Mutex
	sleeps  []time.Duration
}

func newEnv(t testing.TB, opts ...githubtest.Option) *env {
	t.Helper()
	e := &env{srv: githubtest.NewServer(t, opts...)}
	dir := t.TempDir()
	e.summary, e.output = filepath.Join(dir, "summary.md"), filepath.Join(dir, "output")
	vars := map[string]string{
		"GITHUB_STEP_SUMMARY": e.summary,
		"GITHUB_OUTPUT":       e.output,
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_REPOSITORY":   "balena/meta",
		"GITHUB_RUN_ID":       "4242",
	}
	e.action = githubactions.New(
		githubactions.WithGetenv(func(k string) string { return vars[k] }),
		githubactions.WithWriter(&e.stdout))
	return e
}

func (e *env) client(t testing.TB, token string) *github.Client {
	t.Helper()
	gh, err := report.NewTokenClient(token, e.clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	return gh
}

func (e *env) clientConfig() report.ClientConfig {
	return report.ClientConfig{
		BaseURL:   e.srv.URL,
		Transport: e.srv.HTTPClient().Transport,
		Retry: report.RetryPolicy{Sleep: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.sleeps = append(e.sleeps, d)
			return nil
		}},
	}
}

func config() report.Config {
	return report.Config{
		Owner: "balena", Repo: "meta", HeadSHA: "0123456789abcdef0123456789abcdef01234567",
		DeviceType: "raspberrypi4-64", SourceDir: "tests/suites/{suite}",
		LogDir: "testdata/logs", Secrets: []string{secret},
	}
}

var fixed = func() time.Time { return time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC) }

func sample(t testing.TB) *report.Results {
	t.Helper()
	res, err := report.ParseFile("testdata/sample.xml")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

func TestParse(t *testing.T) {
	res := sample(t)
	if len(res.Suites) != 2 || res.Suites[0].Name != "os" || len(res.Suites[0].Cases) != 5 {
		t.Fatalf("suites = %+v", res.Suites)
	}
	c := res.Counts()
	if c.Passed != 3 || c.Failed != 3 || c.Skipped != 1 {
		t.Errorf("counts = %+v", c)
	}
	h := res.Suites[0].Cases[1]
	if h.Name != `TestHostname/ünïcödé <name> & "quotes" | pipe` {
		t.Errorf("name not preserved: %q", h.Name)
	}
	if h.Status != report.Failed || h.File != "os_test.go" || h.Line != 42 || h.Duration != 100*time.Millisecond {
		t.Errorf("case = %+v", h)
	}
	if rb := res.Suites[1].Cases[1]; rb.Status != report.Failed || rb.File != "" {
		t.Errorf("error case = %+v", rb)
	}
}

func TestParseSingleSuiteRootAndAttributes(t *testing.T) {
	x := `<testsuite name="pytest"><testcase classname="t.test_a" name="test_x" file="tests/test_a.py" line="12" time="1,000.5"><failure message="assert 1 == 2">trace</failure></testcase></testsuite>`
	res, err := report.Parse(strings.NewReader(x), "py.xml")
	if err != nil {
		t.Fatal(err)
	}
	k := res.Suites[0].Cases[0]
	if k.File != "tests/test_a.py" || k.Line != 12 || k.Duration != 1000500*time.Millisecond || k.Message != "assert 1 == 2" {
		t.Errorf("case = %+v", k)
	}
}

func TestParseErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.xml")
	os.WriteFile(bad, []byte(`<testsuites><testsuite name="x"><testcase name="a">`), 0o644)
	empty := filepath.Join(dir, "empty.xml")
	os.WriteFile(empty, nil, 0o644)
	html := filepath.Join(dir, "page.xml")
	os.WriteFile(html, []byte(`<html></html>`), 0o644)
	for _, p := range []string{bad, empty, html, filepath.Join(dir, "missing.xml")} {
		_, err := report.ParseFile(p)
		if err == nil || !strings.Contains(err.Error(), filepath.Base(p)) || !strings.HasPrefix(err.Error(), "report: ") {
			t.Errorf("%s: err = %v", filepath.Base(p), err)
		}
	}
}

func TestReport(t *testing.T) {
	e := newEnv(t)
	r := report.New(e.client(t, githubtest.DefaultToken), e.action, config(), report.WithClock(fixed))
	out, err := r.Report(context.Background(), sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if out.Conclusion != "failure" || out.Failed != 3 || len(out.CheckRuns) != 2 || out.APICalls != 2 {
		t.Fatalf("outcome = %+v", out)
	}
	runs := e.srv.CheckRuns()
	if len(runs) != 2 {
		t.Fatalf("%d check runs", len(runs))
	}
	os := runs[0]
	if os.Name != "leviathan / os / raspberrypi4-64" || os.Status != "completed" || os.Conclusion != "failure" || os.Title != "2 failed, 2 passed, 1 skipped" {
		t.Errorf("check run = %+v", os)
	}
	if len(os.Annotations) != 2 {
		t.Fatalf("annotations = %+v", os.Annotations)
	}
	a := os.Annotations[0]
	if a.Path != "tests/suites/os/os_test.go" || a.StartLine != 42 || a.Level != "failure" ||
		a.Message != "hostname = \"balena\", want \"ünïcödé\"\nextra context line" ||
		a.Title != `TestHostname/ünïcödé <name> & "quotes" | pipe` {
		t.Errorf("annotation = %+v", a)
	}
	n := os.Annotations[1]
	if n.Path != "tests/suites/os/network_test.go" || n.StartLine != 17 || !strings.Contains(n.RawDetails, "eth0: link down") {
		t.Errorf("network annotation = %+v", n)
	}
	if runs[1].Annotations[0].Path != "testdata/sample.xml" || runs[1].Annotations[0].StartLine != 1 {
		t.Errorf("unlocated failure = %+v", runs[1].Annotations[0])
	}
	golden(t, "checkrun-summary.golden.md", os.Summary)
	sum, _ := readFile(e.summary)
	golden(t, "step-summary.golden.md", strings.ReplaceAll(sum, e.srv.URL, "https://github.example/"))
	outputs, _ := readFile(e.output)
	for _, want := range []string{"passed<<", "\n3\n", "failed<<", "conclusion<<", "failure", "check-run-url<<", e.srv.URL + "balena/meta/runs/"} {
		if !strings.Contains(outputs, want) {
			t.Errorf("outputs lack %q:\n%s", want, outputs)
		}
	}
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

func TestMasksSecrets(t *testing.T) {
	e := newEnv(t)
	cfg := config()
	pemLike := "-----BEGIN KEY-----\nAAAAsecretline1\nBBBBsecretline2\n-----END KEY-----"
	cfg.Secrets = append(cfg.Secrets, pemLike)
	_, err := report.New(e.client(t, githubtest.DefaultToken), e.action, cfg).Report(context.Background(), sample(t))
	if err != nil {
		t.Fatal(err)
	}
	log := e.stdout.String()
	for _, want := range []string{"::add-mask::" + secret, "::add-mask::AAAAsecretline1", "::add-mask::BBBBsecretline2"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in the log:\n%s", want, log)
		}
	}
	sum, _ := readFile(e.summary)
	for _, cr := range e.srv.CheckRuns() {
		sent := cr.Summary
		for _, a := range cr.Annotations {
			sent += a.Message + a.RawDetails + a.Title
		}
		if strings.Contains(sent, secret) {
			t.Errorf("check run %s carries the secret", cr.Name)
		}
	}
	if strings.Contains(sum, secret) || !strings.Contains(e.srv.CheckRuns()[0].Annotations[1].Message, "***") {
		t.Error("the secret was not replaced")
	}
}

func TestFallsBackToWorkflowCommands(t *testing.T) {
	e := newEnv(t, githubtest.WithReadOnlyToken("ghs_fork"))
	out, err := report.New(e.client(t, "ghs_fork"), e.action, config()).Report(context.Background(), sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if !out.WorkflowCommands || len(out.CheckRuns) != 0 || len(e.srv.CheckRuns()) != 0 {
		t.Fatalf("outcome = %+v", out)
	}
	log := e.stdout.String()
	want := "::error file=tests/suites/os/os_test.go,line=42,title=os%3A TestHostname/ünïcödé <name> & \"quotes\" | pipe::hostname = \"balena\", want \"ünïcödé\"%0Aextra context line"
	if !strings.Contains(log, want) {
		t.Errorf("no %q in:\n%s", want, log)
	}
	if strings.Count(log, "::error ") != 3 || !strings.Contains(log, "::warning::") {
		t.Errorf("log:\n%s", log)
	}
	if strings.Count(log, secret) != 1 { // only in ::add-mask::
		t.Error("the log carries the secret")
	}
	if e.srv.Calls("checks/create") != 1 {
		t.Errorf("checks/create called %d times, want 1 (403 is not retried)", e.srv.Calls("checks/create"))
	}
	sum, _ := readFile(e.summary)
	if !strings.Contains(sum, "cannot write check runs") {
		t.Errorf("summary:\n%s", sum)
	}
}

func TestBadCredentials(t *testing.T) {
	e := newEnv(t)
	out, err := report.New(e.client(t, "ghp_wrongtoken123"), e.action, config()).Report(context.Background(), sample(t))
	var apiErr *report.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || !strings.Contains(err.Error(), "Bad credentials") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "ghp_wrongtoken123") {
		t.Error("the error prints the token")
	}
	if e.srv.Calls("checks/create") != 1 || len(e.sleeps) != 0 {
		t.Errorf("401 retried: %d calls, sleeps %v", e.srv.Calls("checks/create"), e.sleeps)
	}
	// The summary and outputs are still written.
	if outputs, _ := readFile(e.output); !strings.Contains(outputs, "failure") || out.Failed != 3 {
		t.Errorf("outputs:\n%s", outputs)
	}
}

func TestRetries(t *testing.T) {
	e := newEnv(t)
	e.srv.FailNext("checks/create", 1, githubtest.ServerError(502))
	e.srv.FailNext("checks/create", 1, githubtest.SecondaryRateLimit(30*time.Second))
	e.srv.FailNext("checks/create", 1, githubtest.TooManyRequests(5*time.Second))
	e.srv.FailNext("checks/create", 1, githubtest.ServerError(500))
	start := time.Now()
	out, err := report.New(e.client(t, githubtest.DefaultToken), e.action, config()).Report(context.Background(), sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CheckRuns) != 2 || e.srv.Calls("checks/create") != 6 {
		t.Errorf("%d check runs, %d create calls", len(out.CheckRuns), e.srv.Calls("checks/create"))
	}
	want := []time.Duration{time.Second, 30 * time.Second, 5 * time.Second, 8 * time.Second}
	if fmt.Sprint(e.sleeps) != fmt.Sprint(want) {
		t.Errorf("waits = %v, want %v", e.sleeps, want)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the test slept")
	}
}

func TestRetriesAreBounded(t *testing.T) {
	e := newEnv(t)
	e.srv.FailNext("checks/create", 10, githubtest.ServerError(503))
	_, err := report.New(e.client(t, githubtest.DefaultToken), e.action, config()).Report(context.Background(), sample(t))
	var apiErr *report.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 || apiErr.Op != "checks/create" {
		t.Fatalf("err = %v", err)
	}
	if e.srv.Calls("checks/create") != 5 || len(e.sleeps) != 4 {
		t.Errorf("%d calls, waits %v", e.srv.Calls("checks/create"), e.sleeps)
	}
	// A Retry-After beyond the policy's MaxWait is not waited for.
	e2 := newEnv(t)
	e2.srv.FailNext("checks/create", 1, githubtest.SecondaryRateLimit(time.Hour))
	_, err = report.New(e2.client(t, githubtest.DefaultToken), e2.action, config()).Report(context.Background(), sample(t))
	if err == nil || len(e2.sleeps) != 0 {
		t.Errorf("err %v, waits %v", err, e2.sleeps)
	}
}

// The updates between a check run's create and its last update drop
// GitHub's answer unread: their errors and retries are still those of
// any call.
func TestIntermediateUpdates(t *testing.T) {
	res, err := report.Parse(bytes.NewReader(genJUnit(300, 120)), "mid.xml") // create + 2 updates
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.srv.FailNext("checks/update", 1, githubtest.ServerError(502))
	out, err := report.New(e.client(t, githubtest.DefaultToken), e.action, config()).Report(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	runs := e.srv.CheckRuns()
	if len(runs) != 1 || len(runs[0].Annotations) != 120 || runs[0].Updates != 2 || runs[0].Status != "completed" {
		t.Fatalf("runs = %+v", runs)
	}
	if out.APICalls != 3 || e.srv.Calls("checks/update") != 3 || len(e.sleeps) != 1 {
		t.Errorf("%d API calls, %d update requests, waits %v; want 3, 3 (one retried) and one wait", out.APICalls, e.srv.Calls("checks/update"), e.sleeps)
	}
	if out.CheckRunURL() == "" || out.CheckRuns[0].ID != runs[0].ID {
		t.Errorf("check runs = %+v", out.CheckRuns)
	}

	e2 := newEnv(t)
	e2.srv.FailNext("checks/update", 5, githubtest.ServerError(503))
	_, err = report.New(e2.client(t, githubtest.DefaultToken), e2.action, config()).Report(context.Background(), res)
	var apiErr *report.APIError
	if !errors.As(err, &apiErr) || apiErr.Op != "checks/update" || apiErr.Status != 503 {
		t.Fatalf("err = %v", err)
	}
	if runs := e2.srv.CheckRuns(); runs[0].Updates != 0 || runs[0].Status != "in_progress" {
		t.Errorf("the failed update changed the run: %+v", runs[0])
	}
}

// A failure's serial log is tests/<suite>/<test>.serial.log with "/"
// and " " in the test's name replaced; an empty file or a directory of
// that name adds nothing.
func TestSerialLogs(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "tests", "os")
	os.MkdirAll(filepath.Join(logs, "TestB.serial.log"), 0o755)
	os.WriteFile(filepath.Join(logs, "TestA__sub_case.serial.log"), []byte("[  1.0] eth0: up\n"), 0o644)
	os.WriteFile(filepath.Join(logs, "TestC.serial.log"), nil, 0o644)
	x := `<testsuite name="os">` +
		`<testcase name="TestA/sub case"><failure message="a"/></testcase>` +
		`<testcase name="TestB"><failure message="b"/></testcase>` +
		`<testcase name="TestC"><failure message="c"/></testcase>` +
		`<testcase name="TestD"><failure message="d"/></testcase></testsuite>`
	res, err := report.Parse(strings.NewReader(x), "logs.xml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	cfg := config()
	cfg.LogDir = dir
	if _, err := report.New(e.client(t, githubtest.DefaultToken), e.action, cfg).Report(t.Context(), res); err != nil {
		t.Fatal(err)
	}
	anns := e.srv.CheckRuns()[0].Annotations
	if len(anns) != 4 {
		t.Fatalf("%d annotations, want 4", len(anns))
	}
	for _, a := range anns {
		has := strings.Contains(a.RawDetails, "--- serial console during the test ---\n[  1.0] eth0: up")
		if want := a.Title == "TestA/sub case"; has != want || (!want && strings.Contains(a.RawDetails, "serial console")) {
			t.Errorf("%s: raw details %q", a.Title, a.RawDetails)
		}
	}
}

// genJUnit writes a go-junit-report style file with n cases, the first
// failures of which fail.
func genJUnit(n, failures int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"%d\" failures=\"%d\">\n<testsuite name=\"os\" tests=\"%d\">\n", n, failures, n)
	for i := range n {
		if i < failures {
			fmt.Fprintf(&b, "<testcase name=\"TestCase%05d/ü&lt;%d&gt;\" classname=\"os\" time=\"0.010\"><failure message=\"Failed\"><![CDATA[=== RUN   TestCase%05d\n    gen_test.go:%d: value %d is wrong\n--- FAIL: TestCase%05d (0.01s)]]></failure></testcase>\n", i, i, i, i+10, i, i)
		} else {
			fmt.Fprintf(&b, "<testcase name=\"TestCase%05d\" classname=\"os\" time=\"0.001\"></testcase>\n", i)
		}
	}
	b.WriteString("</testsuite>\n</testsuites>\n")
	return b.Bytes()
}

func TestLargeReport(t *testing.T) {
	res, err := report.Parse(bytes.NewReader(genJUnit(10000, 2000)), "big.xml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	cfg := config()
	cfg.ReportURL = "https://example.test/full-report"
	out, err := report.New(e.client(t, githubtest.DefaultToken), e.action, cfg).Report(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	runs := e.srv.CheckRuns()
	if len(runs) != 1 || len(runs[0].Annotations) != 2000 || runs[0].Conclusion != "failure" {
		t.Fatalf("runs = %d, annotations = %d", len(runs), len(runs[0].Annotations))
	}
	if a := runs[0].Annotations[1999]; a.StartLine != 2009 || a.Path != "tests/suites/os/gen_test.go" || a.Title != "TestCase01999/ü<1999>" {
		t.Errorf("last annotation = %+v", a)
	}
	calls := e.srv.Calls("checks/create") + e.srv.Calls("checks/update")
	if budget := (2000+49)/50 + 2; calls > budget || out.APICalls != calls {
		t.Errorf("%d API calls (outcome says %d), budget %d", calls, out.APICalls, budget)
	}
	if e.srv.Calls("checks/create") != 1 || runs[0].Updates != 39 {
		t.Errorf("create %d, updates %d", e.srv.Calls("checks/create"), runs[0].Updates)
	}
	s := runs[0].Summary
	if len(s) > report.MaxSummary || !strings.Contains(s, "**Truncated**") || !strings.Contains(s, "https://example.test/full-report") {
		t.Errorf("summary: %d bytes, tail %q", len(s), s[max(0, len(s)-300):])
	}
	if out.Passed != 8000 || out.Failed != 2000 {
		t.Errorf("counts = %+v", out.Counts)
	}
}

func TestSummaryTruncatedAtLimit(t *testing.T) {
	// Long non-ASCII names push the summary over the limit quickly.
	var b bytes.Buffer
	b.WriteString(`<testsuite name="os">`)
	for i := range 400 {
		fmt.Fprintf(&b, `<testcase name="Test%d_%s"><failure message="m">    x_test.go:1: %s</failure></testcase>`, i, strings.Repeat("ß", 100), strings.Repeat("é|", 50))
	}
	b.WriteString(`</testsuite>`)
	res, err := report.Parse(&b, "x.xml")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	if _, err := report.New(e.client(t, githubtest.DefaultToken), e.action, config()).Report(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	s := e.srv.CheckRuns()[0].Summary
	if len(s) > report.MaxSummary || len(s) < report.MaxSummary-5000 {
		t.Errorf("summary is %d bytes", len(s))
	}
	if !strings.HasSuffix(s, "Full report: https://github.com/balena/meta/actions/runs/4242 (the junit.xml artifact)\n") {
		t.Errorf("summary ends %q", s[len(s)-200:])
	}
}

func TestAppClient(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	e := newEnv(t, githubtest.WithApp(githubtest.App{ID: 7, InstallationID: 70, PublicKey: &key.PublicKey, Repos: []string{"balena/meta"}}))
	ctx := context.Background()
	gh, err := report.NewAppClient(ctx, report.App{ID: 7, Owner: "balena", Repo: "meta", PrivateKey: pemKey}, e.clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	out, err := report.New(gh, e.action, config()).Report(ctx, sample(t))
	if err != nil || len(out.CheckRuns) != 2 {
		t.Fatalf("err %v, outcome %+v", err, out)
	}
	if e.srv.Calls("apps/get-repo-installation") != 1 || e.srv.Calls("apps/create-installation-access-token") != 1 {
		t.Errorf("calls = %v", e.srv.CallCounts())
	}

	_, err = report.NewAppClient(ctx, report.App{ID: 7, InstallationID: 70, PrivateKey: []byte("not a key " + secret), KeySource: "the app-private-key input"}, e.clientConfig())
	if err == nil || !strings.Contains(err.Error(), "app-private-key input") || strings.Contains(err.Error(), secret) {
		t.Errorf("malformed PEM: %v", err)
	}
	bad := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("garbage")})
	_, err = report.NewAppClient(ctx, report.App{ID: 7, InstallationID: 70, PrivateKey: bad, KeySource: "APP_KEY"}, e.clientConfig())
	if err == nil || !strings.Contains(err.Error(), "APP_KEY") {
		t.Errorf("bad key: %v", err)
	}
	// An app without an installation on the repository.
	_, err = report.NewAppClient(ctx, report.App{ID: 7, Owner: "balena", Repo: "other", PrivateKey: pemKey}, e.clientConfig())
	var apiErr *report.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("no installation: %v", err)
	}
}

// A report directory with a visual report and a failure screenshot: the
// failure's annotation says where the screenshot is, and both summaries
// point at index.html in the run's artifacts.
func TestReportPointsAtTheVisualReport(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tests", "os"), 0o755)
	os.MkdirAll(filepath.Join(dir, "screens"), 0o755)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html>"), 0o644)
	os.WriteFile(filepath.Join(dir, "screens", "screens.json"),
		[]byte(`[{"suite":"os","test":"TestNetwork","time":"2026-01-10T10:00:00Z","file":"screens/01-os-TestNetwork.png"}]`), 0o644)
	e := newEnv(t)
	cfg := config()
	cfg.LogDir = dir
	out, err := report.New(e.client(t, githubtest.DefaultToken), e.action, cfg, report.WithClock(fixed)).Report(t.Context(), sample(t))
	if err != nil || out.Failed != 3 {
		t.Fatalf("Report = %+v, %v", out, err)
	}
	runs := e.srv.CheckRuns()
	var shot, plain int
	for _, a := range runs[0].Annotations {
		switch {
		case strings.Contains(a.RawDetails, "screenshot of the DUT's screen at this failure is in the report artifact: screens/01-os-TestNetwork.png"):
			shot++
		case strings.Contains(a.RawDetails, "screenshot"):
			t.Errorf("annotation %q mentions a screenshot it has not: %q", a.Title, a.RawDetails)
		default:
			plain++
		}
	}
	if shot != 1 || plain != 1 {
		t.Errorf("annotations with the screenshot note %d, without %d; want 1 and 1", shot, plain)
	}
	link := "`index.html` in [this run's report artifact](https://github.com/balena/meta/actions/runs/4242#artifacts)"
	if !strings.Contains(runs[0].Summary, link) {
		t.Errorf("check run summary lacks %q:\n%s", link, runs[0].Summary)
	}
	if b, _ := os.ReadFile(e.summary); !strings.Contains(string(b), link) {
		t.Errorf("step summary lacks %q:\n%s", link, b)
	}
}
