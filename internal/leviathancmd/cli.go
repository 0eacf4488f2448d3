// Package leviathancmd implements the leviathan command's subcommands. It is driven
// through Env so tests run the CLI in-process.
package leviathancmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/internal/localrun"
)

// Env is one invocation of the CLI.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Args           []string // without the program name
	// Getenv reads the environment: flag fallbacks and the board's
	// hardware configuration. os.Getenv when nil; tests inject a map.
	Getenv func(string) string
}

// Variables the flags of several commands fall back to. (Leviathan's own
// LEVIATHAN_* names are in package api.)
const (
	envQEMUMemory   = "QEMU_MEMORY"
	envQEMUCPUs     = "QEMU_CPUS"
	envQEMUIsolated = "QEMU_ISOLATED"
)

// getenv is how this invocation reads the environment.
func (e Env) getenv() func(string) string {
	if e.Getenv != nil {
		return e.Getenv
	}
	return os.Getenv
}

type command struct {
	summary string
	run     func(ctx context.Context, e Env, args []string) error
}

var commands = map[string]command{
	"run":              {"boot a DUT, flash an image, run suites and write reports", runCmd},
	"worker":           {"serve a QEMU DUT over the worker API", workerCmd},
	"testimage":        {"build the Leviathan test OS image", testimageCmd},
	"flash":            {"write an image to a file or block device", flashCmd},
	"replay":           {"run suites against a recorded session instead of a DUT", replayCmd},
	"testrunner-image": {"build the testrunner container image (docker load -i build/testrunner.tar)", testrunnerImageCmd},
}

// Exit codes.
const (
	ExitOK          = 0
	ExitTestsFailed = 1   // the run completed and a test failed
	ExitUsage       = 2   // bad flags or arguments
	ExitError       = 3   // the run could not complete: bad input, worker, flash or boot failure
	ExitInterrupted = 130 // Ctrl-C or SIGTERM; the DUT was powered off and released
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, args...)}
}

// Execute runs the subcommand named by the first argument and returns the
// process exit code (see the Exit constants).
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
		fmt.Fprintf(e.Stderr, "leviathan: unknown command %q\n\n", e.Args[0])
		e.usage(e.Stderr)
		return 2
	}
	err := cmd.run(ctx, e, e.Args[1:])
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(e.Stderr, "leviathan %s: %v\n", e.Args[0], err)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, localrun.ErrInterrupted), errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	return ExitError
}

func (e Env) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: leviathan <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'leviathan <command> -h' for a command's flags.")
}

// flags makes a flag set that reports errors as usage errors. Its
// EnvXVar methods declare a flag together with the variable it falls back
// to, read through e's getenv when parsed.
func (e Env) flags(name, synopsis string) *envconf.Flags {
	fs := flag.NewFlagSet("leviathan "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: leviathan %s\n\n%s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return envconf.NewFlags(fs, e.getenv())
}

// parse parses args, then fills the flags the command line left out from
// their variables; a bad flag or variable is a usage error.
func parse(fs *envconf.Flags, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{ExitUsage, err}
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// logger is the command's logger on stderr: from quiet (warnings and
// errors) up, everything with -v.
func (e Env) logger(verbose bool, quiet slog.Level) *slog.Logger {
	level := quiet
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))
}
