package testmode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/balena/leviathan-action/runner-hook/container"
	"github.com/balena/leviathan-action/suites/runner"
)

// ImageSuitesDir is where the testrunner image keeps the built-in suites,
// as <name>.test.
const ImageSuitesDir = "/suites"

// builtinName matches the names of built-in suites; anything else is a
// path.
var builtinName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// plan is the suites ready to run: compiled binaries in direct mode, paths
// inside the image in container mode.
type plan struct {
	direct []runner.Suite
	inside []string
}

// planSuites resolves o.Suites and, in direct mode, compiles them. The
// returned cleanup removes the compiled binaries.
func (o *Options) planSuites(ctx context.Context) (*plan, func(), error) {
	p := &plan{}
	nop := func() {}
	seen := map[string]string{}
	claim := func(name, what string) error {
		if prev, ok := seen[name]; ok {
			return fmt.Errorf("testmode: suites %s and %s share the name %q; their reports would collide", prev, what, name)
		}
		seen[name] = what
		return nil
	}
	if o.Image != "" {
		for _, s := range o.Suites {
			if !builtinName.MatchString(s) {
				return nil, nop, fmt.Errorf("testmode: suite %q: the testrunner container runs only the built-in suites for now; run user suites without a testrunner image", s)
			}
			if err := claim(s, s); err != nil {
				return nil, nop, err
			}
			p.inside = append(p.inside, ImageSuitesDir+"/"+s+".test")
		}
		return p, nop, nil
	}

	var dirs []string // packages to compile, in order, or "" for a binary
	for _, s := range o.Suites {
		switch {
		case builtinName.MatchString(s):
			if o.SuitesDir == "" {
				return nil, nop, fmt.Errorf("testmode: built-in suite %q: no directory of built-in suites (GITHUB_ACTION_PATH/suites); write ./%s for a suite in the workspace", s, s)
			}
			dir := filepath.Join(o.SuitesDir, s)
			if err := runner.Check(dir); err != nil {
				return nil, nop, fmt.Errorf("testmode: built-in suite %q: %w", s, err)
			}
			dirs = append(dirs, dir)
		case strings.HasSuffix(s, ".test"):
			fi, err := os.Stat(s)
			if err != nil || !fi.Mode().IsRegular() {
				return nil, nop, fmt.Errorf("testmode: suite %s: not a compiled suite (%v)", s, err)
			}
			abs, err := filepath.Abs(s)
			if err != nil {
				return nil, nop, fmt.Errorf("testmode: %w", err)
			}
			name := strings.TrimSuffix(filepath.Base(s), ".test")
			if err := claim(name, s); err != nil {
				return nil, nop, err
			}
			p.direct = append(p.direct, runner.Suite{Name: name, Binary: abs})
			dirs = append(dirs, "")
		default:
			if err := runner.Check(s); err != nil {
				return nil, nop, fmt.Errorf("testmode: %w", err)
			}
			dirs = append(dirs, s)
		}
	}
	bin := ""
	cleanup := func() {
		if bin != "" {
			os.RemoveAll(bin)
		}
	}
	var built []runner.Suite
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		if bin == "" {
			var err error
			if bin, err = os.MkdirTemp(o.WorkDir, "leviathan-suites-"); err != nil {
				return nil, nop, fmt.Errorf("testmode: %w", err)
			}
		}
		fmt.Fprintf(o.Out, "compiling suite %s\n", dir)
		s, err := runner.Build(ctx, dir, bin)
		if err != nil {
			cleanup()
			return nil, nop, fmt.Errorf("testmode: %w", err)
		}
		if err := claim(s.Name, dir); err != nil {
			cleanup()
			return nil, nop, err
		}
		built = append(built, s)
	}
	// Keep the order the suites were given in.
	var all []runner.Suite
	bi, di := 0, 0
	for _, dir := range dirs {
		if dir == "" {
			all = append(all, p.direct[di])
			di++
		} else {
			all = append(all, built[bi])
			bi++
		}
	}
	p.direct = all
	return p, cleanup, nil
}

// runSuites runs the planned suites against the leased, booted DUT.
func (o *Options) runSuites(ctx context.Context, p *plan, env []string, res *Result) error {
	if err := os.MkdirAll(o.ReportDir, 0o755); err != nil {
		return fmt.Errorf("testmode: %w", err)
	}
	if o.Image == "" {
		sum, err := runner.RunOnWorker(ctx, runner.Worker{URL: o.WorkerURL, Token: o.Token, Lease: o.Lease},
			runner.Options{Suites: p.direct, Env: env, CleanEnv: true, ReportDir: o.ReportDir, Run: o.Run, Timeout: o.SuiteTimeout, Out: o.Out})
		if err != nil {
			return fmt.Errorf("testmode: running the suites: %w", err)
		}
		res.fill(sum)
		return nil
	}
	cmd := []string{"--reports", container.ReportsPath}
	if o.Run != "" {
		cmd = append(cmd, "--run", o.Run)
	}
	if o.SuiteTimeout > 0 {
		cmd = append(cmd, "--timeout", o.SuiteTimeout.String())
	}
	cmd = append(cmd, p.inside...)
	cr, err := container.Run(ctx, o.Docker, container.Spec{
		Image: o.Image, Cmd: cmd, Env: env,
		WorkerURL: o.WorkerURL, WorkerToken: o.Token,
		RunID: o.RunID, Job: o.Job, Lease: o.Lease,
		ReportsDir: o.ReportDir, Stdout: o.Out, Stderr: o.Out, GroupTests: true,
		Log: o.Log,
	})
	if err != nil {
		return fmt.Errorf("testmode: running the testrunner container: %w", err)
	}
	if cr.InfraError != nil {
		res.Infra = cr.InfraError
		return fmt.Errorf("testmode: the testrunner container did not report on the tests: %w", cr.InfraError)
	}
	b, err := os.ReadFile(filepath.Join(o.ReportDir, "summary.json"))
	if err != nil {
		return fmt.Errorf("testmode: the testrunner container left no summary: %w", err)
	}
	var sum runner.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("testmode: reading the testrunner's summary: %w", err)
	}
	res.fill(&sum)
	res.JUnit = cr.JUnit
	if cr.TestsFailed() && res.OK() {
		return errors.New("testmode: the testrunner container failed although its summary reports no failure")
	}
	return nil
}

func (r *Result) fill(s *runner.Summary) {
	r.Passed, r.Failed, r.Skipped = s.Passed, s.Failed, s.Skipped
	r.Errors = s.Errors
	r.JUnit = s.JUnit
}
