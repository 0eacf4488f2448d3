package hook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
)

// Labels tie a job's containers and networks to it, so job-completed and
// the worker's dead-man's switch can find them.
const (
	LabelRunID = "io.balena.leviathan.run-id"
	LabelJob   = "io.balena.leviathan.job"
	LabelLease = "io.balena.leviathan.lease"
)

// Docker is what the hook needs of the Docker Engine.
type Docker interface {
	// Pull makes the image ref (by digest) present locally, reusing a
	// local copy, and writes progress to w.
	Pull(ctx context.Context, ref string, w io.Writer) error
	// Remove removes every container and network carrying all of labels.
	Remove(ctx context.Context, labels map[string]string) error
}

// Decision is the policy gate's answer.
type Decision struct {
	Allow bool
	// Reason says why, in one line.
	Reason string
	// Advice says what a maintainer can do about a refusal.
	Advice string
}

// Gate decides whether the job described by the environment may use the
// DUT. An error (a missing or malformed event payload) refuses the job.
type Gate func(getenv func(string) string) (Decision, error)

// ErrRefused is wrapped by the error JobStarted returns when the policy
// gate refuses the job.
var ErrRefused = errors.New("hook: the policy refused this job")

// Hook runs the runner's job hooks for one DUT.
type Hook struct {
	// Config is the hook's configuration (LoadConfig).
	Config Config
	// Getenv reads the job's environment (os.Getenv in the command).
	Getenv func(string) string
	// Out is the job log: what the hook prints appears in the job's
	// "Set up job" and "Complete job" steps.
	Out io.Writer
	// Gate is the policy gate; nil refuses every job.
	Gate Gate
	// Docker pulls the testrunner image and removes a job's containers;
	// nil skips both, saying so.
	Docker Docker
	// StartHeartbeat starts the detached heartbeat process for the state
	// directory and returns its pid (the command re-executes itself as
	// "leviathan-hook heartbeat").
	StartHeartbeat func(stateDir string) (int, error)
	// Log receives the hook's own diagnostics; nil discards them.
	Log *slog.Logger
	// Poll is how often a busy DUT is asked for again (5s when zero).
	Poll time.Duration
}

func (h *Hook) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

func (h *Hook) printf(format string, args ...any) {
	fmt.Fprintf(h.Out, "leviathan: "+format+"\n", args...)
}

// command prints a workflow command (error, warning, notice, add-mask…)
// with its data escaped as the runner expects.
func (h *Hook) command(name, data string) {
	r := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	fmt.Fprintf(h.Out, "::%s::%s\n", name, r.Replace(data))
}

func (h *Hook) client(lease string) (*client.Client, error) {
	opts := []client.Option{client.WithToken(h.Config.WorkerToken)}
	if lease != "" {
		opts = append(opts, client.WithLease(lease))
	}
	c, err := client.New(h.Config.WorkerURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("hook: LEVIATHAN_WORKER_URL: %w", err)
	}
	return c, nil
}

// jobID names a job from the runner's environment.
type jobID struct {
	repo, runID, attempt, job string
}

func jobFromEnv(getenv func(string) string) (jobID, error) {
	j := jobID{repo: getenv("GITHUB_REPOSITORY"), runID: getenv("GITHUB_RUN_ID"),
		attempt: getenv("GITHUB_RUN_ATTEMPT"), job: getenv("GITHUB_JOB")}
	for _, v := range []struct{ name, val string }{
		{"GITHUB_REPOSITORY", j.repo}, {"GITHUB_RUN_ID", j.runID}, {"GITHUB_JOB", j.job}} {
		if v.val == "" {
			return j, fmt.Errorf("hook: %s is not set: run this from the runner's job hooks (ACTIONS_RUNNER_HOOK_JOB_STARTED), which set it", v.name)
		}
	}
	return j, nil
}

// owner is the lease owner: who holds the DUT, readable in the worker's
// health and in a busy DUT's error.
func (j jobID) owner() string {
	s := fmt.Sprintf("github:%s run %s", j.repo, j.runID)
	if j.attempt != "" && j.attempt != "1" {
		s += " attempt " + j.attempt
	}
	return s + " job " + j.job
}

// labels are the Docker labels of the job's containers.
func (j *jobState) labels() map[string]string {
	return map[string]string{LabelRunID: j.RunID, LabelJob: j.Job}
}

// dirName is the job's directory under StateDir/jobs.
func (j *jobState) dirName() string {
	name := j.RunID + "-" + j.Attempt + "-" + j.Job
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, name)
}
