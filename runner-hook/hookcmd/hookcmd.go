// Package hookcmd implements the leviathan-hook command: the GitHub
// runner's job-started and job-completed hooks for a Leviathan testbot,
// the heartbeat they leave running, a status report, the installer and
// the ephemeral runners' supervisor. It wires runner-hook/hook to the
// policy gate and the Docker Engine, and runner-hook/supervisor to GitHub;
// it is driven through Env so tests run it in-process.
//
// Installed (install, as root) the program is setgid to the hook's group,
// which alone can read the configuration file (hook.ConfigFile, holding
// the worker's token) and write the state directory. Run that way — by the
// runner, or by a job, which can run it too — it takes its settings from
// that file only and the job's facts (GITHUB_*, RUNNER_*) from the
// environment; see privileged.go for what else changes. Not installed
// (development, tests) the environment's LEVIATHAN_* variables apply over
// the file.
package hookcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/balena/leviathan-action/runner-hook/hook"
	"github.com/balena/leviathan-action/runner-hook/policy"
)

// Env is one invocation of the command.
type Env struct {
	Stdout, Stderr io.Writer
	Args           []string // without the program name
	// Docker overrides how the testrunner image is pulled (tests); nil
	// asks the worker, which pulls it on its own Docker Engine.
	Docker hook.Docker
	// Executable is the program the heartbeat runs as (os.Executable when
	// empty).
	Executable string

	// secrets are replaced by *** in what a privileged run prints.
	secrets *secretsList
}

type command struct {
	summary string
	run     func(ctx context.Context, e Env, args []string) error
}

var commands = map[string]command{
	"job-started":   {"the runner's job-started hook: policy gate, lease, health check, image pull", jobStarted},
	"job-completed": {"the runner's job-completed hook: clean up, power the DUT off, release it", jobCompleted},
	"heartbeat":     {"keep a job's lease alive while its runner lives (started by job-started)", heartbeat},
	"status":        {"print the DUT's health record and the current job", status},
	"install":       {"install the hook for a runner, as root (setgid program, settings, state, scripts)", install},
	"supervise":     {"run ephemeral one-job runners over and over, as root, cleaning up after each job", supervise},
}

// Execute runs the subcommand named by the first argument and returns the
// exit code: 0 done, 1 failed or refused (the runner fails the job), 2 bad
// usage.
func (e Env) Execute(ctx context.Context) int {
	if len(e.Args) == 0 || e.Args[0] == "-h" || e.Args[0] == "--help" || e.Args[0] == "help" {
		e.usage(e.Stdout)
		if len(e.Args) == 0 {
			return 2
		}
		return 0
	}
	if hook.Privileged() {
		if os.Geteuid() != os.Getuid() {
			fmt.Fprintln(e.Stderr, "leviathan-hook: installed setuid: it must be setgid to the hook's group only (sudo leviathan-hook install)")
			return 1
		}
		// Run by the runner or by a job: nothing from the environment but
		// the job's facts, and no secret in what it prints.
		scrubEnv()
		e.secrets = &secretsList{}
		e.Stdout, e.Stderr = e.secrets.wrap(e.Stdout), e.secrets.wrap(e.Stderr)
	}
	cmd, ok := commands[e.Args[0]]
	if !ok {
		fmt.Fprintf(e.Stderr, "leviathan-hook: unknown command %q\n\n", e.Args[0])
		e.usage(e.Stderr)
		return 2
	}
	if hook.Privileged() && os.Getuid() != 0 && !jobCommands[e.Args[0]] {
		// With the hook's group, for someone else than root: the job's
		// commands only.
		fmt.Fprintf(e.Stderr, "leviathan-hook %s: must run as root (sudo)\n", e.Args[0])
		return 1
	}
	err := cmd.run(ctx, e, e.Args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(e.Stderr, "leviathan-hook:", err)
		return 2
	}
	fmt.Fprintln(e.Stderr, "leviathan-hook:", err)
	return 1
}

var errUsage = errors.New("usage")

// jobCommands are what the installed program does for the runner's user
// (and so for any job, which can run it too).
var jobCommands = map[string]bool{"job-started": true, "job-completed": true, "heartbeat": true, "status": true}

func (e Env) usage(w io.Writer) {
	fmt.Fprintf(w, `leviathan-hook runs a Leviathan testbot's side of each GitHub Actions job.

usage: leviathan-hook COMMAND [flags]

commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nSettings come from %s (written by install; the environment's are\nignored when the program runs installed, setgid):\n", hook.ConfigFile)
	hook.Usage(w)
	fmt.Fprintf(w, "\nRun \"sudo leviathan-hook install --runner-dir DIR --runner-user USER\" once per runner; see the README.\n")
}

func (e Env) flags(name, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: leviathan-hook %s\n\n%s\n", name, about)
		if hasFlags(fs) {
			fmt.Fprintln(e.Stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// loadConfig reads the configuration and keeps its secrets out of what
// the command prints.
func (e Env) loadConfig() (hook.Config, error) {
	cfg, err := hook.LoadConfig()
	if err != nil {
		return cfg, err
	}
	e.secrets.add(cfg.Secrets()...)
	return cfg, nil
}

// newHook builds the hook from the configuration and the environment.
func (e Env) newHook(ctx context.Context, log *slog.Logger) (*hook.Hook, func(), error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	exe := e.Executable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, nil, fmt.Errorf("finding this program for the heartbeat: %w", err)
		}
	}
	h := &hook.Hook{
		Config:         cfg,
		Getenv:         os.Getenv,
		Out:            e.Stdout,
		Gate:           gate(cfg.Policy),
		StartHeartbeat: hook.StartHeartbeatCommand(exe, "heartbeat"),
		Log:            log,
	}
	closeDocker := func() {}
	switch {
	case e.Docker != nil:
		h.Docker = e.Docker
	default:
		d, err := newWorkerEngine(cfg.WorkerURL, cfg.WorkerToken)
		if err != nil {
			return nil, nil, err
		}
		h.Docker = d
	}
	return h, closeDocker, nil
}

// gate is the policy gate: the file at path, or the secure default.
func gate(path string) hook.Gate {
	return func(getenv func(string) string) (hook.Decision, error) {
		p := policy.Default()
		if path != "" {
			var err error
			if p, err = policy.Load(path); err != nil {
				return hook.Decision{}, fmt.Errorf("LEVIATHAN_POLICY: %w", err)
			}
		}
		j, err := policy.JobFromEnv(getenv)
		if err != nil {
			return hook.Decision{}, err
		}
		d := p.Decide(j)
		return hook.Decision{Allow: d.Allow, Reason: d.Reason, Advice: d.Advice}, nil
	}
}

func jobStarted(ctx context.Context, e Env, args []string) error {
	return e.runHook(ctx, args, "job-started", "Run by the runner before each job (ACTIONS_RUNNER_HOOK_JOB_STARTED).\nA non-zero exit fails the job before any step runs.", (*hook.Hook).JobStarted)
}

func jobCompleted(ctx context.Context, e Env, args []string) error {
	return e.runHook(ctx, args, "job-completed", "Run by the runner after each job (ACTIONS_RUNNER_HOOK_JOB_COMPLETED), whatever\nthe job's outcome.", (*hook.Hook).JobCompleted)
}

// runHook parses a hook's (empty) flags, builds the hook and runs it.
// Privileged, it hands the hook the job's files opened as the caller and
// makes and removes the job's scratch directory itself, as the caller.
func (e Env) runHook(ctx context.Context, args []string, name, about string, run func(*hook.Hook, context.Context) error) error {
	fs := e.flags(name, about)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, done, err := e.newHook(ctx, log)
	if err != nil {
		return err
	}
	defer done()
	if !hook.Privileged() {
		return run(h, ctx)
	}
	if name == "job-completed" {
		err := run(h, ctx)
		if rerr := removeJobDir(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the job's scratch directory: %w", rerr))
		}
		return err
	}
	jf, err := openJobFiles()
	if err != nil {
		return err
	}
	defer jf.Close()
	h.Getenv = jf.getenv
	if err := run(h, ctx); err != nil {
		return err
	}
	return jf.exportJobDir(e.Stdout)
}

func heartbeat(ctx context.Context, e Env, args []string) error {
	fs := e.flags("heartbeat STATE_DIR", "Started by job-started; renews the job's lease while the runner's job\nprocess lives. Not for use by hand.")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: heartbeat takes the state directory", errUsage)
	}
	dir := fs.Arg(0)
	if hook.Privileged() {
		// A job may run the program: it serves the configured state only.
		cfg, err := e.loadConfig()
		if err != nil {
			return err
		}
		if filepath.Clean(dir) != filepath.Clean(cfg.StateDir) {
			return fmt.Errorf("heartbeat: %s is not the configured state directory", dir)
		}
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, nil))
	return hook.Heartbeat(ctx, dir, log)
}
