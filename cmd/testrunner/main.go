// Command testrunner is the testrunner container's entrypoint: it runs
// compiled suites (Go test binaries) against a worker and writes JUnit,
// a summary and per-test logs.
//
//	testrunner --worker URL [--token T] [--lease ID] [--reports DIR] [--run RE] SUITE.test...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/suites/gotest"
)

func main() {
	fs := flag.NewFlagSet("testrunner", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: testrunner --worker URL [flags] SUITE.test...\n\nRuns compiled suites against a worker and writes reports.\n\nflags:\n")
		fs.PrintDefaults()
	}
	var w gotest.Worker
	var o gotest.Options
	fs.StringVar(&w.URL, "worker", os.Getenv("LEVIATHAN_WORKER_URL"), "worker URL [$LEVIATHAN_WORKER_URL]")
	fs.StringVar(&w.Token, "token", os.Getenv("LEVIATHAN_WORKER_TOKEN"), "worker token [$LEVIATHAN_WORKER_TOKEN]")
	fs.StringVar(&w.Lease, "lease", os.Getenv("LEVIATHAN_LEASE"), "lease id held by the job; one is taken when empty [$LEVIATHAN_LEASE]")
	fs.StringVar(&o.ReportDir, "reports", "reports", "report directory")
	fs.StringVar(&o.Run, "run", "", "run only tests matching this regexp")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "timeout per suite")
	fs.StringVar(&o.Test2JSON, "test2json", "", "path of test2json (found on PATH, beside this binary or from Go when empty)")
	fs.Parse(os.Args[1:])
	if w.URL == "" || fs.NArg() == 0 {
		fs.Usage()
		os.Exit(2)
	}
	for _, bin := range fs.Args() {
		o.Suites = append(o.Suites, gotest.Suite{Name: strings.TrimSuffix(filepath.Base(bin), ".test"), Binary: bin})
	}
	o.Out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := gotest.RunOnWorker(ctx, w, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testrunner:", err)
		os.Exit(1)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", sum.Passed, sum.Failed, sum.Skipped)
	if !sum.OK() {
		os.Exit(1)
	}
}
