package supervisor_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/internal/syncio"
	"github.com/balena/leviathan-action/runner-hook/supervisor"
	"github.com/balena/leviathan-action/runner-hook/supervisor/supervisortest"
)

// fakeRunSh stands for the runner's run.sh: it records what it was given
// and as whom, writes where a job would (the work directory, the home, a
// temporary directory, its registration files), leaves a process behind
// and exits, as a runner does after its one job.
const fakeRunSh = `#!/bin/sh
d="$(dirname "$0")/_diag"
n=$(date +%s%N)
printf '%s\n' "$@" > "$d/args.$n"
printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" > "$d/jitconfig.$n"
id -u > "$d/uid.$n"
test -O .runner && echo jit > .runner && echo yes > "$d/runner-writable.$n"
echo checkout > _work/checkout.txt
echo '[core] fsmonitor = evil' > "$HOME/.gitconfig"
mktemp "$LEVIATHAN_TEST_TMP/job.XXXXXX" > /dev/null
sleep 300 &
echo $! > "$d/leftover.$n"
echo "runner output"
exit 0
`

func TestSupervisorRunsOneJobRunners(t *testing.T) {
	supervisortest.NeedRoot(t)
	base := supervisortest.SystemDir(t)
	id := supervisortest.NewUser(t, filepath.Join(base, "home"))
	dir := filepath.Join(base, "actions-runner")
	tmp := filepath.Join(base, "tmp")
	for _, d := range []string{dir, filepath.Join(dir, "_diag"), tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(filepath.Join(dir, "_diag"), int(id.UID), int(id.GID))
	os.Chmod(tmp, os.ModeSticky|0o777)
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte(fakeRunSh), 0o755); err != nil {
		t.Fatal(err)
	}
	// Something the last job left in the user's home before a restart.
	os.WriteFile(filepath.Join(id.Home, ".bashrc"), []byte("evil &\n"), 0o644)

	srv := githubtest.NewServer(t)
	// GitHub fails twice first: once for a while, once for good reason.
	srv.FailNext(repoOp, 1, githubtest.ServerError(502))
	srv.FailNext(repoOp, 1, githubtest.Fault{Status: 403, Message: "Resource not accessible by integration"})
	var logs, output syncio.Buffer
	var slept []time.Duration
	s := &supervisor.Supervisor{
		Config: supervisor.Config{
			RunnerDir: dir, User: id, Labels: []string{"self-hosted", "leviathan"}, NamePrefix: "testbot",
			RemoveOwned: []string{tmp}, Runs: 2, Env: []string{"LEVIATHAN_TEST_TMP=" + tmp},
		},
		Registrar: &supervisor.GitHub{Client: srv.Client(githubtest.DefaultToken), Owner: "balena-os", Repo: "balena-generic"},
		Log:       slog.New(slog.NewTextHandler(&logs, nil)),
		Output:    &output,
		Sleep:     func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil },
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("supervisor log:\n%s", logs.String())

	// Two registrations reached GitHub (after the two refusals), each
	// with a fresh name and the labels.
	rs := srv.Runners()
	if len(rs) != 2 || srv.Calls(repoOp) != 4 {
		t.Fatalf("runners %+v after %d calls: want 2 after 4", rs, srv.Calls(repoOp))
	}
	if rs[0].Name == rs[1].Name || !strings.HasPrefix(rs[0].Name, "testbot-") || strings.Join(rs[1].Labels, ",") != "self-hosted,leviathan" {
		t.Errorf("runners %+v", rs)
	}
	if !slices.Equal(slept, []time.Duration{time.Second, 5 * time.Minute}) {
		t.Errorf("waited %v: want 1s after the 502 and the longest wait after the 403", slept)
	}
	if !strings.Contains(logs.String(), "Administration: write") {
		t.Error("the 403 was not logged with the permission to grant")
	}

	// Each run got its runner's configuration, as the runner's user,
	// through the environment, not the command line.
	recs := func(kind string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, "_diag", kind+".*"))
		slices.Sort(m)
		var out []string
		for _, p := range m {
			b, _ := os.ReadFile(p)
			out = append(out, strings.TrimSpace(string(b)))
		}
		return out
	}
	if got := recs("jitconfig"); !slices.Equal(got, []string{rs[0].JITConfig, rs[1].JITConfig}) {
		t.Errorf("the runs got configurations %q, want the two registrations'", got)
	}
	if got := recs("args"); !slices.Equal(got, []string{"", ""}) {
		t.Errorf("run.sh arguments %q: the configuration must not be on the command line", got)
	}
	if got := recs("uid"); !slices.Equal(got, []string{strconv.Itoa(int(id.UID)), strconv.Itoa(int(id.UID))}) {
		t.Errorf("ran as %q, want uid %d", got, id.UID)
	}
	if got := recs("runner-writable"); len(got) != 2 {
		t.Errorf("the runner could not write its registration in a root-owned install: %q", got)
	}
	if !strings.Contains(output.String(), "runner output") {
		t.Errorf("the runner's output did not reach Output: %q", output.String())
	}

	// Nothing of the jobs is left: no process, no file.
	for _, pid := range recs("leftover") {
		n, _ := strconv.Atoi(pid)
		if b, err := os.ReadFile("/proc/" + pid + "/status"); err == nil && !strings.Contains(string(b), "zombie") {
			t.Errorf("the job's leftover process %d still runs", n)
		}
	}
	if ps, _ := supervisor.UserProcs(id.UID); len(ps) > 0 {
		t.Errorf("processes of the runner's user left: %v", ps)
	}
	for _, d := range []string{filepath.Join(dir, "_work"), id.Home} {
		if ents, err := os.ReadDir(d); err != nil || len(ents) > 0 {
			t.Errorf("%s holds %v (%v): want it empty", d, ents, err)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("%s holds the job's files %v", tmp, ents)
	}
	if !strings.Contains(logs.String(), "killed the processes the job left running") {
		t.Error("the leftover process was not reported")
	}
}

// A supervisor refuses to run as anything but root, or with the runner's
// install inside a directory it empties.
func TestSupervisorConfigRefusals(t *testing.T) {
	s := &supervisor.Supervisor{Config: supervisor.Config{RunnerDir: "/home/runner/actions-runner", Labels: []string{"x"},
		User: supervisor.Identity{Name: "runner", UID: 4242, Home: "/home/runner"}}, Registrar: &supervisor.GitHub{}}
	err := s.Run(context.Background())
	want := "holds the runner's install"
	if os.Geteuid() != 0 {
		want = "must run as root"
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Run = %v, want %q", err, want)
	}
}
