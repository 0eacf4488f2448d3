package testrunner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/worker"
)

// ImageSuitesPath is where the testrunner image keeps its built-in suites,
// as <name>.test.
const ImageSuitesPath = "/suites"

// Engines is the Docker Engine API the worker's testrunner uses.
type Engines interface {
	Engine
	ImageEngine
}

// WorkerTestrunner runs the testrunner container for a worker
// (worker.Testrunner): the worker decides what runs and for which lease,
// Run's fixed, locked-down Spec decides how. The container reaches the
// worker at WorkerURL through its job network's forwarder and acts with
// the lease's id, its only credential.
type WorkerTestrunner struct {
	Engine    Engines
	WorkerURL string // the worker's own URL, reachable from this process
	Log       *slog.Logger
}

var _ worker.Testrunner = WorkerTestrunner{}

// Pull implements worker.Testrunner.
func (t WorkerTestrunner) Pull(ctx context.Context, image string, progress io.Writer) error {
	_, err := Pull(ctx, t.Engine, image, progress, WithLogger(t.log()))
	return err
}

// Run implements worker.Testrunner.
func (t WorkerTestrunner) Run(ctx context.Context, r worker.TestrunnerRun) (api.TestrunnerResult, error) {
	if r.Lease == "" {
		return api.TestrunnerResult{}, errors.New("testrunner: a testrunner run needs its lease")
	}
	cmd := []string{"--reports", ReportsPath}
	if r.Run != "" {
		cmd = append(cmd, "--run", r.Run)
	}
	if r.Timeout > 0 {
		cmd = append(cmd, "--timeout", r.Timeout.String())
	}
	for _, s := range r.Suites {
		if s.Uploaded {
			cmd = append(cmd, path.Join(UserSuitesPath, s.Name))
		} else {
			cmd = append(cmd, path.Join(ImageSuitesPath, s.Name+".test"))
		}
	}
	runID := r.RunID
	if runID == "" {
		runID = "lease"
	}
	res, err := Run(ctx, t.Engine, Spec{
		Image: r.Image, Cmd: cmd, Env: r.Env,
		WorkerURL: t.WorkerURL, Lease: r.Lease, RunID: runID, Job: r.Job,
		UserSuitesDir: r.UserSuitesDir, ReportsDir: r.ReportsDir,
		Stdout: r.Stdout, Stderr: r.Stderr, Log: t.log(),
	})
	if err != nil {
		return api.TestrunnerResult{}, err
	}
	out := api.TestrunnerResult{ExitCode: res.ExitCode, OOMKilled: res.OOMKilled,
		HostClosed: res.HostClosed, Seconds: res.Duration.Seconds()}
	if res.InfraError != nil {
		out.Infra = res.InfraError.Reason
		out.InfraOutput = res.InfraError.Output
	}
	return out, nil
}

func (t WorkerTestrunner) log() *slog.Logger {
	if t.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return t.Log
}
