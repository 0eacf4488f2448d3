package testmode

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/balena/leviathan-action/autokit/api"
)

// FromEnv fills the fields of o that are empty from the environment, read
// through getenv (os.Getenv): the worker, lease, token and testrunner
// image the runner hook exported; ReportDir as $LEVIATHAN_JOB_DIR/reports
// (kept by job-completed), WorkDir as $LEVIATHAN_JOB_DIR, or else
// $RUNNER_TEMP/leviathan-reports and $RUNNER_TEMP; RunID and Job from
// GITHUB_RUN_ID (with GITHUB_RUN_ATTEMPT) and GITHUB_JOB; SuitesDir from
// GITHUB_ACTION_PATH. Clients (Artifacts, GitHub, Docker) are left to the
// caller.
func FromEnv(o Options, getenv func(string) string) Options {
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&o.WorkerURL, getenv(api.EnvWorkerURL))
	set(&o.Lease, getenv(api.EnvLease))
	set(&o.Token, getenv(api.EnvWorkerToken))
	set(&o.Image, getenv(api.EnvTestrunnerImage))
	if d := getenv(api.EnvJobDir); d != "" {
		set(&o.ReportDir, filepath.Join(d, "reports"))
		set(&o.WorkDir, d)
	} else if d := getenv("RUNNER_TEMP"); d != "" {
		set(&o.ReportDir, filepath.Join(d, "leviathan-reports"))
		set(&o.WorkDir, d)
	}
	if id := getenv("GITHUB_RUN_ID"); id != "" {
		if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" {
			id += "-" + a
		}
		set(&o.RunID, id)
	}
	set(&o.Job, getenv("GITHUB_JOB"))
	if p := getenv("GITHUB_ACTION_PATH"); p != "" {
		set(&o.SuitesDir, filepath.Join(p, "suites"))
	}
	return o
}

// allowedEnv keeps the KEY=VALUE entries of env whose names are in allow
// and names the others. Names of the LEVIATHAN_ family are the action's
// own and are refused.
func allowedEnv(env, allow []string) (kept, dropped []string, err error) {
	for i, kv := range env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t\n") {
			// The entry is not shown: it may be a secret.
			return nil, nil, fmt.Errorf("testmode: env entry %d is not KEY=VALUE", i+1)
		}
		if strings.HasPrefix(name, api.EnvPrefix) {
			return nil, nil, fmt.Errorf("testmode: env %s: LEVIATHAN_ variables are set by the action itself", name)
		}
		if slices.Contains(allow, name) {
			kept = append(kept, kv)
		} else {
			dropped = append(dropped, name)
		}
	}
	return kept, dropped, nil
}
