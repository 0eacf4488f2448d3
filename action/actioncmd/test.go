package actioncmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/config"
	"github.com/balena/leviathan-action/action/testmode"
)

// Tester runs the test mode's device stage: get the image, verify it,
// flash it through the worker, run the suites and write the reports.
type Tester interface {
	Test(ctx context.Context, req TestRequest) (*TestResult, error)
}

// TesterFunc is a function that is a Tester.
type TesterFunc func(ctx context.Context, req TestRequest) (*TestResult, error)

// Test implements Tester.
func (f TesterFunc) Test(ctx context.Context, req TestRequest) (*TestResult, error) {
	return f(ctx, req)
}

// TestRequest is everything the test mode's inputs and the testbot's
// environment say about one run.
type TestRequest struct {
	// Source is where the image comes from: Path or URL, or ArtifactID
	// (another run's artifact, its id already looked up from
	// artifact-run-id and artifact's name), or Artifact of this run.
	Source config.Source
	// SHA256 is the uncompressed image's expected hex SHA-256; empty
	// when not given.
	SHA256 string
	// Verify checks SHA256 (and the image's readback) when true.
	Verify bool
	// Delta re-flashes only the blocks that changed.
	Delta bool

	WorkerURL   string
	WorkerToken string
	Lease       string
	// Image is the testrunner image, by digest; empty to run the suites
	// without the container.
	Image string
	// DeviceType is the device-type input; the worker's when empty.
	DeviceType string
	// Suites are built-in names and workspace-relative directories.
	Suites []string
	// Workspace is the checkout the suite paths are relative to.
	Workspace string
	// SuiteGoProxy lets a workspace suite compiled on the testbot fetch
	// modules through the module proxy (GOPROXY=off otherwise).
	SuiteGoProxy bool
	// Run selects tests, as go test -run.
	Run string
	// Config is passed to the suites as a file named by
	// LEVIATHAN_SUITE_CONFIG; nil when not given.
	Config []byte
	// Env are the variables allowed into the suites, with their values.
	Env map[string]string
	// ReportDir is where the JUnit file and the per-test logs go.
	ReportDir   string
	RunID       int64
	Job         string
	BootTimeout time.Duration // 0: the Tester's default

	// Artifacts reaches this run's artifacts; nil when the source is not
	// one of them.
	Artifacts *artifact.Client
	// GitHub reaches the REST API (other runs' artifacts), with the
	// action's credentials.
	GitHub      *github.Client
	Owner, Repo string
	Out         io.Writer // the step's log, for progress
	Log         *slog.Logger
}

// TestResult is what a test run left behind.
type TestResult struct {
	// JUnit is the JUnit XML file written, "" when the run stopped before
	// any suite ran.
	JUnit string
	// ReportDir holds tests/<suite>/<test>.serial.log files for failure
	// excerpts.
	ReportDir string
	// DeviceType is the DUT's device type, for check-run names.
	DeviceType string
}

// EnvSuiteConfig carries the config input's text (JSON or YAML) to the
// suites, in direct and container mode alike.
const EnvSuiteConfig = "LEVIATHAN_SUITE_CONFIG"

// defaultTester runs action/testmode: the suites in the testrunner
// container when the runner hook gave an image, directly otherwise.
func defaultTester() Tester {
	return TesterFunc(func(ctx context.Context, req TestRequest) (*TestResult, error) {
		o := testmode.Options{
			Source: testmode.Source{Path: req.Source.Path, URL: req.Source.URL,
				Artifact: req.Source.Artifact, Member: req.Source.Member,
				ArtifactID: req.Source.ArtifactID, Repo: req.Owner + "/" + req.Repo},
			SHA256: req.SHA256, NoVerify: !req.Verify, Delta: req.Delta, DeviceType: req.DeviceType,
			WorkerURL: req.WorkerURL, Token: req.WorkerToken, Lease: req.Lease, Image: req.Image,
			Suites: req.Suites, Workspace: req.Workspace, SuiteGoProxy: req.SuiteGoProxy, Run: req.Run, ReportDir: req.ReportDir,
			RunID: strconv.FormatInt(req.RunID, 10), Job: req.Job, BootTimeout: req.BootTimeout,
			Artifacts: req.Artifacts, GitHub: req.GitHub, Out: req.Out, Log: req.Log,
		}
		if p := os.Getenv("GITHUB_ACTION_PATH"); p != "" {
			o.SuitesDir = filepath.Join(p, "suites")
		}
		for k, v := range req.Env {
			o.Env = append(o.Env, k+"="+v)
			o.AllowEnv = append(o.AllowEnv, k)
		}
		if req.Config != nil {
			o.Env = append(o.Env, EnvSuiteConfig+"="+string(req.Config))
			o.AllowEnv = append(o.AllowEnv, EnvSuiteConfig)
		}
		// Suite paths are relative to the workspace.
		for i, s := range o.Suites {
			if strings.ContainsRune(s, '/') && !filepath.IsAbs(s) && req.Workspace != "" {
				o.Suites[i] = filepath.Join(req.Workspace, s)
			}
		}
		res, err := testmode.Run(ctx, o)
		if res == nil {
			return nil, err
		}
		return &TestResult{JUnit: res.JUnit, ReportDir: res.ReportDir, DeviceType: req.DeviceType}, err
	})
}

// test runs the suites on the testbot's DUT and reports the results.
func (r *run) test(ctx context.Context) error {
	cfg := r.cfg
	g := cfg.GitHub
	gh, err := r.github(ctx, true)
	if err != nil {
		return err
	}
	req := TestRequest{
		Source: cfg.Source, SHA256: cfg.ImageSHA256, Verify: cfg.Verify, Delta: cfg.Delta,
		WorkerURL: cfg.WorkerURL, WorkerToken: cfg.Leviathan.WorkerToken, Lease: cfg.Leviathan.Lease,
		Image: cfg.Leviathan.TestrunnerImage, DeviceType: cfg.DeviceType,
		Suites: cfg.Suites, Workspace: g.Workspace, SuiteGoProxy: cfg.SuiteGoProxy, Run: cfg.Run, Config: cfg.SuiteConfig, Env: cfg.Env,
		RunID: g.RunID, Job: g.Job, BootTimeout: cfg.BootTimeout,
		GitHub: gh, Owner: g.Owner, Repo: g.Repo, Out: r.Stdout, Log: r.log,
	}
	if req.ReportDir, err = r.reportDir(); err != nil {
		return err
	}
	s := &req.Source
	switch {
	case s.Artifact != "" && s.RunID != 0:
		// Another run's artifact by name: find its id.
		if s.ArtifactID, err = findArtifact(ctx, gh, g.Owner, g.Repo, s.RunID, s.Artifact); err != nil {
			return err
		}
	case s.Artifact != "":
		if req.Artifacts, err = r.artifacts(); err != nil {
			return fmt.Errorf("cli: artifact %q of this run: %w", s.Artifact, err)
		}
	}

	tester := r.Tester
	if tester == nil {
		tester = defaultTester()
	}
	res, terr := tester.Test(ctx, req)
	if res == nil || res.JUnit == "" {
		if terr == nil {
			terr = errors.New("cli: the test run wrote no JUnit file")
		}
		return terr
	}
	junit, err := parseJUnit([]string{res.JUnit})
	if err != nil {
		return errors.Join(terr, fmt.Errorf("cli: the test run's report: %w", err))
	}
	dev := res.DeviceType
	if dev == "" {
		dev = cfg.DeviceType
	}
	if err := r.publish(ctx, junit, res.ReportDir, dev); err != nil || terr != nil {
		if terr != nil {
			// The run broke after some results: those are reported, and
			// the step fails as not completed.
			return errors.Join(terr, ignoreFailed(err))
		}
		return err
	}
	return nil
}

func ignoreFailed(err error) error {
	if errors.Is(err, errTestsFailed) {
		return nil
	}
	return err
}

// reportDir is leviathan-reports in LEVIATHAN_JOB_DIR (the job's
// directory on the testbot), else in RUNNER_TEMP, else in the temporary
// directory.
func (r *run) reportDir() (string, error) {
	base := r.cfg.Leviathan.JobDir
	if base == "" {
		base = r.cfg.GitHub.RunnerTemp
	}
	if base == "" {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "leviathan-reports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cli: report directory: %w", err)
	}
	return dir, nil
}

// findArtifact returns the id of run runID's artifact called name.
func findArtifact(ctx context.Context, gh *github.Client, owner, repo string, runID int64, name string) (int64, error) {
	opts := &github.ListOptions{PerPage: 100}
	for {
		list, resp, err := gh.Actions.ListWorkflowRunArtifacts(ctx, owner, repo, runID, opts)
		if err != nil {
			return 0, fmt.Errorf("cli: listing the artifacts of run %d: %w", runID, err)
		}
		for _, a := range list.Artifacts {
			if a.GetName() != name {
				continue
			}
			if a.GetExpired() {
				return 0, usage(fmt.Errorf("input \"artifact\": %q of run %d has expired", name, runID))
			}
			return a.GetID(), nil
		}
		if resp.NextPage == 0 {
			return 0, usage(fmt.Errorf("input \"artifact\": run %d of %s/%s has no artifact %q", runID, owner, repo, name))
		}
		opts.Page = resp.NextPage
	}
}
