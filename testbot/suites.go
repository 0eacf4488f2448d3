package testbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/testrunner/runresult"
	"github.com/balena/leviathan-action/internal/ghlog"
	"github.com/balena/leviathan-action/suites/gotest"
)

// Plan is the suites a run runs, in order: compiled Go test binaries run
// here (Direct), or suites the worker runs in the testrunner container
// (Testrunner and Container).
type Plan struct {
	// Direct are suites run here, against the lease.
	Direct []gotest.Suite
	// Testrunner is the testrunner image (by digest), already pulled on
	// the worker; with it, Container is run there instead of Direct.
	Testrunner string
	Container  []ContainerSuite
}

// ContainerSuite is a suite run in the testrunner container: a built-in
// suite of the image (Binary empty) or a compiled suite of the user's,
// uploaded to the lease first.
type ContainerSuite struct {
	Name   string
	Binary string
}

// runSuites runs the plan against the booted DUT. With JobLog, Out is
// wrapped in a ghlog.Writer while untrusted output flows: what the suites,
// the testrunner container and the DUT print (and the test names of the
// result table) reaches the job log with workflow commands stopped.
func (r *run) runSuites(ctx context.Context, p *Plan) error {
	o := r.o
	if err := os.MkdirAll(o.ReportDir, 0o755); err != nil {
		return fmt.Errorf("testbot: %w", err)
	}
	out := o.Out
	var log *ghlog.Writer
	if o.JobLog {
		log = ghlog.New(o.Out)
		out = log
	}
	var err error
	if p.Testrunner != "" {
		err = r.inContainer(ctx, p, out)
	} else {
		err = r.direct(ctx, p, out)
	}
	if r.res.Summary != nil {
		printTable(out, r.res.Summary)
	}
	if log != nil {
		if cerr := log.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("testbot: %w", cerr)
		}
	}
	return err
}

// suiteEnv is what every suite gets: the worker and the lease, its only
// credential.
func (r *run) suiteEnv() []string {
	return append([]string{api.EnvWorkerURL + "=" + r.o.WorkerURL, api.EnvLease + "=" + r.o.Lease}, r.o.Env...)
}

// direct runs compiled suites here, each test with its console excerpt.
func (r *run) direct(ctx context.Context, p *Plan, out io.Writer) error {
	o := r.o
	sum, err := gotest.Run(ctx, gotest.Options{
		Suites: p.Direct, Env: r.suiteEnv(), CleanEnv: o.CleanEnv, ReportDir: o.ReportDir,
		Run: o.Run, Timeout: o.SuiteTimeout, Out: out,
		Serial: func(ctx context.Context, off int64) ([]byte, int64, error) { return r.c.SerialLog(ctx, off) },
		OnFail: r.onFail(ctx),
	})
	if err != nil {
		return fmt.Errorf("testbot: running the suites: %w", err)
	}
	r.res.fill(sum)
	return nil
}

// onFail is the suites' OnFail: a screenshot of a failure, on a DUT with
// a screen.
func (r *run) onFail(ctx context.Context) func(context.Context, string, string) {
	if ct, err := r.c.Contract(ctx); err != nil || !slices.Contains(ct.Capabilities, dut.CapScreen) {
		return nil
	}
	return gotest.ShootOnFail(r.o.ReportDir, r.c.Screenshot, r.o.Log)
}

// inContainer has the worker run the suites in the testrunner container:
// the user's binaries are uploaded to the lease, the worker starts the
// container with its own fixed spec and streams its output back, and the
// reports come back as a tar. The job needs no Docker Engine and holds no
// credential but its lease.
func (r *run) inContainer(ctx context.Context, p *Plan, out io.Writer) error {
	o := r.o
	var names []string
	for _, s := range p.Container {
		if s.Binary != "" {
			if err := r.upload(ctx, s); err != nil {
				return err
			}
		}
		names = append(names, s.Name)
	}
	g := runresult.NewGroupWriter(out)
	tr, err := r.c.RunTestrunner(ctx, api.TestrunnerRequest{
		Image: p.Testrunner, Suites: names, Run: o.Run, TimeoutSeconds: o.SuiteTimeout.Seconds(),
		Env: o.Env, RunID: o.RunID, Job: o.Job,
	}, g, out)
	if cerr := g.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("testbot: running the testrunner container: %w", err)
	}
	if !tr.HostClosed {
		o.Log.Warn("testbot: the worker could not close the testbot's other services to the testrunner container (not root, or no iptables)")
	}
	if tr.Infra != "" {
		r.res.Infra = &runresult.InfraError{Reason: tr.Infra, ExitCode: tr.ExitCode, OOMKilled: tr.OOMKilled, Output: tr.InfraOutput}
		return fmt.Errorf("testbot: the testrunner container did not report on the tests: %w", r.res.Infra)
	}
	if err := r.containerReports(ctx); err != nil {
		return err
	}
	if tr.ExitCode != 0 && r.res.OK() {
		return errors.New("testbot: the testrunner container failed although its summary reports no failure")
	}
	return nil
}

// containerReports fetches the container's reports into ReportDir and
// reads its summary.
func (r *run) containerReports(ctx context.Context) error {
	dir := r.o.ReportDir
	rc, err := r.c.TestrunnerReports(ctx)
	if err != nil {
		return fmt.Errorf("testbot: fetching the testrunner's reports: %w", err)
	}
	err = runresult.ExtractReports(rc, dir)
	rc.Close()
	if err != nil {
		return fmt.Errorf("testbot: the testrunner's reports: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return fmt.Errorf("testbot: the testrunner container left no summary: %w", err)
	}
	var sum gotest.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("testbot: reading the testrunner's summary: %w", err)
	}
	sum.JUnit = ""
	if j := filepath.Join(dir, "junit.xml"); isFile(j) {
		sum.JUnit = j
	}
	r.res.fill(&sum)
	return nil
}

// upload sends a user suite's binary to the lease.
func (r *run) upload(ctx context.Context, s ContainerSuite) error {
	f, err := os.Open(s.Binary)
	if err != nil {
		return fmt.Errorf("testbot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("testbot: %w", err)
	}
	fmt.Fprintf(r.o.Out, "uploading suite %s (%s) to the worker\n", s.Name, mib(fi.Size()))
	if err := r.c.UploadSuite(ctx, s.Name, f, fi.Size()); err != nil {
		return fmt.Errorf("testbot: uploading suite %s: %w", s.Name, err)
	}
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
