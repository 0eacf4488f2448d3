package leviathancmd

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/internal/localrun"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runCmd(ctx context.Context, e Env, args []string) error {
	fs := e.flags("run [flags]", `Boot a DUT, flash an image, run suites against it and write reports.

With no --worker it builds (or reuses) the test OS image, starts a QEMU DUT
and a worker on loopback, and removes them afterwards. Reports: junit.xml, summary.json, serial.log
and per-test logs.

Exit status: 0 all tests passed or skipped; 1 a test failed; 2 bad usage;
3 the run could not complete (bad image or suite, worker, flash or boot
failure: summary.json names the stage); 130 interrupted (the DUT is left
off and released).`)
	var o localrun.Options
	var suites stringList
	fs.StringVar(&o.Image, "image", "", "image to flash: raw, gz, xz or zst (default: the test OS image, built if needed)")
	fs.Var(&suites, "suite", "suite to run: a Go test package directory; repeatable (default ./suites/os)")
	fs.EnvStringVar(&o.WorkerURL, "worker", api.EnvWorkerURL, "", "URL of a running worker (default: start a local QEMU DUT)")
	fs.EnvStringVar(&o.Token, "token", api.EnvWorkerToken, "", "the worker's token")
	fs.StringVar(&o.Run, "run", "", "run only tests matching this regexp (as go test -run)")
	fs.StringVar(&o.BuildDir, "build-dir", "build", "build outputs and download cache")
	fs.StringVar(&o.ReportDir, "reports", "reports", "report directory")
	fs.DurationVar(&o.BootTimeout, "boot-timeout", 3*time.Minute, "how long the DUT may take from power-on to SSH")
	fs.EnvIntVar(&o.MemoryMiB, "memory", envQEMUMemory, 512, "QEMU DUT memory in MiB")
	fs.EnvIntVar(&o.CPUs, "cpus", envQEMUCPUs, 1, "QEMU DUT CPUs")
	verbose := fs.Bool("v", false, "log what the worker and DUT do")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Suites = suites
	if len(o.Suites) == 0 {
		o.Suites = []string{"./suites/os"}
	}
	o.Out = e.Stdout
	o.Logger = e.logger(*verbose, slog.LevelWarn)
	res, err := localrun.Run(ctx, o)
	if err != nil {
		return err
	}
	if !res.Summary.OK() {
		return &exitError{ExitTestsFailed, fmt.Errorf("%d test(s) failed, %d suite error(s); see %s", res.Summary.Failed, len(res.Summary.Errors), o.ReportDir)}
	}
	return nil
}
