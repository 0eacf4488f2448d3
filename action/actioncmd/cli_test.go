package actioncmd_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/action/actioncmd"
	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/config"
	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/action/report"
)

const headSHA = "0123456789abcdef0123456789abcdef01234567"

// step is one action step on a fake runner: the runner's variables,
// output and summary files, captured streams.
type step struct {
	dir, output, summary string
	stdout, stderr       bytes.Buffer
	env                  actioncmd.Env
}

// newStep sets up the process environment as the runner would for a step
// with inputs; every other input and Leviathan variable is cleared.
func newStep(t *testing.T, inputs map[string]string) *step {
	t.Helper()
	s := &step{dir: t.TempDir()}
	s.output, s.summary = filepath.Join(s.dir, "output"), filepath.Join(s.dir, "summary.md")
	for _, in := range config.Inputs {
		t.Setenv("INPUT_"+strings.ToUpper(in), "")
		t.Setenv("INPUT_"+strings.ToUpper(strings.ReplaceAll(in, "-", "_")), "")
	}
	for _, v := range []string{"LEVIATHAN_WORKER_URL", "LEVIATHAN_LEASE", "LEVIATHAN_WORKER_TOKEN",
		"LEVIATHAN_TESTRUNNER_IMAGE", "LEVIATHAN_JOB_DIR", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_RESULTS_URL",
		"GITHUB_TOKEN", "GITHUB_EVENT_PATH", "GITHUB_HEAD_REF", "RUNNER_DEBUG"} {
		t.Setenv(v, "")
	}
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": s.dir, "GITHUB_REPOSITORY": "balena-os/balena-raspberrypi",
		"GITHUB_SHA": headSHA, "GITHUB_REF": "refs/heads/main", "GITHUB_RUN_ID": "4242", "GITHUB_JOB": "test",
		"GITHUB_EVENT_NAME": "push", "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_OUTPUT": s.output, "GITHUB_STEP_SUMMARY": s.summary, "RUNNER_TEMP": s.dir,
	} {
		t.Setenv(k, v)
	}
	for k, v := range inputs {
		t.Setenv("INPUT_"+strings.ToUpper(k), v)
	}
	s.env = actioncmd.Env{Stdout: &s.stdout, Stderr: &s.stderr,
		Retry: report.RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }}}
	return s
}

// github points the step at a fake GitHub.
func (s *step) github(t *testing.T, opts ...githubtest.Option) *githubtest.Server {
	t.Helper()
	srv := githubtest.NewServer(t, opts...)
	t.Setenv("GITHUB_API_URL", srv.URL)
	s.env.Transport = srv.HTTPClient().Transport
	return srv
}

func (s *step) run(t *testing.T) int {
	t.Helper()
	code := s.env.Execute(context.Background())
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, s.stdout.String(), s.stderr.String())
	return code
}

// outputs parses $GITHUB_OUTPUT.
func (s *step) outputs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(s.output)
	if err != nil {
		t.Fatalf("outputs: %v", err)
	}
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

func (s *step) summaryText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.summary)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	return string(b)
}

// rawImage writes a raw disk image: an MBR signature and some data.
func rawImage(t *testing.T, dir string) (string, string) {
	t.Helper()
	b := make([]byte, 3<<20)
	b[510], b[511] = 0x55, 0xaa
	rand.Read(b[1<<20 : 1<<20+4096])
	copy(b[2<<20:], strings.Repeat("balenaOS ", 10000))
	p := filepath.Join(dir, "balena.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSubmitThenDispatch(t *testing.T) {
	s := newStep(t, map[string]string{
		"mode": "submit", "image": "out/balena.img", "artifact": "leviathan-image",
		"dispatch-workflow": "leviathan-test.yml", "dispatch-device-types": `["raspberrypi4-64", "generic-amd64"]`,
		"dispatch-suites": "os", "github-token": githubtest.DefaultToken,
	})
	os.MkdirAll(filepath.Join(s.dir, "out"), 0o755)
	_, sum := rawImage(t, filepath.Join(s.dir, "out"))
	as := artifacttest.Start(t)
	as.Setenv(t)
	gh := s.github(t)

	if code := s.run(t); code != actioncmd.ExitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	out := s.outputs(t)
	if out["artifact-name"] != "leviathan-image" || out["image-sha256"] != sum || out["artifact-id"] == "" || out["artifact-id"] == "0" {
		t.Errorf("outputs %v; want the artifact and sha256 %s", out, sum)
	}
	if _, err := os.Stat(as.ZipPath("leviathan-image")); err != nil {
		t.Errorf("the artifact server has no archive: %v", err)
	}
	// The upload reads back as the image.
	c, err := artifact.New(as.Config())
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := c.Extract(context.Background(), "leviathan-image", "balena.img.zst", h); err != nil {
		t.Fatal(err)
	}
	sm := s.summaryText(t)
	for _, want := range []string{"leviathan-image", sum, "ratio", "3.0 MiB", "Dispatched `leviathan-test.yml`"} {
		if !strings.Contains(sm, want) {
			t.Errorf("summary lacks %q:\n%s", want, sm)
		}
	}
	d := gh.Dispatches()
	if len(d) != 1 {
		t.Fatalf("%d dispatches, want 1", len(d))
	}
	if d[0].Workflow != "leviathan-test.yml" || d[0].Ref != "refs/heads/main" || d[0].Inputs["image_sha256"] != sum ||
		d[0].Inputs["run_id"] != "4242" || d[0].Inputs["device_types"] != `["raspberrypi4-64","generic-amd64"]` {
		t.Errorf("dispatch %+v", d[0])
	}
}

func TestSubmitRefusesANonImage(t *testing.T) {
	s := newStep(t, map[string]string{"mode": "submit", "image": "notes.txt"})
	os.WriteFile(filepath.Join(s.dir, "notes.txt"), []byte("not a disk image"), 0o644)
	if code := s.run(t); code != actioncmd.ExitUsage {
		t.Fatalf("exit %d, want %d", code, actioncmd.ExitUsage)
	}
	if !strings.Contains(s.stdout.String(), `::error::input "image"`) {
		t.Errorf("no ::error:: naming the image input")
	}
}

func TestSubmitWithoutArtifactService(t *testing.T) {
	s := newStep(t, map[string]string{"mode": "submit", "image": "balena.img"})
	rawImage(t, s.dir)
	if code := s.run(t); code != actioncmd.ExitError {
		t.Fatalf("exit %d, want %d", code, actioncmd.ExitError)
	}
	if !strings.Contains(s.stdout.String(), "ACTIONS_RUNTIME_TOKEN") {
		t.Errorf("the error does not name ACTIONS_RUNTIME_TOKEN")
	}
}

func TestBadInputs(t *testing.T) {
	s := newStep(t, map[string]string{"mode": "deploy", "boot-timeout": "soon"})
	if code := s.run(t); code != actioncmd.ExitUsage {
		t.Fatalf("exit %d, want %d", code, actioncmd.ExitUsage)
	}
	for _, want := range []string{`::error::config: input "mode": "deploy" is not a mode`, `::error::config: input "boot-timeout"`} {
		if !strings.Contains(s.stdout.String(), want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
}

func TestModeArgumentAndHelp(t *testing.T) {
	s := newStep(t, nil)
	s.env.Args = []string{"help"}
	if code := s.run(t); code != actioncmd.ExitOK || !strings.Contains(s.stdout.String(), "usage: leviathan-action") {
		t.Errorf("help: exit %d", code)
	}
	s = newStep(t, map[string]string{"junit": "missing.xml"})
	s.env.Args = []string{"report"}
	if code := s.run(t); code != actioncmd.ExitUsage || !strings.Contains(s.stdout.String(), `no file matches "missing.xml"`) {
		t.Errorf("report argument: exit %d", code)
	}
}

func TestReportWithToken(t *testing.T) {
	s := newStep(t, map[string]string{"mode": "report", "junit": "reports/*.xml", "device-type": "raspberrypi4-64",
		"suites": "os", "github-token": githubtest.DefaultToken})
	copyFile(t, "testdata/junit-fail.xml", filepath.Join(s.dir, "reports", "junit.xml"))
	gh := s.github(t)

	if code := s.run(t); code != actioncmd.ExitFailed {
		t.Fatalf("exit %d, want %d (a test failed)", code, actioncmd.ExitFailed)
	}
	runs := gh.CheckRuns()
	if len(runs) != 1 {
		t.Fatalf("%d check runs, want 1", len(runs))
	}
	cr := runs[0]
	if cr.Name != "leviathan / os / raspberrypi4-64" || cr.HeadSHA != headSHA || cr.Conclusion != "failure" || len(cr.Annotations) != 1 {
		t.Errorf("check run %q on %s: %s, %d annotations", cr.Name, cr.HeadSHA, cr.Conclusion, len(cr.Annotations))
	}
	if !strings.Contains(cr.DetailsURL, "/actions/runs/4242") {
		t.Errorf("details URL %q", cr.DetailsURL)
	}
	out := s.outputs(t)
	if out["passed"] != "2" || out["failed"] != "1" || out["skipped"] != "1" || out["conclusion"] != "failure" || out["check-run-url"] == "" {
		t.Errorf("outputs %v", out)
	}
	if sm := s.summaryText(t); !strings.Contains(sm, "TestNetwork") {
		t.Errorf("summary lacks the failed test:\n%s", sm)
	}
	if !strings.Contains(s.stdout.String(), "::notice::check runs are created with github-token") {
		t.Errorf("no notice about GITHUB_TOKEN's check suite")
	}
}

func TestReportCheckNameAndPass(t *testing.T) {
	s := newStep(t, map[string]string{"mode": "report", "junit": "a.xml\nb.xml", "device-type": "generic-amd64",
		"check-name": "OS tests ({device-type})", "github-token": githubtest.DefaultToken})
	copyFile(t, "testdata/junit-pass.xml", filepath.Join(s.dir, "a.xml"))
	copyFile(t, "testdata/junit-pass.xml", filepath.Join(s.dir, "b.xml"))
	gh := s.github(t)
	if code := s.run(t); code != actioncmd.ExitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	runs := gh.CheckRuns()
	if len(runs) != 1 || runs[0].Name != "OS tests (generic-amd64)" || runs[0].Conclusion != "success" {
		t.Errorf("check runs %+v", runs)
	}
	if out := s.outputs(t); out["passed"] != "4" {
		t.Errorf("outputs %v, want 4 passed from two files", out)
	}
}

func rsaKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestReportAsAppMasksSecrets(t *testing.T) {
	key, pemKey := rsaKey(t)
	const apiKey = "api-key-s3cr3t-value" // also in the JUnit failure
	const token = "ghs_theTokenThatMustNotLeak0000000000"
	s := newStep(t, map[string]string{"mode": "report", "junit": "junit.xml", "device-type": "raspberrypi4-64",
		"app-id": "7", "app-private-key": pemKey, "github-token": token, "env": "BALENA_API_KEY"})
	t.Setenv("BALENA_API_KEY", apiKey)
	t.Setenv("LEVIATHAN_WORKER_TOKEN", "worker-token-secret")
	copyFile(t, "testdata/junit-fail.xml", filepath.Join(s.dir, "junit.xml"))
	gh := s.github(t, githubtest.WithApp(githubtest.App{ID: 7, InstallationID: 70, PublicKey: &key.PublicKey,
		Repos: []string{"balena-os/balena-raspberrypi"}}))

	if code := s.run(t); code != actioncmd.ExitFailed {
		t.Fatalf("exit %d, want %d", code, actioncmd.ExitFailed)
	}
	if n := len(gh.CheckRuns()); n != 1 {
		t.Fatalf("%d check runs, want 1", n)
	}
	if strings.Contains(s.stdout.String(), "::notice::check runs are created with github-token") {
		t.Errorf("GITHUB_TOKEN notice given for an App")
	}
	lines := strings.Split(strings.TrimSpace(pemKey), "\n")
	secrets := append([]string{apiKey, token, "worker-token-secret"}, lines[1:len(lines)-1]...)
	masked := map[string]bool{}
	for l := range strings.SplitSeq(s.stdout.String(), "\n") {
		if m, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			masked[m] = true
			continue
		}
		for _, sec := range secrets {
			if strings.Contains(l, sec) {
				t.Errorf("stdout line %q shows a secret", l)
			}
		}
	}
	for _, sec := range secrets {
		if !masked[sec] {
			t.Errorf("%q was not masked", sec)
		}
		for name, text := range map[string]string{"stderr": s.stderr.String(), "summary": s.summaryText(t)} {
			if strings.Contains(text, sec) {
				t.Errorf("%s shows the secret %q", name, sec)
			}
		}
		for _, cr := range gh.CheckRuns() {
			if strings.Contains(cr.Summary+cr.Text, sec) || slices.ContainsFunc(cr.Annotations, func(a githubtest.Annotation) bool {
				return strings.Contains(a.Message+a.RawDetails, sec)
			}) {
				t.Errorf("check run %q carries the secret %q", cr.Name, sec)
			}
		}
	}
	// Masks come before anything else.
	if first, _, _ := strings.Cut(s.stdout.String(), "\n"); !strings.HasPrefix(first, "::add-mask::") {
		t.Errorf("first line %q is not a mask", first)
	}
}

func TestMalformedKeyIsNotPrinted(t *testing.T) {
	const body = "MIIEpAIBAAKCAQEAnotReallyAKeyButSecretAnyway"
	s := newStep(t, map[string]string{"mode": "report", "junit": "junit.xml", "app-id": "7",
		"app-private-key": "-----BEGIN RSA PRIVATE KEY-----\n" + body + "\n-----END RSA PRIVATE KEY-----"})
	copyFile(t, "testdata/junit-pass.xml", filepath.Join(s.dir, "junit.xml"))
	if code := s.run(t); code != actioncmd.ExitUsage {
		t.Fatalf("exit %d, want %d", code, actioncmd.ExitUsage)
	}
	if !strings.Contains(s.stdout.String(), `input "app-private-key"`) {
		t.Errorf("the error does not name app-private-key")
	}
	if strings.Count(s.stdout.String(), body) != 1 || !strings.Contains(s.stdout.String(), "::add-mask::"+body) {
		t.Errorf("the key appears outside its mask")
	}
}

func TestTestModeRunsAndReports(t *testing.T) {
	s := newStep(t, map[string]string{"mode": "test", "artifact": "build-artifacts", "artifact-run-id": "1234",
		"artifact-member": "image/balena.img", "device-type": "raspberrypi4-64", "suites": "os",
		"run": "TestBoot", "config": "organization: testbot\n", "env": "BALENA_API_KEY",
		"boot-timeout": "10m", "verify": "false", "github-token": githubtest.DefaultToken})
	t.Setenv("BALENA_API_KEY", "api-key-s3cr3t-value")
	t.Setenv("LEVIATHAN_WORKER_URL", "http://127.0.0.1:4321")
	t.Setenv("LEVIATHAN_LEASE", "lease-42")
	t.Setenv("LEVIATHAN_JOB_DIR", filepath.Join(s.dir, "job"))
	t.Setenv("LEVIATHAN_TESTRUNNER_IMAGE", "testrunner@sha256:"+strings.Repeat("0", 64))
	gh := s.github(t)
	other := gh.AddArtifact("balena-os", "balena-raspberrypi", githubtest.Artifact{Name: "other", RunID: 1234, Zip: []byte("PK")})
	id := gh.AddArtifact("balena-os", "balena-raspberrypi", githubtest.Artifact{Name: "build-artifacts", RunID: 1234, Zip: []byte("PK")})
	if id == other {
		t.Fatal("the fake gave two artifacts one id")
	}

	var got actioncmd.TestRequest
	s.env.Tester = actioncmd.TesterFunc(func(ctx context.Context, req actioncmd.TestRequest) (*actioncmd.TestResult, error) {
		got = req
		p := filepath.Join(req.ReportDir, "junit.xml")
		copyFile(t, "testdata/junit-fail.xml", p)
		return &actioncmd.TestResult{JUnit: p, ReportDir: req.ReportDir}, nil
	})
	if code := s.run(t); code != actioncmd.ExitFailed {
		t.Fatalf("exit %d, want %d", code, actioncmd.ExitFailed)
	}
	want := config.Source{Artifact: "build-artifacts", RunID: 1234, ArtifactID: id, Member: "image/balena.img"}
	if got.Source != want {
		t.Errorf("source %+v, want %+v", got.Source, want)
	}
	if got.WorkerURL != "http://127.0.0.1:4321" || got.Lease != "lease-42" || got.Image == "" || got.Verify ||
		got.BootTimeout != 10*time.Minute || got.Run != "TestBoot" || string(got.Config) != "organization: testbot" ||
		got.Env["BALENA_API_KEY"] != "api-key-s3cr3t-value" || got.RunID != 4242 || got.GitHub == nil || got.Artifacts != nil {
		t.Errorf("request %+v", got)
	}
	if got.ReportDir != filepath.Join(s.dir, "job", "leviathan-reports") {
		t.Errorf("report dir %s", got.ReportDir)
	}
	if runs := gh.CheckRuns(); len(runs) != 1 || runs[0].Name != "leviathan / os / raspberrypi4-64" {
		t.Errorf("check runs %+v", runs)
	}
}

func TestTestModeArtifactOfThisRun(t *testing.T) {
	s := newStep(t, map[string]string{"mode": "test", "artifact": "leviathan-image", "worker-url": "http://127.0.0.1:4321",
		"github-token": githubtest.DefaultToken})
	s.github(t)
	artifacttest.Start(t).Setenv(t)
	s.env.Tester = actioncmd.TesterFunc(func(ctx context.Context, req actioncmd.TestRequest) (*actioncmd.TestResult, error) {
		if req.Artifacts == nil || req.Source.Artifact != "leviathan-image" || !slices.Equal(req.Suites, []string{"os"}) {
			t.Errorf("request %+v", req)
		}
		p := filepath.Join(req.ReportDir, "junit.xml")
		copyFile(t, "testdata/junit-pass.xml", p)
		return &actioncmd.TestResult{JUnit: p, DeviceType: "generic-amd64"}, nil
	})
	if code := s.run(t); code != actioncmd.ExitOK {
		t.Fatalf("exit %d, want 0", code)
	}
}

func TestTestModeFailures(t *testing.T) {
	broken := errors.New("testmode: worker: flashing: the DUT did not power off")
	for _, tc := range []struct {
		name     string
		tester   actioncmd.Tester
		inputs   map[string]string
		code     int
		message  string
		checkRun bool
		setup    func(gh *githubtest.Server)
	}{
		{name: "no built-in suites outside the action", code: actioncmd.ExitError, message: "no directory of built-in suites"},
		{name: "flash failed", code: actioncmd.ExitError, message: "did not power off",
			tester: actioncmd.TesterFunc(func(context.Context, actioncmd.TestRequest) (*actioncmd.TestResult, error) { return nil, broken })},
		{name: "broke after results", code: actioncmd.ExitError, message: "did not power off", checkRun: true,
			tester: actioncmd.TesterFunc(func(ctx context.Context, req actioncmd.TestRequest) (*actioncmd.TestResult, error) {
				p := filepath.Join(req.ReportDir, "junit.xml")
				copyFile(t, "testdata/junit-fail.xml", p)
				return &actioncmd.TestResult{JUnit: p}, broken
			})},
		{name: "unknown artifact", code: actioncmd.ExitUsage, message: "has no artifact \"gone\"",
			inputs: map[string]string{"artifact": "gone", "artifact-run-id": "99"}},
		{name: "expired artifact", code: actioncmd.ExitUsage, message: "of run 99 has expired",
			inputs: map[string]string{"artifact": "old", "artifact-run-id": "99"},
			setup: func(gh *githubtest.Server) {
				gh.ExpireArtifact(gh.AddArtifact("balena-os", "balena-raspberrypi", githubtest.Artifact{Name: "old", RunID: 99, Zip: []byte("PK")}))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]string{"mode": "test", "image": "balena.img", "worker-url": "http://127.0.0.1:4321",
				"github-token": githubtest.DefaultToken}
			if tc.inputs != nil {
				delete(in, "image")
				for k, v := range tc.inputs {
					in[k] = v
				}
			}
			s := newStep(t, in)
			rawImage(t, s.dir)
			gh := s.github(t)
			if tc.setup != nil {
				tc.setup(gh)
			}
			s.env.Tester = tc.tester
			if code := s.run(t); code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(s.stdout.String(), tc.message) {
				t.Errorf("stdout lacks %q", tc.message)
			}
			if got := len(gh.CheckRuns()) > 0; got != tc.checkRun {
				t.Errorf("check run created: %v, want %v", got, tc.checkRun)
			}
		})
	}
}
