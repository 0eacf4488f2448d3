package hookcmd

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/balena/leviathan-action/runner-hook/hook"
	"github.com/balena/leviathan-action/runner-hook/supervisor"
	"github.com/balena/leviathan-action/runner-hook/supervisor/supervisortest"
)

// setConfigFile points the compiled-in settings file elsewhere for the
// test, as a build with -ldflags -X does.
func setConfigFile(t *testing.T, p string) {
	old := hook.ConfigFile
	hook.ConfigFile = p
	t.Cleanup(func() { hook.ConfigFile = old })
}

// testbotPaths is where a test installs: every system path under base.
type testbotPaths struct {
	base, runner, bin, hooks, etc, config, state, policy, group string
}

func newTestbotPaths(t *testing.T, base string) testbotPaths {
	p := testbotPaths{
		base:   base,
		runner: filepath.Join(base, "actions-runner"),
		bin:    filepath.Join(base, "bin", "leviathan-hook"),
		hooks:  filepath.Join(base, "lib", "leviathan", "hooks"),
		etc:    filepath.Join(base, "etc", "leviathan"),
		state:  filepath.Join(base, "var", "lib", "leviathan-hook"),
		group:  supervisortest.Name("levh"),
	}
	p.config = filepath.Join(p.etc, "hook.env")
	p.policy = filepath.Join(p.etc, "policy.yaml")
	supervisortest.RemoveGroupAtEnd(t, p.group)
	return p
}

func (p testbotPaths) installArgs(user string, sets ...string) []string {
	args := []string{"install", "--runner-dir", p.runner, "--runner-user", user, "--bin", p.bin,
		"--hooks-dir", p.hooks, "--group", p.group, "--set", "LEVIATHAN_STATE_DIR=" + p.state}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// runnerInstall lays out a runner's install as it should be: root's, but
// for the work and diagnostics directories, with a .env as an earlier
// install of the hook left it.
func runnerInstall(t *testing.T, dir string, id supervisor.Identity, env string) {
	t.Helper()
	for _, d := range []string{"bin", "_work", "_diag", "leviathan"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "bin", "Runner.Listener"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "leviathan", "job-started.sh"), []byte("#!/bin/bash\n"), 0o755)
	os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644)
	for _, d := range []string{"_work", "_diag"} {
		os.Chown(filepath.Join(dir, d), int(id.UID), int(id.GID))
	}
}

const workerToken = "lvt-admin-7c1f9e2d4b"

const oldEnv = "LANG=C.UTF-8\nACTIONS_RUNNER_HOOK_JOB_STARTED=/old/hook.sh\nLEVIATHAN_WORKER_URL=http://127.0.0.1:4321\nLEVIATHAN_WORKER_TOKEN=" + workerToken + "\nLEVIATHAN_WATCH_PID=1\nGITHUB_PAT=ghp_oldsecret\n"

func ownerModeOf(t *testing.T, p string) (uid, gid uint32, mode os.FileMode) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return sys.Uid, sys.Gid, st.Mode()
}

func TestInstall(t *testing.T) {
	base := supervisortest.SystemDir(t)
	id := supervisortest.NewUser(t, "")
	p := newTestbotPaths(t, base)
	setConfigFile(t, p.config)
	runnerInstall(t, p.runner, id, oldEnv)
	os.MkdirAll(p.etc, 0o755)
	os.WriteFile(p.policy, []byte("version: 1\nrepositories: [balena-os/*]\n"), 0o644)

	for i := range 2 { // idempotent
		code, out, errs := run(t, p.installArgs(id.Name, "LEVIATHAN_POLICY="+p.policy, "LEVIATHAN_LEASE_TTL=30s")...)
		if code != 0 {
			t.Fatalf("install: %d\n%s%s", code, out, errs)
		}
		if strings.Contains(out+errs, workerToken) || strings.Contains(out+errs, "ghp_oldsecret") {
			t.Errorf("install printed a secret:\n%s%s", out, errs)
		}
		if i == 0 && (!strings.Contains(out, "moved from "+p.runner+"/.env to "+p.config+": LEVIATHAN_WORKER_URL, LEVIATHAN_WORKER_TOKEN") ||
			!strings.Contains(out, "removed from "+p.runner+"/.env, where every job's steps could read them: LEVIATHAN_WATCH_PID, GITHUB_PAT")) {
			t.Errorf("install does not say what it moved and removed:\n%s", out)
		}
		if i == 1 && strings.Contains(out, "moved") {
			t.Errorf("the second install moved settings again:\n%s", out)
		}
	}

	env, _ := os.ReadFile(filepath.Join(p.runner, ".env"))
	wantEnv := "LANG=C.UTF-8\nACTIONS_RUNNER_HOOK_JOB_STARTED=" + p.hooks + "/job-started.sh\nACTIONS_RUNNER_HOOK_JOB_COMPLETED=" + p.hooks + "/job-completed.sh\n"
	if string(env) != wantEnv {
		t.Errorf(".env =\n%s\nwant\n%s", env, wantEnv)
	}
	if uid, _, mode := ownerModeOf(t, filepath.Join(p.runner, ".env")); uid != 0 || mode.Perm() != 0o644 {
		t.Errorf(".env: uid %d mode %v", uid, mode)
	}
	vals, err := hook.ReadConfigFile(p.config)
	if err != nil {
		t.Fatal(err)
	}
	if vals["LEVIATHAN_WORKER_TOKEN"] != workerToken || vals["LEVIATHAN_WORKER_URL"] != "http://127.0.0.1:4321" ||
		vals["LEVIATHAN_POLICY"] != p.policy || vals["LEVIATHAN_STATE_DIR"] != p.state || vals["LEVIATHAN_LEASE_TTL"] != "30s" {
		t.Errorf("settings %v", vals)
	}
	grp := mustGID(t, p.group)
	for _, c := range []struct {
		path string
		gid  uint32
		mode os.FileMode
	}{
		{p.config, grp, 0o640},
		{p.bin, grp, os.ModeSetgid | 0o755},
		{p.state, grp, os.ModeDir | os.ModeSetgid | 0o770},
		{filepath.Join(p.hooks, "job-started.sh"), 0, 0o755},
		{filepath.Join(p.hooks, "job-completed.sh"), 0, 0o755},
	} {
		if uid, gid, mode := ownerModeOf(t, c.path); uid != 0 || gid != c.gid || mode != c.mode {
			t.Errorf("%s: %d:%d %v, want 0:%d %v", c.path, uid, gid, mode, c.gid, c.mode)
		}
	}
	script, _ := os.ReadFile(filepath.Join(p.hooks, "job-completed.sh"))
	if !strings.Contains(string(script), "exec '"+p.bin+"' job-completed") {
		t.Errorf("job-completed.sh = %q", script)
	}
	if _, err := os.Stat(filepath.Join(p.runner, "leviathan", "job-started.sh")); err == nil {
		t.Error("the old hook script in the runner's directory is still there")
	}
	// The installed settings load as the setgid hook loads them.
	c, err := hook.ConfigSource{File: p.config, Trusted: true}.Load()
	if err != nil || c.WorkerToken != workerToken {
		t.Errorf("the installed settings do not load as trusted: %v", err)
	}
}

func mustGID(t *testing.T, group string) uint32 {
	t.Helper()
	g, err := user.LookupGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

func TestInstallRefusals(t *testing.T) {
	base := supervisortest.SystemDir(t)
	id := supervisortest.NewUser(t, "")
	p := newTestbotPaths(t, base)
	setConfigFile(t, p.config)
	runnerInstall(t, p.runner, id, "LANG=C.UTF-8\n")
	os.MkdirAll(p.etc, 0o755)

	// The runner's user owns the runner's directory: refused, with the fix.
	os.Chown(p.runner, int(id.UID), int(id.GID))
	code, out, errs := run(t, p.installArgs(id.Name)...)
	if code != 1 || !strings.Contains(errs, "refused: "+id.Name+" can change the runner's install") ||
		!strings.Contains(errs, p.runner+" is owned by "+id.Name) || !strings.Contains(errs, "chown -R root:root "+p.runner) {
		t.Errorf("a runner directory owned by the runner's user: %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(p.config); err == nil {
		t.Error("the refused install wrote the settings")
	}
	// --force installs, loudly.
	code, out, errs = run(t, append(p.installArgs(id.Name), "--force")...)
	if code != 0 || !strings.Contains(errs, "NOT SAFE FOR PUBLIC REPOSITORIES") {
		t.Errorf("--force: %d\n%s%s", code, out, errs)
	}
	os.Chown(p.runner, 0, 0)

	os.WriteFile(p.policy, []byte("version: 1\n"), 0o664)
	os.Chmod(p.policy, 0o664)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a policy others can write", p.installArgs(id.Name, "LEVIATHAN_POLICY="+p.policy), 1, "chmod go-w " + p.policy},
		{"a misspelt setting", p.installArgs(id.Name, "LEVIATHAN_WORKER_TOKN=x"), 2, "unknown setting"},
		{"a relative state directory", p.installArgs(id.Name, "LEVIATHAN_STATE_DIR=state"), 1, "not an absolute path"},
		{"root as the runner's user", p.installArgs("root"), 1, "the runner's user is root"},
		{"no runner directory", []string{"install"}, 2, "--runner-dir is required"},
		{"a secret split over lines", []string{"install", "--runner-dir", p.runner, "--set", "LEVIATHAN_WORKER_TOKEN=" + workerToken + "\nx"}, 2, "want KEY=VALUE on one line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("%d\n%s%s\nwant %d and %q", code, out, errs, tc.code, tc.want)
			}
			if strings.Contains(out+errs, workerToken) {
				t.Errorf("the error quotes the token:\n%s", errs)
			}
		})
	}
	os.Chmod(p.policy, 0o644)

	// The runner's user in the hook's group could read the token itself.
	supervisortest.RunTool(t, "gpasswd", "-a", id.Name, p.group)
	code, out, errs = run(t, p.installArgs(id.Name)...)
	if code != 1 || !strings.Contains(errs, "gpasswd -d "+id.Name+" "+p.group) {
		t.Errorf("the runner's user in the hook's group: %d\n%s%s", code, out, errs)
	}
}

func TestInstallDev(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	os.WriteFile(env, []byte("LANG=C.UTF-8\nACTIONS_RUNNER_HOOK_JOB_STARTED=/old/hook.sh\n"), 0o644)
	for range 2 {
		code, out, errs := run(t, "install", "--insecure-dev", "--runner-dir", dir, "--set", "LEVIATHAN_WORKER_URL=http://127.0.0.1:4321")
		if code != 0 || !strings.Contains(errs, "NOT SAFE FOR PUBLIC REPOSITORIES") {
			t.Fatalf("install --insecure-dev: %d %s %s", code, out, errs)
		}
	}
	exe, _ := os.Executable()
	b, _ := os.ReadFile(env)
	want := "LANG=C.UTF-8\nLEVIATHAN_WORKER_URL=http://127.0.0.1:4321\n" +
		"ACTIONS_RUNNER_HOOK_JOB_STARTED=" + filepath.Join(dir, "leviathan", "job-started.sh") + "\n" +
		"ACTIONS_RUNNER_HOOK_JOB_COMPLETED=" + filepath.Join(dir, "leviathan", "job-completed.sh") + "\n"
	if string(b) != want {
		t.Errorf(".env =\n%s\nwant\n%s", b, want)
	}
	script, err := os.ReadFile(filepath.Join(dir, "leviathan", "job-started.sh"))
	if err != nil || !strings.Contains(string(script), "exec "+shellQuote(exe)+" job-started") {
		t.Errorf("job-started.sh = %q, %v", script, err)
	}
	if os.Geteuid() != 0 {
		code, _, errs := run(t, "install", "--runner-dir", dir)
		if code != 1 || !strings.Contains(errs, "must run as root") {
			t.Errorf("install without root: %d %s", code, errs)
		}
	}
}
