package actioncmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/sethvargo/go-githubactions"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/config"
	"github.com/balena/leviathan-action/action/report"
	"github.com/balena/leviathan-action/autokit/api"
)

// Exit codes returned by Execute.
const (
	ExitOK     = 0 // the mode completed and no test failed
	ExitFailed = 1 // tests failed
	ExitUsage  = 2 // bad input
	ExitError  = 3 // could not complete
)

// Env is one invocation of the command.
type Env struct {
	// Stdout receives workflow commands (::add-mask::, ::error::, …) and
	// results; Stderr receives the log.
	Stdout, Stderr io.Writer
	// Args are the command-line arguments without the program name: at
	// most a mode, used when the mode input is empty ("help" prints the
	// usage).
	Args []string
	// Tester runs the test mode's device stage; nil means defaultTester.
	Tester Tester
	// Transport carries GitHub REST calls; http.DefaultTransport when nil.
	Transport http.RoundTripper
	// Retry bounds GitHub retries (tests shorten the waits).
	Retry report.RetryPolicy
	// Getenv reads every variable the command uses; os.Getenv when nil.
	// The command passes one that also serves the SecretVars it took out
	// of its environment, which os.Getenv no longer sees.
	Getenv func(string) string
}

// SecretVars are the variables that hold credentials: the command moves
// them out of its environment block before it starts anything, so that
// the suites (its children) cannot read them from /proc/PID/environ. Both
// input spellings are listed (INPUT_GITHUB-TOKEN as the runner sets them
// for Docker actions, INPUT_GITHUB_TOKEN as action.yml does), as are the
// runner's tokens (ACTIONS_RUNTIME_TOKEN, ACTIONS_ID_TOKEN_REQUEST_TOKEN)
// and the worker token the runner hook exports.
func SecretVars() []string {
	return []string{
		"INPUT_GITHUB_TOKEN", "INPUT_GITHUB-TOKEN", "INPUT_APP_PRIVATE_KEY", "INPUT_APP-PRIVATE-KEY",
		"GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", api.EnvWorkerToken,
	}
}

// run is the state of one execution.
type run struct {
	Env
	getenv func(string) string // Env.Getenv, with the mode argument
	action *githubactions.Action
	cfg    *config.Config
	log    *slog.Logger
	gh     *github.Client // made on first use
}

// codeError is an error with the exit code it maps to.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// usage marks err as bad input (exit 2).
func usage(err error) error { return &codeError{ExitUsage, err} }

// Execute runs the mode the configuration names and returns the exit code.
func (e Env) Execute(ctx context.Context) int {
	if len(e.Args) > 0 && (e.Args[0] == "help" || e.Args[0] == "-h" || e.Args[0] == "--help") {
		e.usage(e.Stdout)
		return ExitOK
	}
	if len(e.Args) > 1 {
		fmt.Fprintf(e.Stderr, "leviathan-action: too many arguments %q\n", e.Args)
		e.usage(e.Stderr)
		return ExitUsage
	}
	getenv := e.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if len(e.Args) == 1 {
		mode, base := e.Args[0], getenv
		getenv = func(k string) string {
			v := base(k)
			if k == "INPUT_MODE" && v == "" {
				return mode
			}
			return v
		}
	}
	a := githubactions.New(githubactions.WithWriter(e.Stdout), githubactions.WithGetenv(getenv))
	level := slog.LevelInfo
	if getenv("RUNNER_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	r := &run{Env: e, getenv: getenv, action: a, log: slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))}

	cfg, err := config.Load(a)
	// Mask first: nothing may print a secret before the runner knows it.
	for _, s := range cfg.Secrets() {
		a.AddMask(s)
	}
	if err != nil {
		r.errorf(err)
		return ExitUsage
	}
	r.cfg = cfg
	for _, w := range cfg.Warnings {
		a.Warningf("%s", w)
	}

	switch cfg.Mode {
	case config.Submit:
		err = r.submit(ctx)
	case config.Report:
		err = r.report(ctx)
	case config.Test:
		err = r.test(ctx)
	}
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ce *codeError
	if errors.As(err, &ce) {
		code = ce.code
	}
	if !errors.Is(err, errTestsFailed) {
		r.errorf(err)
	}
	return code
}

// errTestsFailed is returned when the run completed with failed tests;
// the failures were already reported.
var errTestsFailed = &codeError{ExitFailed, errors.New("tests failed")}

// errorf prints each joined error as its own ::error:: command.
func (r *run) errorf(err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		r.action.Errorf("%s", e)
	}
}

// output sets a step output, or prints it outside a runner.
func (r *run) output(name, value string) {
	if r.cfg.GitHub.Output != "" {
		r.action.SetOutput(name, value)
		return
	}
	fmt.Fprintf(r.Stdout, "%s=%s\n", name, value)
}

// summary appends Markdown to the job summary, when there is one.
func (r *run) summary(md string) {
	if r.cfg.GitHub.StepSummary != "" {
		r.action.AddStepSummary(md)
	}
}

// github returns a REST client: the GitHub App installation when app-id is
// set, github-token otherwise. checks says the client will write check
// runs, for the GITHUB_TOKEN notice.
func (r *run) github(ctx context.Context, checks bool) (*github.Client, error) {
	if r.gh != nil {
		return r.gh, nil
	}
	gh, err := r.newGitHub(ctx, checks)
	r.gh = gh
	return gh, err
}

func (r *run) newGitHub(ctx context.Context, checks bool) (*github.Client, error) {
	g := r.cfg.GitHub
	cc := report.ClientConfig{BaseURL: g.APIURL, Transport: r.Transport, Retry: r.Retry, Logger: r.log}
	if app := r.cfg.App; app != nil {
		gh, err := report.NewAppClient(ctx, report.App{
			ID: app.ID, InstallationID: app.InstallationID, Owner: g.Owner, Repo: g.Repo,
			PrivateKey: app.PrivateKey, KeySource: "the app-private-key input",
		}, cc)
		if err != nil {
			return nil, fmt.Errorf("cli: GitHub App %d: %w", app.ID, err)
		}
		return gh, nil
	}
	if r.cfg.Token == "" {
		return nil, usage(errors.New(`cli: input "github-token" is empty and no app-id is set: GitHub cannot be reached`))
	}
	if checks {
		r.action.Noticef("check runs are created with github-token: GitHub attaches them to an arbitrary check suite of this run, so they may show under another workflow; set app-id and app-private-key to create them as a GitHub App")
	}
	gh, err := report.NewTokenClient(r.cfg.Token, cc)
	if err != nil {
		return nil, fmt.Errorf("cli: %w", err)
	}
	return gh, nil
}

// artifacts returns a client of this run's artifacts, configured from
// ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL read through getenv.
func (r *run) artifacts() (*artifact.Client, error) {
	c, err := artifact.ConfigFromGetenv(r.getenv)
	if err != nil {
		return nil, err
	}
	return artifact.New(c, artifact.WithLogger(r.log))
}

func (e Env) usage(w io.Writer) {
	fmt.Fprintf(w, `usage: leviathan-action [submit|test|report]

leviathan-action is the balena/leviathan-action GitHub Action's entrypoint.
It reads its inputs from INPUT_<NAME> variables (INPUT_GITHUB-TOKEN or
INPUT_GITHUB_TOKEN), the run from GITHUB_* and the testbot from LEVIATHAN_*.
The mode comes from INPUT_MODE, or from the argument when that is empty.

inputs: %s

exit codes: 0 done, 1 tests failed, 2 bad input, 3 could not complete
`, strings.Join(config.Inputs, ", "))
}
