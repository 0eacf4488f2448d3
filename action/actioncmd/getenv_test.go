package actioncmd_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/actioncmd"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/githubtest"
)

// seal serves vars through Env.Getenv only, as the command does with the
// secrets it took out of its environment; the process's environment
// holds them empty (newStep cleared them).
func (s *step) seal(t *testing.T, vars map[string]string) {
	t.Helper()
	for k := range vars {
		if os.Getenv(k) != "" {
			t.Fatalf("%s is in the process's environment", k)
		}
	}
	s.env.Getenv = func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// TestSecretsThroughGetenv checks that every credential the command uses
// is read through Env.Getenv, none from the process's environment.
func TestSecretsThroughGetenv(t *testing.T) {
	t.Run("report, github-token", func(t *testing.T) {
		s := newStep(t, map[string]string{"junit": "junit.xml"})
		s.env.Args = []string{"report"} // the mode argument's getenv wraps Env.Getenv
		copyFile(t, "testdata/junit-pass.xml", filepath.Join(s.dir, "junit.xml"))
		gh := s.github(t)
		s.seal(t, map[string]string{"INPUT_GITHUB_TOKEN": githubtest.DefaultToken})
		if code := s.run(t); code != actioncmd.ExitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		if len(gh.CheckRuns()) != 1 || !strings.Contains(s.stdout.String(), "::add-mask::"+githubtest.DefaultToken) {
			t.Errorf("check runs %+v: want one, made with the token Getenv gave", gh.CheckRuns())
		}
	})

	t.Run("submit, runtime token", func(t *testing.T) {
		s := newStep(t, map[string]string{"mode": "submit", "image": "balena.img", "artifact": "leviathan-image"})
		rawImage(t, s.dir)
		as := artifacttest.Start(t)
		s.seal(t, map[string]string{"ACTIONS_RUNTIME_TOKEN": as.RuntimeToken, "ACTIONS_RESULTS_URL": as.ResultsURL})
		if code := s.run(t); code != actioncmd.ExitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		if _, err := os.Stat(as.ZipPath("leviathan-image")); err != nil {
			t.Errorf("not uploaded: %v", err)
		}
	})

	t.Run("test, worker and runtime tokens", func(t *testing.T) {
		s := newStep(t, map[string]string{"mode": "test", "artifact": "leviathan-image", "worker-url": "http://127.0.0.1:4321"})
		s.github(t)
		as := artifacttest.Start(t)
		s.seal(t, map[string]string{"INPUT_GITHUB_TOKEN": githubtest.DefaultToken, "LEVIATHAN_WORKER_TOKEN": "worker-s3cr3t",
			"ACTIONS_RUNTIME_TOKEN": as.RuntimeToken, "ACTIONS_RESULTS_URL": as.ResultsURL})
		var got actioncmd.TestRequest
		s.env.Tester = actioncmd.TesterFunc(func(ctx context.Context, req actioncmd.TestRequest) (*actioncmd.TestResult, error) {
			got = req
			p := filepath.Join(req.ReportDir, "junit.xml")
			copyFile(t, "testdata/junit-pass.xml", p)
			return &actioncmd.TestResult{JUnit: p, DeviceType: "generic-amd64"}, nil
		})
		if code := s.run(t); code != actioncmd.ExitOK {
			t.Fatalf("exit %d, want 0", code)
		}
		if got.WorkerToken != "worker-s3cr3t" || got.Artifacts == nil {
			t.Errorf("worker token %q, artifacts %v: want both from Getenv", got.WorkerToken, got.Artifacts)
		}
		if !strings.Contains(s.stdout.String(), "::add-mask::worker-s3cr3t") {
			t.Errorf("the worker token is not masked")
		}
	})
}

func TestSecretVars(t *testing.T) {
	v := actioncmd.SecretVars()
	for _, want := range []string{"INPUT_GITHUB_TOKEN", "INPUT_GITHUB-TOKEN", "INPUT_APP_PRIVATE_KEY", "INPUT_APP-PRIVATE-KEY",
		"ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "LEVIATHAN_WORKER_TOKEN"} {
		if !slices.Contains(v, want) {
			t.Errorf("SecretVars lacks %s", want)
		}
	}
	v[0] = "changed"
	if actioncmd.SecretVars()[0] == "changed" {
		t.Errorf("SecretVars returns a shared slice")
	}
}
