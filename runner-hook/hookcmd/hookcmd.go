// Package hookcmd implements the leviathan-hook command: the GitHub
// runner's job-started and job-completed hooks for a Leviathan testbot,
// the heartbeat they leave running, a status report and an installer for
// the runner's hook scripts. It wires runner-hook/hook to the policy gate
// and the Docker Engine; it is driven through Env so tests run it
// in-process (configuration and the job's variables come from the process
// environment, as the runner gives them).
package hookcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/balena/leviathan-action/runner-hook/hook"
	"github.com/balena/leviathan-action/runner-hook/policy"
)

// Env is one invocation of the command.
type Env struct {
	Stdout, Stderr io.Writer
	Args           []string // without the program name
	// Docker overrides the Docker Engine connection (tests); nil connects
	// through DOCKER_HOST or the default socket when an image is set.
	Docker hook.Docker
	// Executable is the program the heartbeat runs as (os.Executable when
	// empty).
	Executable string
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
	"install":       {"install the hook scripts into a runner's directory", install},
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
	cmd, ok := commands[e.Args[0]]
	if !ok {
		fmt.Fprintf(e.Stderr, "leviathan-hook: unknown command %q\n\n", e.Args[0])
		e.usage(e.Stderr)
		return 2
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
	fmt.Fprintf(w, "\nConfiguration comes from the environment (the runner's .env file):\n")
	hook.Usage(w)
	fmt.Fprintf(w, "\nRun \"leviathan-hook install --runner-dir DIR\" once per runner; see the README.\n")
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

// newHook builds the hook from the environment.
func (e Env) newHook(ctx context.Context, log *slog.Logger) (*hook.Hook, func(), error) {
	cfg, err := hook.LoadConfig()
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
		d, err := newDocker(ctx, log)
		if err != nil {
			if cfg.TestrunnerImage != "" {
				return nil, nil, err
			}
			// Without an image the engine is only needed to clean up
			// containers; a testbot without Docker has none.
			fmt.Fprintf(e.Stdout, "leviathan: no Docker Engine (%v): container clean-up skipped\n", err)
		} else {
			h.Docker, closeDocker = d, func() { d.Close() }
		}
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
	return run(h, ctx)
}

func heartbeat(ctx context.Context, e Env, args []string) error {
	fs := e.flags("heartbeat STATE_DIR", "Started by job-started; renews the job's lease while the runner's job\nprocess lives. Not for use by hand.")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: heartbeat takes the state directory", errUsage)
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, nil))
	return hook.Heartbeat(ctx, fs.Arg(0), log)
}
