// Command testrunner is the testrunner container's entrypoint: it runs
// compiled suites (Go test binaries) against a worker and writes JUnit,
// a summary, per-test logs and the visual report (index.html).
//
//	testrunner --worker URL [--token T] [--lease ID] [--reports DIR] [--run RE] SUITE.test...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/suites/gotest"
	"github.com/balena/leviathan-action/testbot/visual"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the suites args name and returns the exit status: 0 all
// passed, 1 a test failed or the run failed, 2 bad usage.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := envconf.NewFlags(flag.NewFlagSet("testrunner", flag.ContinueOnError), getenv)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: testrunner --worker URL [flags] SUITE.test...\n\nRuns compiled suites against a worker and writes reports.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var w worker
	var o gotest.Options
	fs.EnvStringVar(&w.url, "worker", api.EnvWorkerURL, "", "worker URL")
	fs.EnvStringVar(&w.token, "token", api.EnvWorkerToken, "", "worker token")
	fs.EnvStringVar(&w.lease, "lease", api.EnvLease, "", "lease id held by the job; one is taken when empty")
	fs.StringVar(&o.ReportDir, "reports", "reports", "report directory")
	fs.StringVar(&o.Run, "run", "", "run only tests matching this regexp")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "timeout per suite")
	fs.StringVar(&o.Test2JSON, "test2json", "", "path of test2json (found on PATH, beside this binary or from Go when empty)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if ve := (*envconf.VariableError)(nil); errors.As(err, &ve) {
			fmt.Fprintln(stderr, "testrunner:", err) // a bad flag the flag set printed itself
		}
		return 2
	}
	if w.url == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	for _, bin := range fs.Args() {
		o.Suites = append(o.Suites, gotest.Suite{Name: strings.TrimSuffix(filepath.Base(bin), ".test"), Binary: bin})
	}
	o.Out = stdout
	sum, err := w.run(ctx, o)
	// The visual report of what ran; the testbot that started this
	// container draws it again with the session's recording.
	if ierr := visual.WriteIndex(o.ReportDir, visual.Index{Title: "Leviathan testrunner", Failure: errText(err)}); ierr != nil {
		fmt.Fprintln(stderr, "testrunner: warning: no visual report:", ierr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "testrunner:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", sum.Passed, sum.Failed, sum.Skipped)
	if !sum.OK() {
		return 1
	}
	return 0
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// worker is the worker the suites drive and the lease they act on.
type worker struct{ url, token, lease string }

// run runs the suites against the worker under its lease, or under one
// taken (and released) here when none is given. The suites get the
// worker's URL and the lease's id, never the token: on a worker with a
// token the lease's id is good for that lease only, while it lives.
func (w worker) run(ctx context.Context, o gotest.Options) (*gotest.Summary, error) {
	c, err := client.New(w.url, client.WithToken(w.token), client.WithLease(w.lease))
	if err != nil {
		return nil, err
	}
	if _, err := c.Health(ctx); err != nil {
		return nil, err
	}
	if w.lease == "" {
		held, hctx, err := c.Hold(ctx, "testrunner", 30*time.Second, 10*time.Second)
		if err != nil {
			return nil, err
		}
		defer held.Release(ctx)
		ctx, c, w.lease = hctx, held.Client, held.Lease.ID
	}
	o.Env = append(o.Env, api.EnvWorkerURL+"="+w.url, api.EnvLease+"="+w.lease)
	o.Serial = c.SerialLog
	if ct, err := c.Contract(ctx); err == nil && slices.Contains(ct.Capabilities, dut.CapScreen) {
		o.OnFail = gotest.ShootOnFail(o.ReportDir, c.Screenshot, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	}
	return gotest.Run(ctx, o)
}
