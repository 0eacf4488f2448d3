package hookcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/runner-hook/supervisor"
	"github.com/balena/leviathan-action/runner-hook/supervisor/supervisortest"
)

// buildHook builds leviathan-hook, static, with its settings file's path
// compiled in, as an install under another prefix does.
func buildHook(t *testing.T, out, configFile string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-C", testenv.RepoRoot(t), "-o", out,
		"-ldflags", "-X github.com/balena/leviathan-action/runner-hook/hook.ConfigFile="+configFile, "./cmd/leviathan-hook")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building leviathan-hook: %v\n%s", err, b)
	}
}

// asUser runs a shell command as the runner's user and returns whether it
// succeeded, with its output.
func asUser(t *testing.T, id supervisor.Identity, env []string, script string) (bool, string) {
	t.Helper()
	cmd := supervisortest.Command(id, env, "/bin/sh", "-c", script)
	out, err := cmd.CombinedOutput()
	return err == nil, string(out)
}

// probe is something the runner's user — a job — must not be able to do.
type probe struct {
	name   string
	script string
	// unchanged is a file whose content must be what it was.
	unchanged string
}

// runProbes runs each probe as the user and reports those that worked.
func runProbes(t *testing.T, id supervisor.Identity, probes []probe) {
	t.Helper()
	for _, p := range probes {
		var before []byte
		if p.unchanged != "" {
			before, _ = os.ReadFile(p.unchanged)
		}
		ok, out := asUser(t, id, nil, p.script)
		if ok {
			t.Errorf("the runner's user could %s: %s\n%s", p.name, p.script, out)
		}
		if p.unchanged != "" {
			if after, _ := os.ReadFile(p.unchanged); !bytes.Equal(before, after) {
				t.Errorf("the runner's user changed %s trying to %s", p.unchanged, p.name)
			}
		}
	}
}

// TestInstalledHookPermissions installs the hook as root for a runner
// whose user is a second user, then checks, as that user, that it cannot
// change what later jobs trust nor read the worker's token — while the
// setgid hook it runs can read its settings and lease the DUT from a real
// worker.
func TestInstalledHookPermissions(t *testing.T) {
	base := supervisortest.SystemDir(t)
	id := supervisortest.NewUser(t, filepath.Join(base, "home"))
	p := newTestbotPaths(t, base)
	build := filepath.Join(base, "build", "leviathan-hook")
	buildHook(t, build, p.config)

	// The worker over a fake DUT, guarded by its admin token.
	w, err := worker.New(duttest.New(t), worker.WithLeaseCheckInterval(20*time.Millisecond), worker.WithToken(workerToken))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)

	// The runner as an earlier install of the hook left it: the token in
	// .env. The policy, root's.
	runnerInstall(t, p.runner, id, strings.ReplaceAll(oldEnv, "http://127.0.0.1:4321", srv.URL))
	os.MkdirAll(p.etc, 0o755)
	os.WriteFile(p.policy, []byte("version: 1\nrepositories: [balena-os/*]\n"), 0o644)
	event := filepath.Join(base, "event.json")
	testenv.CopyFile(t, filepath.Join(testenv.RepoRoot(t), "testdata", "events", "push.json"), event)
	os.Chmod(event, 0o644)

	out, err := exec.Command(build, p.installArgs(id.Name, "LEVIATHAN_POLICY="+p.policy, "LEVIATHAN_LEASE_TTL=5s", "LEVIATHAN_LEASE_WAIT=2s")...).CombinedOutput()
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	t.Logf("install:\n%s", out)
	if env, _ := os.ReadFile(filepath.Join(p.runner, ".env")); bytes.Contains(env, []byte(workerToken)) {
		t.Errorf("the runner's .env still holds the worker's token:\n%s", env)
	}

	// A job, as the runner starts it: Runner.Worker (a shell under that
	// name) runs the installed job-started script. The job's environment
	// also carries what a job could set to fool the hook.
	rw := filepath.Join(base, "bin", "Runner.Worker")
	testenv.CopyFile(t, "/bin/sh", rw)
	os.Chmod(rw, 0o755)
	temp := filepath.Join(p.runner, "_work", "_temp")
	if ok, out := asUser(t, id, nil, "mkdir -p "+temp); !ok {
		t.Fatal(out)
	}
	jobEnv := []string{
		"GITHUB_EVENT_NAME=push", "GITHUB_EVENT_PATH=" + event, "GITHUB_REPOSITORY=balena-os/balena-generic",
		"GITHUB_ACTOR=maintainer", "GITHUB_WORKFLOW_REF=balena-os/balena-generic/.github/workflows/test.yml@refs/heads/main",
		"GITHUB_REF=refs/heads/main", "GITHUB_RUN_ID=6001", "GITHUB_RUN_ATTEMPT=1", "GITHUB_JOB=test",
		"GITHUB_ENV=" + filepath.Join(temp, "github_env"), "RUNNER_TEMP=" + temp,
	}
	forged := []string{
		"LEVIATHAN_WORKER_URL=http://127.0.0.1:1", "LEVIATHAN_STATE_DIR=" + filepath.Join(id.Home, "state"),
		"LEVIATHAN_HOOK_CONFIG=" + filepath.Join(id.Home, "hook.env"), "LEVIATHAN_POLICY=", "LEVIATHAN_WATCH_PID=1",
		"HTTP_PROXY=http://127.0.0.1:1", "GODEBUG=x509sha1=1",
	}
	started := filepath.Join(p.hooks, "job-started.sh")
	rc := filepath.Join(temp, "rc")
	job := supervisortest.Command(id, append(jobEnv, forged...), rw, "-c",
		fmt.Sprintf("/bin/bash %s > %s/started.log 2>&1; echo $? > %s; sleep 600", started, temp, rc))
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { job.Process.Kill(); job.Wait() })
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(rc); err == nil && len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("job-started did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(temp, "started.log"))
	if b, _ := os.ReadFile(rc); strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("job-started as the runner's user: exit %s\n%s", b, log)
	}
	t.Logf("job-started:\n%s", log)

	// The setgid hook read its settings (not the job's) and leased the
	// DUT from the worker with the admin token.
	ctx := context.Background()
	admin, _ := client.New(srv.URL, client.WithToken(workerToken))
	if h, err := admin.Health(ctx); err != nil || !h.Leased || h.LeaseOwner != "github:balena-os/balena-generic run 6001 job test" {
		t.Fatalf("worker after job-started: %+v, %v", h, err)
	}
	exported := testenv.EnvFile(t, filepath.Join(temp, "github_env"))
	if exported["LEVIATHAN_WORKER_URL"] != srv.URL || exported["LEVIATHAN_LEASE"] == "" || exported["LEVIATHAN_JOB_DIR"] != filepath.Join(temp, "leviathan") {
		t.Errorf("exported %v", exported)
	}
	if uid, _, _ := ownerModeOf(t, filepath.Join(temp, "leviathan")); uid != id.UID {
		t.Errorf("the job's directory is owned by uid %d, not the runner's user", uid)
	}
	lease, _ := client.New(srv.URL, client.WithLease(exported["LEVIATHAN_LEASE"]))
	if err := lease.PowerOn(ctx); err != nil {
		t.Errorf("the job's lease does not work: %v", err)
	}
	stateJob := filepath.Join(p.state, "job.json")
	var js struct {
		LeaseID   string `json:"lease_id"`
		Heartbeat struct {
			PID int `json:"pid"`
		} `json:"heartbeat"`
	}
	if b, err := os.ReadFile(stateJob); err != nil || json.Unmarshal(b, &js) != nil || js.Heartbeat.PID == 0 {
		t.Fatalf("job state: %v", err)
	}
	hb := strconv.Itoa(js.Heartbeat.PID)
	if st, _ := os.ReadFile("/proc/" + hb + "/status"); !bytes.Contains(st, []byte(fmt.Sprintf("\nUid:\t%d\t", id.UID))) {
		t.Fatalf("the heartbeat does not run as the runner's user:\n%s", st)
	}

	// What a job (the runner's user) must not be able to do.
	completed := filepath.Join(p.hooks, "job-completed.sh")
	runProbes(t, id, []probe{
		{"append to the job-started script", "echo 'exit 0' >> " + started, started},
		{"replace the job-started script", "printf '#!/bin/sh\\nexit 0\\n' > /tmp/x.$$ && mv -f /tmp/x.$$ " + started, started},
		{"remove the job-completed script", "rm -f " + completed + " && test ! -e " + completed, completed},
		{"put a script of its own in the hooks' directory", "touch " + filepath.Join(p.hooks, "x.sh"), ""},
		{"replace the hook program", "cp /bin/true " + p.bin, p.bin},
		{"read the settings, which hold the worker's token", "cat " + p.config, ""},
		{"change the settings", "echo LEVIATHAN_WORKER_URL=http://127.0.0.1:1 >> " + p.config, p.config},
		{"replace the settings", "mv -f " + p.config + " " + p.config + ".old", p.config},
		{"change the policy", "echo 'events: [pull_request]' >> " + p.policy, p.policy},
		{"replace the policy", "mv -f " + p.policy + " " + p.policy + ".old", p.policy},
		{"read the job's state", "cat " + stateJob, ""},
		{"change the job's state", "echo '{}' > " + stateJob, stateJob},
		{"list the state directory", "ls " + p.state, ""},
		{"change the runner's .env", "echo ACTIONS_RUNNER_HOOK_JOB_STARTED=/tmp/x.sh >> " + filepath.Join(p.runner, ".env"), filepath.Join(p.runner, ".env")},
		{"read the heartbeat's environment", "cat /proc/" + hb + "/environ", ""},
		{"open the heartbeat's memory", "exec 3< /proc/" + hb + "/mem", ""},
	})

	// What a job can do: run the setgid program itself, with any
	// environment. None of it shows the token, and none of it reaches
	// beyond this job's lease.
	job.Env = nil
	before, _ := os.ReadFile(stateJob)
	for _, c := range []struct {
		name    string
		env     []string
		args    string
		ok      bool
		want    string
		notWant string
	}{
		{"status", jobEnv, "status", true, `"lease_id": "(hidden`, js.LeaseID},
		{"a heartbeat for a state directory of its own", jobEnv, "heartbeat " + filepath.Join(id.Home, "state"), false, "not the configured state directory", ""},
		{"job-started writing its exports into the hook's state", replaceEnv(jobEnv, "GITHUB_ENV="+stateJob), "job-started", false, "permission denied", ""},
		{"job-started reading the settings as its event", replaceEnv(jobEnv, "GITHUB_EVENT_PATH="+p.config), "job-started", false, "permission denied", ""},
		{"install", nil, "install --runner-dir " + p.runner + " --runner-user " + id.Name, false, "must run as root", ""},
		{"a development install into the hook's state", nil, "install --insecure-dev --runner-dir " + p.state, false, "must run as root", ""},
		{"supervise", nil, "supervise --runner-dir " + p.runner + " --runner-user " + id.Name + " --repo a/b --labels x --token-file " + p.config, false, "must run as root", ""},
		{"help", nil, "help", true, "job-started", ""},
	} {
		ok, out := asUser(t, id, append(c.env, forged...), p.bin+" "+c.args)
		if ok != c.ok || !strings.Contains(out, c.want) || (c.notWant != "" && strings.Contains(out, c.notWant)) {
			t.Errorf("%s: ok %v, want %v, %q and not %q:\n%s", c.name, ok, c.ok, c.want, c.notWant, out)
		}
		if strings.Contains(out, workerToken) {
			t.Errorf("%s printed the worker's token:\n%s", c.name, out)
		}
	}
	if after, _ := os.ReadFile(stateJob); !bytes.Equal(before, after) {
		t.Error("the job's runs of the program changed the job's state")
	}

	// job-completed, as the runner runs it: the DUT is free, the job's
	// directory gone.
	if ok, out := asUser(t, id, jobEnv, "/bin/bash "+completed); !ok || strings.Contains(out, workerToken) {
		t.Fatalf("job-completed: %v\n%s", ok, out)
	}
	if h, err := admin.Health(ctx); err != nil || h.Leased {
		t.Errorf("worker after job-completed: %+v, %v", h, err)
	}
	if _, err := os.Stat(filepath.Join(temp, "leviathan")); err == nil {
		t.Error("the job's directory is still there")
	}
}

// replaceEnv returns env with the variable of kv replaced by it.
func replaceEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	out := []string{kv}
	for _, e := range env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	return out
}
