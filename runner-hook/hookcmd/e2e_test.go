package hookcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	containertypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	docker "github.com/docker/docker/client"

	"github.com/balena/leviathan-action/action/testmode"
	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/testrunner"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/internal/localrun"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/internal/testrunnerimage"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

// containerSpecEnv makes the test binary run one testrunner container (as
// the action's test step does) and nothing else, so the test can kill it
// mid-run like a runner that died.
const containerSpecEnv = "LEVIATHAN_E2E_CONTAINER_SPEC"

func TestMain(m *testing.M) {
	if spec := os.Getenv(containerSpecEnv); spec != "" {
		os.Exit(runContainer(spec))
	}
	os.Exit(m.Run())
}

func runContainer(spec string) int {
	var s testrunner.Spec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		os.Stderr.WriteString(err.Error())
		return 3
	}
	cli, err := docker.NewClientWithOpts(docker.FromEnv, docker.WithAPIVersionNegotiation())
	if err != nil {
		return 3
	}
	s.Stdout, s.Stderr = os.Stdout, os.Stderr
	res, err := testrunner.Run(context.Background(), cli, s)
	if err != nil || !res.Passed() {
		return 1
	}
	return 0
}

// leftovers lists the containers and networks labelled with label=value.
func leftovers(t *testing.T, cli *docker.Client, label, value string) []string {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", label+"="+value))
	var names []string
	cs, err := cli.ContainerList(context.Background(), containertypes.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		names = append(names, "container "+c.ID[:12]+" ("+c.State+")")
	}
	ns, err := cli.NetworkList(context.Background(), network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		names = append(names, "network "+n.Name)
	}
	return names
}

// hookRun runs leviathan-hook in-process, as the runner's hook script does.
func hookRun(t *testing.T, ctx context.Context, exe string, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Env{Stdout: &out, Stderr: &errb, Args: args, Executable: exe}.Execute(ctx)
	t.Logf("leviathan-hook %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String() + errb.String()
}

// runnerJob sets the environment the runner gives a hook for one job, with
// a process standing in for the runner's Runner.Worker.
func runnerJob(t *testing.T, runID string) *exec.Cmd {
	t.Helper()
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"GITHUB_EVENT_NAME":   "push",
		"GITHUB_EVENT_PATH":   filepath.Join(root, "testdata", "events", "push.json"),
		"GITHUB_REPOSITORY":   "balena-os/balena-generic",
		"GITHUB_ACTOR":        "maintainer",
		"GITHUB_WORKFLOW_REF": "balena-os/balena-generic/.github/workflows/test.yml@refs/heads/main",
		"GITHUB_REF":          "refs/heads/main",
		"GITHUB_RUN_ID":       runID,
		"GITHUB_RUN_ATTEMPT":  "1",
		"GITHUB_JOB":          "test",
		"GITHUB_ENV":          filepath.Join(dir, "github_env"),
		"RUNNER_TEMP":         filepath.Join(dir, "temp"),
	} {
		t.Setenv(k, v)
	}
	r := exec.Command("sleep", "3600")
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Process.Kill(); r.Wait() })
	t.Setenv("LEVIATHAN_WATCH_PID", strconv.Itoa(r.Process.Pid))
	return r
}

func exported(t *testing.T) map[string]string { return testenv.EnvFile(t, os.Getenv("GITHUB_ENV")) }

// TestTestbotJobs runs the testbot's side of GitHub jobs against a QEMU DUT
// and the real Docker Engine: a job that passes through job-started, runs
// suites/os in the testrunner container pulled from a registry, and
// job-completed; then a job whose runner and container die mid-run, freed
// by the dead-man's switch; then the next job, which cleans up after it.
func TestTestbotJobs(t *testing.T) {
	testenv.NeedQEMU(t)
	cli := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := testenv.RepoRoot(t)

	// The testbot: the testrunner image in a registry, the hook program,
	// the test OS image, a QEMU DUT behind a worker whose lease-end hook
	// removes a dead job's containers.
	img, err := testrunnerimage.Build(ctx, testrunnerimage.Options{RepoRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	reg, ref, err := testrunnerimage.Serve(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	t.Cleanup(func() { cli.ImageRemove(context.Background(), ref, imageRemoveOptions()) })
	hookBin := filepath.Join(t.TempDir(), "leviathan-hook")
	if out, err := exec.CommandContext(ctx, "go", "build", "-C", root, "-o", hookBin, "./cmd/leviathan-hook").CombinedOutput(); err != nil {
		t.Fatalf("building leviathan-hook: %v\n%s", err, out)
	}
	build := filepath.Join(root, "build")
	m, err := testimage.Build(ctx, testimage.Options{CacheDir: filepath.Join(build, "cache", "debs"), OutDir: filepath.Join(build, "testimage"), Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	endings := make(chan string, 8)
	// The worker runs the testrunner container (the job never touches the
	// Docker Engine) and has a token, which only the hook holds: the job
	// and its container act with the lease's id alone.
	tr := &testrunner.WorkerTestrunner{Engine: cli}
	local, err := localrun.StartLocal(ctx, localrun.LocalConfig{ParentDir: t.TempDir(), WorkerOptions: []worker.Option{
		worker.WithToken(e2eAdminToken),
		worker.WithTestrunner(tr, t.TempDir(), ref),
		worker.WithLeaseCheckInterval(250 * time.Millisecond),
		worker.WithLeaseEnd(func(ctx context.Context, l api.Lease, reason string) {
			if err := testrunner.Cleanup(ctx, cli, map[string]string{testrunner.LabelLease: l.ID}); err != nil {
				t.Errorf("lease-end clean-up: %v", err)
			}
			endings <- reason
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	tr.WorkerURL = local.URL
	stateDir := t.TempDir()
	t.Setenv("LEVIATHAN_WORKER_URL", local.URL)
	t.Setenv("LEVIATHAN_WORKER_TOKEN", e2eAdminToken)
	t.Setenv("LEVIATHAN_STATE_DIR", stateDir)
	t.Setenv("LEVIATHAN_TESTRUNNER_IMAGE", ref)
	t.Setenv("LEVIATHAN_LEASE_TTL", "6s")
	t.Setenv("LEVIATHAN_LEASE_WAIT", "30s")
	wc := mustClient(t, local.URL)

	// Job 1: passes.
	runnerJob(t, "5001")
	if code, out := hookRun(t, ctx, hookBin, "job-started"); code != 0 {
		t.Fatalf("job-started: %d\n%s", code, out)
	}
	env := exported(t)
	// The action's test step (action/testmode): flash, boot, run the
	// suites in the testrunner container, through the hook's lease.
	var log bytes.Buffer
	res, err := testmode.Run(ctx, testmode.Options{
		Source: testmode.Source{Path: m.Image}, SHA256: m.SHA256,
		WorkerURL: env["LEVIATHAN_WORKER_URL"], Lease: env["LEVIATHAN_LEASE"],
		Image: env["LEVIATHAN_TESTRUNNER_IMAGE"], Suites: []string{"os"},
		RunID: "5001", Job: "test", ReportDir: filepath.Join(env["LEVIATHAN_JOB_DIR"], "reports"),
		Out: &log,
	})
	if err != nil || !res.OK() {
		t.Fatalf("test step: %+v, %v\n%s", res, err, log.String())
	}
	if _, ok := env["LEVIATHAN_WORKER_TOKEN"]; ok {
		t.Error("job-started handed the job the worker's token")
	}
	// In the container the os suite reaches the DUT's services through
	// the worker's tunnels: nothing is skipped.
	if res.Skipped != 0 || res.Passed < 13 {
		t.Errorf("the os suite in the container: %d passed, %d skipped; want all passed\n%s", res.Passed, res.Skipped, log.String())
	}
	if !strings.Contains(log.String(), "::group::") {
		t.Errorf("the container's log has no ::group:: per test:\n%s", log.String())
	}
	if code, out := hookRun(t, ctx, hookBin, "job-completed"); code != 0 {
		t.Fatalf("job-completed: %d\n%s", code, out)
	}
	jc, _ := client.New(env["LEVIATHAN_WORKER_URL"], client.WithLease(env["LEVIATHAN_LEASE"]))
	if _, err := jc.Health(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("after job-completed the job's lease still works: %v", err)
	}
	if h, err := wc.Health(ctx); err != nil || h.Leased || h.Power != dut.PowerOff {
		t.Fatalf("after job 1: %+v, %v: want the DUT free and off", h, err)
	}
	kept := filepath.Join(stateDir, "jobs", "5001-1-test")
	if b, err := os.ReadFile(filepath.Join(kept, "serial.log")); err != nil || !strings.Contains(string(b), "Leviathan test OS") {
		t.Errorf("the job's serial log was not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(kept, "reports", "junit.xml")); err != nil {
		t.Errorf("the job's reports were not kept: %v", err)
	}
	if left := leftovers(t, cli, testrunner.LabelRunID, "5001"); len(left) > 0 {
		t.Errorf("job 1 left %v", left)
	}
	<-endings // released

	// Job 2: the runner and the container die mid-run.
	runner := runnerJob(t, "5002")
	if code, out := hookRun(t, ctx, hookBin, "job-started"); code != 0 {
		t.Fatalf("job-started: %d\n%s", code, out)
	}
	env = exported(t)
	c, _ := client.New(env["LEVIATHAN_WORKER_URL"], client.WithLease(env["LEVIATHAN_LEASE"]))
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(testrunner.Spec{
		Image: env["LEVIATHAN_TESTRUNNER_IMAGE"], WorkerURL: env["LEVIATHAN_WORKER_URL"],
		RunID: "5002", Job: "test", Lease: env["LEVIATHAN_LEASE"],
		ReportsDir: filepath.Join(env["LEVIATHAN_JOB_DIR"], "reports"),
	})
	step := exec.Command(os.Args[0])
	step.Env = append(os.Environ(), containerSpecEnv+"="+string(spec))
	if err := step.Start(); err != nil {
		t.Fatal(err)
	}
	var running string
	deadline := time.Now().Add(2 * time.Minute)
	for running == "" && time.Now().Before(deadline) {
		cs, _ := cli.ContainerList(ctx, containertypes.ListOptions{Filters: filters.NewArgs(filters.Arg("label", testrunner.LabelRunID+"=5002"))})
		if len(cs) > 0 {
			running = cs[0].ID
		}
		time.Sleep(200 * time.Millisecond)
	}
	if running == "" {
		step.Process.Kill()
		t.Fatal("job 2's testrunner container never ran")
	}
	step.Process.Kill() // the step's process dies: nothing removes its container
	step.Wait()
	cli.ContainerKill(ctx, running, "KILL")
	runner.Process.Kill() // and the runner dies: no job-completed
	runner.Wait()
	select {
	case reason := <-endings:
		if reason != "expired" {
			t.Errorf("job 2's lease ended %q, want expired", reason)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dead job's lease did not expire")
	}
	h, err := wc.Health(ctx)
	if err != nil || h.Leased || h.Power != dut.PowerOff || h.Stats.LeasesExpired != 1 {
		t.Fatalf("after the dead-man's switch: %+v, %v: want the DUT free and off", h, err)
	}
	if left := leftovers(t, cli, testrunner.LabelRunID, "5002"); len(left) > 0 {
		t.Errorf("the dead job left %v after its lease expired", left)
	}

	// Job 3: finds job 2's state, cleans up after it, runs.
	runnerJob(t, "5003")
	code, out := hookRun(t, ctx, hookBin, "job-started")
	if code != 0 || !strings.Contains(out, "ended without job-completed") {
		t.Fatalf("job-started after a dead job: %d\n%s", code, out)
	}
	if code, out := hookRun(t, ctx, hookBin, "job-completed"); code != 0 {
		t.Fatalf("job-completed: %d\n%s", code, out)
	}
	for _, run := range []string{"5001", "5002", "5003"} {
		if left := leftovers(t, cli, testrunner.LabelRunID, run); len(left) > 0 {
			t.Errorf("run %s left %v", run, left)
		}
	}
	if h, err := wc.Health(ctx); err != nil || h.Leased || h.Power != dut.PowerOff {
		t.Fatalf("after job 3: %+v, %v", h, err)
	}
}

// e2eAdminToken is the worker's token in TestTestbotJobs: the hook's.
const e2eAdminToken = "testbot-admin-token"

// mustClient is a client of the testbot's admin.
func mustClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.WithToken(e2eAdminToken))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func imageRemoveOptions() image.RemoveOptions {
	return image.RemoveOptions{Force: true, PruneChildren: true}
}
