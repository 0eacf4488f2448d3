// Command act-run runs one workflow file with act's runner package in host
// mode (every job's platform is "-self-hosted": steps run as processes of
// this host, no container), for the end-to-end test of the action in a
// real workflow engine.
//
//	act-run -workflow W.yml -workdir DIR [-event push] [-event-path E.json]
//	        [-env K=V]... [-secret K=V]... [-artifact-dir D -artifact-addr A -artifact-port P]
//	        [-local-repository OWNER/REPO@REF=DIR]...
//
// It prints act's step log to stdout, one line per entry prefixed with the
// job's id ("[test] ..."; a step's own output as "[test]   | ..."), and
// then one result line:
//
//	act-run result: {"jobs":{"test":{"result":"success","seconds":12.3,"outputs":{...}}}}
//
// It exits 1 when a job failed, 2 on bad flags, 3 when act could not run the
// workflow. act does not start an artifact server here: -artifact-* name a
// running one (tools/cmd/artifact-server), whose URL act gives the steps as
// ACTIONS_RESULTS_URL.
//
// Limits: act's host mode passes this process's environment to every step
// (under the workflow's and -env's variables): start it with the
// environment the jobs may see. Remote actions are fetched from GitHub
// unless -local-repository names a directory for them; act resolves even
// a composite action's step that its if: skips. actions/checkout of the
// workflow's own repository is act's: it copies -workdir into the job.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nektos/act/pkg/common"
	"github.com/nektos/act/pkg/model"
	"github.com/nektos/act/pkg/runner"
	"github.com/sirupsen/logrus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Result is what the result line carries.
type Result struct {
	Jobs map[string]JobResult `json:"jobs"`
}

// JobResult is one job's outcome.
type JobResult struct {
	Result  string            `json:"result"`            // success, failure, or empty when it did not run
	Seconds float64           `json:"seconds,omitempty"` // from its first log entry to its last
	Outputs map[string]string `json:"outputs,omitempty"` // the job's outputs
}

// kv collects repeated KEY=VALUE flags.
type kv map[string]string

func (m kv) String() string { return fmt.Sprint(map[string]string(m)) }

func (m kv) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	m[k] = v
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("act-run", flag.ContinueOnError)
	fl.SetOutput(stderr)
	workflow := fl.String("workflow", "", "the workflow `file` to run (required)")
	workdir := fl.String("workdir", "", "the workspace `directory`, where uses: ./ actions are (required)")
	event := fl.String("event", "push", "the event `name` to run the workflow for")
	eventPath := fl.String("event-path", "", "the event payload, a JSON `file`")
	cacheDir := fl.String("cache-dir", "", "act's action cache and job directories (a temporary directory when empty)")
	artDir := fl.String("artifact-dir", "", "the running artifact server's `directory` (enables ACTIONS_RESULTS_URL)")
	artAddr := fl.String("artifact-addr", "127.0.0.1", "the artifact server's `address`")
	artPort := fl.String("artifact-port", "", "the artifact server's `port`")
	env, secrets, localRepos := kv{}, kv{}, kv{}
	fl.Var(localRepos, "local-repository", "`OWNER/REPO@REF=DIR`: take that remote action from DIR instead of fetching it (repeatable)")
	fl.Var(env, "env", "`KEY=VALUE` for every job (repeatable); GITHUB_API_URL and GITHUB_SERVER_URL override act's")
	fl.Var(secrets, "secret", "`KEY=VALUE` secret (repeatable); GITHUB_TOKEN is also github.token")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "act-run: "+format+"\n", a...)
		return 2
	}
	switch {
	case *workflow == "":
		return bad("-workflow is required")
	case *workdir == "":
		return bad("-workdir is required")
	case fl.NArg() > 0:
		return bad("unexpected arguments %q", fl.Args())
	case (*artDir == "") != (*artPort == ""):
		return bad("-artifact-dir and -artifact-port go together")
	}
	if *cacheDir == "" {
		d, err := os.MkdirTemp("", "act-run-")
		if err != nil {
			fmt.Fprintln(stderr, "act-run:", err)
			return 3
		}
		defer os.RemoveAll(d)
		*cacheDir = d
	}
	res, err := runWorkflow(ctx, options{workflow: *workflow, workdir: *workdir, event: *event, eventPath: *eventPath,
		cacheDir: *cacheDir, artDir: *artDir, artAddr: *artAddr, artPort: *artPort, env: env, secrets: secrets,
		localRepos: localRepos}, stdout)
	if res != nil {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "act-run result: %s\n", b)
	}
	if err != nil {
		fmt.Fprintln(stderr, "act-run:", err)
		if res != nil {
			return 1
		}
		return 3
	}
	return 0
}

type options struct {
	workflow, workdir, event, eventPath, cacheDir string
	artDir, artAddr, artPort                      string
	env, secrets, localRepos                      map[string]string
}

// runWorkflow plans and runs the workflow. A nil Result means act could not
// start; otherwise the error, if any, is act's for a failed job.
func runWorkflow(ctx context.Context, o options, stdout io.Writer) (*Result, error) {
	workdir, err := filepath.Abs(o.workdir)
	if err != nil {
		return nil, err
	}
	planner, err := model.NewWorkflowPlanner(o.workflow, true, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.workflow, err)
	}
	plan, err := planner.PlanEvent(o.event)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.workflow, err)
	}
	if len(plan.Stages) == 0 {
		return nil, fmt.Errorf("%s: no job runs on %q", o.workflow, o.event)
	}
	// Every label the jobs ask for runs on this host.
	platforms := map[string]string{}
	for _, st := range plan.Stages {
		for _, r := range st.Runs {
			for _, l := range r.Job().RunsOn() {
				platforms[strings.ToLower(l)] = "-self-hosted"
			}
		}
	}
	cfg := &runner.Config{
		Workdir:            workdir,
		ActionCacheDir:     filepath.Join(o.cacheDir, "actions"),
		BindWorkdir:        false, // actions/checkout copies the workdir into the job
		EventName:          o.event,
		EventPath:          o.eventPath,
		DefaultBranch:      "main",
		LogOutput:          true,
		LogPrefixJobID:     true,
		Env:                o.env,
		Secrets:            o.secrets,
		Token:              o.secrets["GITHUB_TOKEN"],
		Platforms:          platforms,
		GitHubInstance:     "github.com",
		ArtifactServerPath: o.artDir,
		ArtifactServerAddr: o.artAddr,
		ArtifactServerPort: o.artPort,
		ConcurrentJobs:     1,
	}
	if len(o.localRepos) > 0 {
		// act resolves every remote action of a composite action before
		// its if: is evaluated, so one that never runs still needs a source.
		cfg.ActionCache = &runner.LocalRepositoryCache{
			Parent:            &runner.GoGitActionCache{Path: cfg.ActionCacheDir},
			LocalRepositories: o.localRepos,
			CacheDirCache:     map[string]string{},
		}
	}
	r, err := runner.New(cfg)
	if err != nil {
		return nil, err
	}
	logs := &jobLogs{out: stdout, first: map[string]time.Time{}, last: map[string]time.Time{}}
	logrus.SetOutput(stdout)
	logrus.SetFormatter(logs)
	ctx = runner.WithJobLoggerFactory(ctx, logs)
	ctx = common.WithLogger(ctx, logrus.StandardLogger())
	runErr := r.NewPlanExecutor(plan)(ctx)

	res := &Result{Jobs: map[string]JobResult{}}
	for _, st := range plan.Stages {
		for _, run := range st.Runs {
			j := run.Job()
			jr := JobResult{Result: j.Result, Outputs: j.Outputs}
			logs.mu.Lock()
			if f, ok := logs.first[run.JobID]; ok {
				jr.Seconds = logs.last[run.JobID].Sub(f).Seconds()
			}
			logs.mu.Unlock()
			res.Jobs[run.JobID] = jr
		}
	}
	if runErr != nil {
		var failed []string
		for id, j := range res.Jobs {
			if j.Result == "failure" {
				failed = append(failed, id)
			}
		}
		if len(failed) == 0 {
			return res, fmt.Errorf("the workflow did not complete: %w", runErr)
		}
		return res, errors.Join(fmt.Errorf("job %s failed", strings.Join(failed, ", ")), runErr)
	}
	return res, nil
}

// jobLogs is the job loggers' factory and formatter: plain lines prefixed
// with the job's id, and each job's first and last entry times.
type jobLogs struct {
	out         io.Writer
	mu          sync.Mutex
	first, last map[string]time.Time
}

// WithJobLogger implements runner.JobLoggerFactory.
func (l *jobLogs) WithJobLogger() *logrus.Logger {
	lg := logrus.New()
	lg.SetOutput(l.out)
	lg.SetLevel(logrus.InfoLevel)
	lg.SetFormatter(l)
	return lg
}

// Format implements logrus.Formatter.
func (l *jobLogs) Format(e *logrus.Entry) ([]byte, error) {
	id, _ := e.Data["jobID"].(string)
	if id != "" {
		l.mu.Lock()
		if _, ok := l.first[id]; !ok {
			l.first[id] = e.Time
		}
		l.last[id] = e.Time
		l.mu.Unlock()
	} else {
		id = "act"
	}
	msg := strings.TrimRight(e.Message, "\n")
	if raw, _ := e.Data["raw_output"].(bool); raw {
		return fmt.Appendf(nil, "[%s]   | %s\n", id, msg), nil
	}
	return fmt.Appendf(nil, "[%s] %s\n", id, msg), nil
}
