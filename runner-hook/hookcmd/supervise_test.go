package hookcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/runner-hook/supervisor/supervisortest"
)

func TestSuperviseUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"supervise"}, "--runner-dir and --runner-user are required"},
		{[]string{"supervise", "--runner-dir", "/r", "--runner-user", "runner", "--labels", "x", "--token-file", "/t"}, "one of --repo OWNER/REPO and --org ORG"},
		{[]string{"supervise", "--runner-dir", "/r", "--runner-user", "runner", "--repo", "a/b", "--token-file", "/t"}, "--labels is required"},
		{[]string{"supervise", "--runner-dir", "/r", "--runner-user", "runner", "--repo", "a/b", "--labels", "x"}, "one of --token-file and --app-id"},
		{[]string{"supervise", "--runner-dir", "/r", "--runner-user", "runner", "--org", "a", "--labels", "x", "--app-id", "1", "--app-key", "/k"}, "needs --app-installation-id"},
	} {
		if code, _, errs := run(t, tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: %d %s, want %q", tc.args, code, errs, tc.want)
		}
	}
}

// TestSupervise runs the command for one job against the fake GitHub, with
// a token read from a file only root can read.
func TestSupervise(t *testing.T) {
	base := supervisortest.SystemDir(t)
	id := supervisortest.NewUser(t, "")
	dir := filepath.Join(base, "actions-runner")
	runnerInstall(t, dir, id, "LANG=C.UTF-8\n")
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\nprintf '%s' \"$ACTIONS_RUNNER_INPUT_JITCONFIG\" > _diag/jitconfig\nsleep 300 &\n"), 0o755)
	const token = "ghp_supervisorTestToken000000000000000"
	srv := githubtest.NewServer(t, githubtest.WithToken(token))
	tokenFile := filepath.Join(base, "github-token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o644)
	os.Chmod(tokenFile, 0o644)
	args := []string{"supervise", "--runner-dir", dir, "--runner-user", id.Name, "--repo", "balena-os/balena-generic",
		"--labels", "self-hosted, leviathan", "--token-file", tokenFile, "--github-api", srv.URL, "--runs", "1",
		"--empty", filepath.Join(dir, "_work")}

	code, out, errs := run(t, args...)
	if code != 1 || !strings.Contains(errs, "chmod 600 "+tokenFile) {
		t.Fatalf("a token file others can read: %d\n%s%s", code, out, errs)
	}
	os.Chmod(tokenFile, 0o600)
	code, out, errs = run(t, args...)
	if code != 0 {
		t.Fatalf("supervise: %d\n%s%s", code, out, errs)
	}
	rs := srv.Runners()
	if len(rs) != 1 || strings.Join(rs[0].Labels, ",") != "self-hosted,leviathan" {
		t.Fatalf("runners %+v\n%s", rs, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "_diag", "jitconfig")); string(b) != rs[0].JITConfig {
		t.Errorf("the runner got %q, want the registration's configuration", b)
	}
	if !strings.Contains(errs, "killed the processes the job left running") || strings.Contains(out+errs, token) {
		t.Errorf("supervise log:\n%s", errs)
	}
}
