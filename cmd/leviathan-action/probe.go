//go:build leviathan_probe

package main

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/balena/leviathan-action/action/actioncmd"
	"github.com/balena/leviathan-action/suites/gotest"
)

// probeVar names the test binary probeTester runs as the only suite.
const probeVar = "LEVIATHAN_ACTION_TEST_PROBE"

// probeTester is a test hook, compiled only with -tags leviathan_probe
// (main_test.go builds the command so): when probeVar is set, the test
// mode runs that program as its only suite, started as the direct path
// starts suites (gotest.Run with a clean environment plus the allowed
// variables and the suite config), with no worker and no DUT. Before, it
// prints hashes of the credentials the action received, to show they
// reached it through getenv.
func probeTester(getenv func(string) string) actioncmd.Tester {
	probe := getenv(probeVar)
	if probe == "" {
		return nil
	}
	return actioncmd.TesterFunc(func(ctx context.Context, req actioncmd.TestRequest) (*actioncmd.TestResult, error) {
		fmt.Fprintf(req.Out, "probe: worker token sha256:%x\n", sha256.Sum256([]byte(req.WorkerToken)))
		if req.Artifacts != nil {
			ids := req.Artifacts.BackendIDs()
			fmt.Fprintf(req.Out, "probe: runtime token scoped to %s/%s\n", ids.Run, ids.Job)
		}
		var env []string
		for k, v := range req.Env {
			env = append(env, k+"="+v)
		}
		if req.Config != nil {
			env = append(env, actioncmd.EnvSuiteConfig+"="+string(req.Config))
		}
		sum, err := gotest.Run(ctx, gotest.Options{Suites: []gotest.Suite{{Name: "probe", Binary: probe}},
			Env: env, CleanEnv: true, ReportDir: req.ReportDir, Out: req.Out})
		if err != nil {
			return nil, err
		}
		return &actioncmd.TestResult{JUnit: sum.JUnit, ReportDir: req.ReportDir, DeviceType: req.DeviceType}, nil
	})
}
