package actioncmd_test

import (
	"context"
	"os"
	"path/filepath"

	"github.com/balena/leviathan-action/action/actioncmd"
)

// Connecting a test mode: the Tester flashes and runs the suites and
// leaves a JUnit file, which the command then reports.
func ExampleTesterFunc() {
	tester := actioncmd.TesterFunc(func(ctx context.Context, req actioncmd.TestRequest) (*actioncmd.TestResult, error) {
		junit := filepath.Join(req.ReportDir, "junit.xml")
		// … get req.Source, flash it through req.WorkerURL, run req.Suites …
		return &actioncmd.TestResult{JUnit: junit, ReportDir: req.ReportDir}, nil
	})
	code := actioncmd.Env{Stdout: os.Stdout, Stderr: os.Stderr, Tester: tester}.Execute(context.Background())
	os.Exit(code)
}
