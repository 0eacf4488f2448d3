package hookcmd

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/internal/testenv"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Env{Stdout: &out, Stderr: &errb, Args: args}.Execute(context.Background())
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	code, out, _ := run(t, "help")
	if code != 0 || !strings.Contains(out, "job-started") || !strings.Contains(out, "LEVIATHAN_LEASE_TTL") {
		t.Errorf("help: %d\n%s", code, out)
	}
	if code, _, errs := run(t, "bogus"); code != 2 || !strings.Contains(errs, `unknown command "bogus"`) {
		t.Errorf("unknown command: %d %s", code, errs)
	}
	if code, _, errs := run(t, "heartbeat"); code != 2 || !strings.Contains(errs, "state directory") {
		t.Errorf("heartbeat without a directory: %d %s", code, errs)
	}
}

func TestStatus(t *testing.T) {
	t.Setenv("LEVIATHAN_STATE_DIR", t.TempDir())
	code, out, errs := run(t, "status")
	if code != 0 || !strings.Contains(out, `"healthy": false`) {
		t.Errorf("status: %d %s %s", code, out, errs)
	}
	t.Setenv("LEVIATHAN_LEASE_WAIT", "forever")
	if code, _, errs := run(t, "status"); code != 1 || !strings.Contains(errs, "LEVIATHAN_LEASE_WAIT") {
		t.Errorf("bad configuration: %d %s", code, errs)
	}
}

// jobEnv sets the runner's hook environment for an event fixture.
func jobEnv(t *testing.T, event, fixture, repo string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"GITHUB_EVENT_NAME":   event,
		"GITHUB_EVENT_PATH":   filepath.Join(testenv.RepoRoot(t), "testdata", "events", fixture),
		"GITHUB_REPOSITORY":   repo,
		"GITHUB_ACTOR":        "contributor",
		"GITHUB_WORKFLOW_REF": repo + "/.github/workflows/test.yml@refs/heads/main",
		"GITHUB_RUN_ID":       "77",
		"GITHUB_JOB":          "test",
		"GITHUB_ENV":          filepath.Join(dir, "github_env"),
		"LEVIATHAN_STATE_DIR": filepath.Join(dir, "state"),
		// Nothing answers here: a job the gate refuses never reaches it.
		"LEVIATHAN_WORKER_URL": "http://127.0.0.1:1",
		"LEVIATHAN_WATCH_PID":  strconv.Itoa(os.Getpid()),
	} {
		t.Setenv(k, v)
	}
}

func TestJobStartedRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, event, fixture, policy string
		want                         []string
	}{
		{"fork pull request, default policy", "pull_request", "pull_request-fork.json", "",
			[]string{"::error title=Leviathan refused this job::", "contributor/balena-generic", "::notice title=What a maintainer can do::"}},
		{"fork pull_request_target without the label", "pull_request_target", "pull_request_target-fork.json", "",
			[]string{"::error title=Leviathan refused this job::", "ok-to-test"}},
		{"policy file with an unknown key", "push", "push.json", "version: 1\nrepositories: [balena-os/*]\nforkz: {}\n",
			[]string{"policy.yaml:3", "forkz"}},
		{"missing event payload", "push", "no-such-event.json", "",
			[]string{"no-such-event.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jobEnv(t, tc.event, tc.fixture, "balena-os/balena-generic")
			if tc.policy != "" {
				p := filepath.Join(t.TempDir(), "policy.yaml")
				os.WriteFile(p, []byte(tc.policy), 0o644)
				t.Setenv("LEVIATHAN_POLICY", p)
			}
			code, out, errs := run(t, "job-started")
			if code != 1 {
				t.Fatalf("job-started: exit %d, want 1 (refused)\n%s%s", code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errs)
				}
			}
			if strings.Contains(out, "leased the DUT") {
				t.Error("a refused job went on to lease the DUT")
			}
		})
	}
}

// TestJobStartedWorkerCannotPull: the hook pulls the testrunner image
// through the worker; a worker that runs no testrunner refuses, and the
// job fails with the DUT free and off.
func TestJobStartedWorkerCannotPull(t *testing.T) {
	jobEnv(t, "push", "push.json", "balena-os/balena-generic")
	d := duttest.New(t)
	w, err := worker.New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	t.Setenv("LEVIATHAN_WORKER_URL", srv.URL)
	t.Setenv("LEVIATHAN_TESTRUNNER_IMAGE", "127.0.0.1:5000/leviathan/testrunner@sha256:"+strings.Repeat("a", 64))
	code, out, errs := run(t, "job-started")
	if code != 1 || !strings.Contains(errs, "through the worker") || !strings.Contains(errs, "--testrunner-image") {
		t.Fatalf("job-started with a worker that runs no testrunner: exit %d\n%s%s", code, out, errs)
	}
	c, _ := client.New(srv.URL)
	if h, err := c.Health(context.Background()); err != nil || h.Leased || h.Power != dut.PowerOff {
		t.Errorf("after the failure: %+v, %v: want the DUT free and off", h, err)
	}
}
