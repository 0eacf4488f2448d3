package acttest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/internal/benchrow"

	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/internal/localrun"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

const (
	headSHA    = "0123456789abcdef0123456789abcdef01234567"
	repository = "balena-os/balena-raspberrypi"
	deviceType = "qemu-x86_64"
	// hiddenFile is the workspace suite's failing file, relative to the
	// workspace: where GitHub must be told the failure is.
	hiddenFile = "tests/hidden/hidden_test.go"
)

// TestWorkflow runs testdata/workflow.yml in act: submit uploads the test OS
// image and the compiled workspace suite (testdata/workspace/tests/hidden)
// to act's artifact server; test, on the self-hosted runner with the lease
// this test took as the runner hook would, flashes the image onto a QEMU
// DUT, boots it, runs suites/os and the workspace suite and reports check
// runs; report publishes a go-junit-report file. It checks every job's
// result, the check runs' names, conclusions and annotations (the failing
// line, at its repository-relative path, in test and report mode), the
// outputs the workflow echoes, and that the DUT ends off and free. It logs
// the test job's wall time minus the DUT's boot and the suites' time.
func TestWorkflow(t *testing.T) {
	testenv.NeedQEMU(t)
	root := testenv.RepoRoot(t)
	actRun := buildActRun(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	dir := t.TempDir()
	actionBin := filepath.Join(dir, "leviathan-action")
	goBuild(t, root, "-o", actionBin, "./cmd/leviathan-action")
	m, err := testimage.Build(ctx, testimage.Options{CacheDir: filepath.Join(root, "build", "cache", "debs"),
		OutDir: filepath.Join(root, "build", "testimage"), Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	// A copy of its own: other tests may rebuild the shared image meanwhile.
	osImage := filepath.Join(dir, "balena.img")
	testenv.CopyFile(t, m.Image, osImage)
	ws := workspace(t, root, osImage)
	setupGo, err := filepath.Abs(filepath.Join("testdata", "setup-go"))
	if err != nil {
		t.Fatal(err)
	}
	failLine := markedLine(t, filepath.Join(ws, hiddenFile), "the failing line")

	artifacts := artifacttest.Start(t)
	au, err := url.Parse(artifacts.ResultsURL)
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.NewServer(t)

	// The testbot: a QEMU DUT behind its worker, and what the runner hook's
	// job-started does: lease the DUT and export the LEVIATHAN_ variables.
	const adminToken = "testbot-admin-token"
	local, err := localrun.StartLocal(ctx, localrun.LocalConfig{ParentDir: t.TempDir(),
		WorkerOptions: []worker.Option{worker.WithToken(adminToken)}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	wc, err := client.New(local.URL, client.WithToken(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := wc.Lease(ctx, "leviathan-hook job-started", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	kctx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	wc.KeepAlive(kctx, lease, 0)
	jobDir := t.TempDir()

	env := map[string]string{
		"GITHUB_API_URL": strings.TrimSuffix(gh.URL, "/"), "GITHUB_REPOSITORY": repository,
		"GITHUB_REF": "refs/heads/main", "SHA_REF": headSHA, "GITHUB_RUN_ID": "1",
		"LEVIATHAN_ACTION_BIN": actionBin,
		api.EnvWorkerURL:       local.URL, api.EnvLease: lease.ID, api.EnvJobDir: jobDir,
	}
	args := []string{"-workflow", filepath.Join("testdata", "workflow.yml"), "-workdir", ws,
		"-cache-dir", t.TempDir(), "-artifact-dir", artifacts.Dir, "-artifact-addr", au.Hostname(),
		"-artifact-port", au.Port(), "-secret", "GITHUB_TOKEN=" + githubtest.DefaultToken,
		"-local-repository", "actions/setup-go@v5=" + setupGo}
	for k, v := range env {
		args = append(args, "-env", k+"="+v)
	}
	cmd := exec.CommandContext(ctx, actRun, args...)
	cmd.Env = jobEnv(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("act-run (%s, %v):\n%s\nstderr:\n%s", time.Since(start).Round(time.Millisecond), runErr, stdout.String(), stderr.String())
	res := actResult(t, stdout.String())

	// Every job's result: the workspace suite fails, so test and report do.
	for job, want := range map[string]string{"submit": "success", "test": "failure", "report": "failure"} {
		if got := res.Jobs[job].Result; got != want {
			t.Errorf("job %s: %q, want %q", job, got, want)
		}
	}
	if ee, ok := runErr.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("act-run: %v, want exit 1 (a job failed)", runErr)
	}
	if strings.Contains(stdout.String(), "setup-go stand-in ran") {
		t.Error("the action ran actions/setup-go though LEVIATHAN_ACTION_BIN was set")
	}

	// The outputs, as the workflow echoes them.
	echoed := echoedOutputs(stdout.String())
	if o := echoed["submit"]; o["artifact-name"] != "leviathan-image" || len(o["image-sha256"]) != 64 {
		t.Errorf("submit's outputs %v", o)
	}
	for job, want := range map[string]map[string]string{
		"test":   {"failed": "1", "skipped": "1", "conclusion": "failure"},
		"report": {"passed": "1", "failed": "1", "skipped": "1", "conclusion": "failure"},
	} {
		for k, v := range want {
			if echoed[job][k] != v {
				t.Errorf("job %s echoed %s=%q, want %q (all: %v)", job, k, echoed[job][k], v, echoed[job])
			}
		}
	}
	if p := echoed["test"]["passed"]; p == "" || p == "0" || p == "1" {
		t.Errorf("job test echoed passed=%q: want suites/os's passes and the workspace suite's one", p)
	}

	// The check runs: names with no empty part, conclusions, and the
	// failure annotated at its line in the workspace, in both modes.
	runs := map[string]githubtest.CheckRun{}
	for _, r := range gh.CheckRuns() {
		if _, dup := runs[r.Name]; dup {
			t.Errorf("two check runs named %q", r.Name)
		}
		runs[r.Name] = r
		if r.HeadSHA != headSHA || r.Status != "completed" {
			t.Errorf("check run %q: head %s, status %s; want %s, completed", r.Name, r.HeadSHA, r.Status, headSHA)
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range runs {
			if !yield(n) {
				return
			}
		}
	})
	wantNames := []string{"leviathan / hidden", "leviathan / hidden / " + deviceType, "leviathan / os / " + deviceType}
	if !slices.Equal(names, wantNames) {
		t.Errorf("check runs %q, want %q", names, wantNames)
	}
	for name, want := range map[string]string{"leviathan / os / " + deviceType: "success",
		"leviathan / hidden / " + deviceType: "failure", "leviathan / hidden": "failure"} {
		if got := runs[name].Conclusion; got != want {
			t.Errorf("check run %q: conclusion %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"leviathan / hidden / " + deviceType, "leviathan / hidden"} {
		var at []string
		found := false
		for _, a := range runs[name].Annotations {
			at = append(at, fmt.Sprintf("%s:%d (%s)", a.Path, a.StartLine, a.Level))
			if filepath.IsAbs(a.Path) || strings.Contains(a.Path, dir) {
				t.Errorf("check run %q: annotation at an absolute path %q", name, a.Path)
			}
			if a.Path == hiddenFile && a.StartLine == failLine && a.Level == "failure" {
				found = true
			}
		}
		t.Logf("check run %q annotations: %q", name, at)
		if !found {
			t.Errorf("check run %q: annotations %q, want a failure at %s:%d", name, at, hiddenFile, failLine)
		}
	}

	// job-completed: the lease ends, the DUT goes off.
	stopKeepAlive()
	if err := wc.Release(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	if h, err := wc.Health(ctx); err != nil || h.Leased || h.Power != dut.PowerOff {
		t.Errorf("after the job: %+v, %v: want the DUT free and off", h, err)
	}

	// Issue 13's whole loop: the test job's wall time less the DUT's boot
	// and the suites' run, from the action's summary.json.
	tm, ok := timings(t, jobDir)
	if !ok {
		return
	}
	job := res.Jobs["test"].Seconds
	t.Logf("whole loop: test job %.2fs - boot %.2fs - suites %.2fs = %.2fs (lease %.2fs, flash %.2fs, total run %.2fs)",
		job, tm.Boot, tm.Suites, job-tm.Boot-tm.Suites, tm.Lease, tm.Flash, tm.Total)
	if job <= 0 || tm.Boot <= 0 {
		t.Errorf("no test job time (%.2fs) or boot time (%.2fs) to measure the loop with", job, tm.Boot)
		return
	}
	loop := job - tm.Boot - tm.Suites
	if err := benchrow.Record(benchrow.Row{What: "whole loop in act: test job minus boot and suites", Leviathan: fmt.Sprintf("%.2f s", loop),
		Baseline: fmt.Sprintf("test job %.2f s, boot %.2f s, suites %.2f s", job, tm.Boot, tm.Suites), Result: fmt.Sprintf("%.2f s", loop),
		Target: "≤ 3 s", Met: benchrow.Judge(loop <= 3)}); err != nil {
		t.Log(err)
	}
}

// workspace makes the checkout act's actions/checkout copies into each job:
// symbolic links to this repository's entries (the module the workspace
// suite belongs to; action.yml, at the root, is copied), the workspace suite and the JUnit
// file from testdata/workspace, and the image at images/balena.img.
func workspace(t *testing.T, root, image string) string {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "checkout")
	if err := os.MkdirAll(filepath.Join(ws, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch e.Name() {
		case ".git", "build", "reports", "tests", "images":
			continue
		case "action.yml":
			// act reads the action through the job's file archive, which
			// resolves a link only inside the workspace: a copy.
			testenv.CopyFile(t, filepath.Join(root, e.Name()), filepath.Join(ws, e.Name()))
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(ws, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(image, filepath.Join(ws, "images", "balena.img")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("testdata", "workspace")
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(ws, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		testenv.CopyFile(t, p, filepath.Join(ws, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// markedLine is the line number of the one line of file holding marker.
func markedLine(t *testing.T, file, marker string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, marker) && !strings.HasPrefix(strings.TrimSpace(l), "//") {
			if line != 0 {
				t.Fatalf("%s: %q on lines %d and %d", file, marker, line, i+1)
			}
			line = i + 1
		}
	}
	if line == 0 {
		t.Fatalf("%s: no line holds %q", file, marker)
	}
	return line
}

// jobEnv is act-run's environment, which act's host mode passes to every
// step: what the go command and bash need, and nothing of this test's
// process (no GITHUB_*, ACTIONS_* or LEVIATHAN_* of its own).
func jobEnv(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(v) != 3 {
		t.Fatalf("go env printed %q", out)
	}
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir(),
		"LANG=C.UTF-8", "GOCACHE=" + v[0], "GOMODCACHE=" + v[1], "GOPATH=" + v[2],
		"GOPROXY=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly"}
}

// actResult parses act-run's result line.
func actResult(t *testing.T, log string) actRunResult {
	t.Helper()
	const prefix = "act-run result: "
	for _, l := range strings.Split(log, "\n") {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			var r actRunResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatalf("act-run's result line %q: %v", l, err)
			}
			return r
		}
	}
	t.Fatal("act-run printed no result line: act did not run the workflow")
	return actRunResult{}
}

type actRunResult struct {
	Jobs map[string]struct {
		Result  string            `json:"result"`
		Seconds float64           `json:"seconds"`
		Outputs map[string]string `json:"outputs"`
	} `json:"jobs"`
}

// echoedOutputs finds the workflow's "leviathan-outputs JOB k=v ..." lines
// in the steps' output (act prints it as "[job]   | ...").
func echoedOutputs(log string) map[string]map[string]string {
	out := map[string]map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		_, rest, ok := strings.Cut(sc.Text(), "]   | leviathan-outputs ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		kv := map[string]string{}
		for _, p := range f[1:] {
			k, v, _ := strings.Cut(p, "=")
			kv[k] = v
		}
		out[f[0]] = kv
	}
	return out
}

type runTimings struct {
	Lease, Flash, Boot, Suites, Total float64
}

// timings reads the "timings" of the summary.json the action left in its
// reports directory under the job's directory. Without them (a testbot
// run that does not record them) it logs why and returns false: the
// whole-loop figure is a measurement, not a check.
func timings(t *testing.T, jobDir string) (runTimings, bool) {
	t.Helper()
	found, _ := filepath.Glob(filepath.Join(jobDir, "*", "summary.json"))
	if len(found) != 1 {
		t.Errorf("summary.json in the job's directory %s: %q, want one", jobDir, found)
		return runTimings{}, false
	}
	b, err := os.ReadFile(found[0])
	if err != nil {
		t.Error(err)
		return runTimings{}, false
	}
	var s struct {
		Timings *runTimings `json:"timings"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Errorf("%s: %v", found[0], err)
		return runTimings{}, false
	}
	if s.Timings == nil {
		t.Logf("%s has no timings: the whole-loop figure (job - boot - suites) is not measured", found[0])
		return runTimings{}, false
	}
	return *s.Timings, true
}

// goBuild runs go build in dir, failing the test on error.
func goBuild(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

var actRunBuild struct {
	sync.Mutex
	bin, skip string
}

// buildActRun builds tools/cmd/act-run once per process. The test is
// skipped when there is no go command; a build failure fails it, as the
// artifact server's does (package artifacttest).
func buildActRun(t *testing.T, root string) string {
	t.Helper()
	actRunBuild.Lock()
	defer actRunBuild.Unlock()
	if actRunBuild.bin == "" && actRunBuild.skip == "" {
		actRunBuild.bin, actRunBuild.skip = buildTool(root)
	}
	if actRunBuild.skip != "" {
		if actRunBuild.bin == "" && !strings.HasPrefix(actRunBuild.skip, "no go command") {
			t.Fatal("acttest: " + actRunBuild.skip)
		}
		t.Skip("acttest: " + actRunBuild.skip)
	}
	return actRunBuild.bin
}

func buildTool(root string) (bin, skip string) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", "no go command to build tools/cmd/act-run: " + err.Error()
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("leviathan-acttest-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err.Error()
	}
	tmp := filepath.Join(dir, fmt.Sprintf("act-run.%d.tmp", os.Getpid()))
	cmd := exec.Command(goCmd, "build", "-C", filepath.Join(root, "tools"), "-o", tmp, "./cmd/act-run")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("the tools module does not build here (%v), so act cannot run:\n%s", err, out)
	}
	bin = filepath.Join(dir, "act-run")
	if err := os.Rename(tmp, bin); err != nil {
		return "", err.Error()
	}
	return bin, ""
}
