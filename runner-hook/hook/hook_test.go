package hook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/autokit/worker/workertest"
	"github.com/balena/leviathan-action/internal/testenv"
)

// The test binary doubles as the heartbeat process: StartHeartbeat runs it
// again with this variable set.
const heartbeatEnv = "LEVIATHAN_HOOK_TEST_HEARTBEAT"

func TestMain(m *testing.M) {
	if os.Getenv(heartbeatEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := Heartbeat(ctx, os.Args[len(os.Args)-1], slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// docker records what the hook asks of the Docker Engine.
type docker struct {
	mu      sync.Mutex
	pulled  []string
	removed []map[string]string
	pullErr error
}

func (d *docker) Pull(ctx context.Context, ref string, w io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pulled = append(d.pulled, ref)
	return d.pullErr
}

func (d *docker) Remove(ctx context.Context, labels map[string]string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removed = append(d.removed, labels)
	return nil
}

// bot is a testbot: a worker over a fake DUT, a state directory and the
// environment the runner gives a hook. The worker's leases run on clock,
// which only the test moves; beats gets a value after each heartbeat the
// worker answered.
type bot struct {
	d      *duttest.DUT
	clock  *workertest.Clock
	beats  chan struct{}
	url    string
	env    map[string]string
	docker *docker
	runner *exec.Cmd // stands in for Runner.Worker
	out    bytes.Buffer
}

// adminToken is the worker's token, which only the hook holds.
const adminToken = "testbot-admin-token"

const digestRef = "127.0.0.1:5000/leviathan/testrunner@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func newBot(t *testing.T) *bot {
	t.Helper()
	b := &bot{d: duttest.New(t), docker: &docker{}, beats: make(chan struct{}, 16),
		clock: workertest.NewClock(time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC))}
	w, err := worker.New(b.d, worker.WithClock(b.clock), worker.WithLeaseCheckInterval(time.Second), worker.WithToken(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.Handler().ServeHTTP(rw, r)
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/heartbeat") {
			select {
			case b.beats <- struct{}{}:
			default:
			}
		}
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	b.startRunner(t)
	dir := t.TempDir()
	b.env = map[string]string{
		"GITHUB_REPOSITORY":  "balena-os/balena-generic",
		"GITHUB_RUN_ID":      "4242",
		"GITHUB_RUN_ATTEMPT": "1",
		"GITHUB_JOB":         "test",
		"GITHUB_ENV":         filepath.Join(dir, "github_env"),
		"RUNNER_TEMP":        filepath.Join(dir, "runner_temp"),
	}
	return b
}

// startRunner starts a process whose life stands for the runner's job.
func (b *bot) startRunner(t *testing.T) {
	t.Helper()
	b.runner = exec.Command("sleep", "600")
	if err := b.runner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.runner.Process.Kill(); b.runner.Wait() })
}

func (b *bot) hook(t *testing.T, stateDir string) *Hook {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(heartbeatEnv, "1") // inherited by the heartbeat process only matters there
	return &Hook{
		Config: Config{WorkerURL: b.url, WorkerToken: adminToken, StateDir: stateDir, LeaseTTL: 5 * time.Second,
			LeaseWait: time.Second, KeepJobs: 2, TestrunnerImage: digestRef},
		Getenv: func(k string) string {
			if k == "LEVIATHAN_WATCH_PID" {
				return strconv.Itoa(b.runner.Process.Pid)
			}
			return b.env[k]
		},
		Out: &b.out,
		Gate: func(func(string) string) (Decision, error) {
			return Decision{Allow: true, Reason: "push to the repository"}, nil
		},
		Docker:         b.docker,
		StartHeartbeat: StartHeartbeatCommand(exe, "-test.run=^$"),
		Poll:           50 * time.Millisecond,
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// advance moves the worker's clock by d, after which the lease reaper has
// had its round.
func (b *bot) advance(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	if err := b.clock.WaitFor(ctx, 1); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(d)
	if err := b.clock.WaitFor(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

// renewed waits until a heartbeat the worker answered has moved the
// lease's expiry past was.
func (b *bot) renewed(t *testing.T, ctx context.Context, c *client.Client, was time.Time) {
	t.Helper()
	for {
		select {
		case <-b.beats:
		case <-ctx.Done():
			t.Fatalf("no heartbeat renewed the lease beyond %v: %v", was, ctx.Err())
		}
		if hc, err := c.Health(ctx); err == nil && hc.LeaseExpires != nil && hc.LeaseExpires.After(was) {
			return
		}
	}
}

func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJobStartedThenCompleted(t *testing.T) {
	b := newBot(t)
	stateDir := t.TempDir()
	h := b.hook(t, stateDir)
	ctx := ctxT(t)
	b.d.Print("boot noise from an earlier job\n")
	if err := h.JobStarted(ctx); err != nil {
		t.Fatalf("JobStarted: %v\n%s", err, b.out.String())
	}
	env := testenv.EnvFile(t, b.env["GITHUB_ENV"])
	if env["LEVIATHAN_WORKER_URL"] != b.url || env["LEVIATHAN_LEASE"] == "" || env["LEVIATHAN_TESTRUNNER_IMAGE"] != digestRef {
		t.Fatalf("GITHUB_ENV = %v", env)
	}
	for k, v := range env {
		if strings.Contains(v, adminToken) {
			t.Errorf("GITHUB_ENV hands the job the worker's token in %s", k)
		}
	}
	if !strings.Contains(b.out.String(), "::add-mask::"+env["LEVIATHAN_LEASE"]) {
		t.Errorf("the lease id was not masked:\n%s", b.out.String())
	}
	if len(b.docker.pulled) != 1 || b.docker.pulled[0] != digestRef {
		t.Errorf("pulled %v, want %s", b.docker.pulled, digestRef)
	}
	c, err := client.New(b.url, client.WithLease(env["LEVIATHAN_LEASE"]))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := c.Health(ctx)
	if err != nil || !hc.Leased || hc.LeaseOwner != "github:balena-os/balena-generic run 4242 job test" {
		t.Fatalf("after job-started: health %+v, %v", hc, err)
	}
	js, err := state{stateDir}.readJob()
	if err != nil || js == nil || !js.Heartbeat.alive() {
		t.Fatalf("job state %+v, %v: want a live heartbeat", js, err)
	}
	hb := js.Heartbeat
	// The job's steps use the DUT; the heartbeat keeps the lease past
	// its TTL.
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	b.d.Print("the job's own console output\n")
	os.MkdirAll(filepath.Join(b.env["RUNNER_TEMP"], "leviathan", "reports"), 0o755)
	os.WriteFile(filepath.Join(b.env["RUNNER_TEMP"], "leviathan", "reports", "junit.xml"), []byte("<testsuites/>"), 0o644)
	// Most of the 5 s TTL passes on the worker's clock; a heartbeat then
	// renews the lease, which so outlives its first TTL.
	granted, err := c.Health(ctx)
	if err != nil || granted.LeaseExpires == nil {
		t.Fatalf("Health = %+v, %v", granted, err)
	}
	b.advance(t, ctx, 4*time.Second)
	b.renewed(t, ctx, c, *granted.LeaseExpires)
	b.advance(t, ctx, 2*time.Second)
	if hc, err := c.Health(ctx); err != nil || !hc.Leased || !hc.LeaseExpires.After(*granted.LeaseExpires) {
		t.Fatalf("6 s into a 5 s lease whose job lives: Health = %+v, %v; want it leased beyond %v", hc, err, granted.LeaseExpires)
	}

	if err := h.JobCompleted(ctx); err != nil {
		t.Fatalf("JobCompleted: %v\n%s", err, b.out.String())
	}
	// The lease, and with it the job's only credential, is gone.
	var ce *client.Error
	if _, err := c.Health(ctx); !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
		t.Errorf("after job-completed the lease's id still works: %v", err)
	}
	hc, _ = mustClient(t, b.url).Health(ctx)
	if hc.Leased || hc.Power != dut.PowerOff {
		t.Errorf("after job-completed: %+v, want free and off", hc)
	}
	eventually(t, "the heartbeat to stop", 5*time.Second, func() bool { return !hb.alive() })
	if len(b.docker.removed) != 1 || b.docker.removed[0][LabelRunID] != "4242" || b.docker.removed[0][LabelJob] != "test" {
		t.Errorf("removed containers by %v", b.docker.removed)
	}
	jobDir := filepath.Join(stateDir, "jobs", "4242-1-test")
	serial, err := os.ReadFile(filepath.Join(jobDir, "serial.log"))
	if err != nil || !strings.Contains(string(serial), "the job's own console output") || strings.Contains(string(serial), "earlier job") {
		t.Errorf("kept serial log %q, %v: want this job's output only", serial, err)
	}
	if _, err := os.Stat(filepath.Join(jobDir, "reports", "junit.xml")); err != nil {
		t.Errorf("reports were not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b.env["RUNNER_TEMP"], "leviathan")); !os.IsNotExist(err) {
		t.Errorf("the job's scratch directory is still there: %v", err)
	}
	if js, _ := (state{stateDir}).readJob(); js != nil {
		t.Errorf("job state left behind: %+v", js)
	}
	health, err := ReadHealth(stateDir)
	if err != nil || !health.Healthy || health.LastJobResult != "completed" {
		t.Errorf("health record %+v, %v", health, err)
	}
	// A second job-completed (the runner retries hooks) has nothing to do.
	b.out.Reset()
	if err := h.JobCompleted(ctx); err != nil || !strings.Contains(b.out.String(), "nothing to clean up") {
		t.Errorf("second JobCompleted: %v\n%s", err, b.out.String())
	}
}

func TestJobStartedRefusedByPolicy(t *testing.T) {
	b := newBot(t)
	h := b.hook(t, t.TempDir())
	h.Gate = func(func(string) string) (Decision, error) {
		return Decision{Reason: "pull request from the fork contributor/balena-generic", Advice: "a maintainer can add the ok-to-test label"}, nil
	}
	err := h.JobStarted(ctxT(t))
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("JobStarted = %v, want ErrRefused", err)
	}
	out := b.out.String()
	for _, want := range []string{"::error title=Leviathan refused this job::pull request from the fork", "ok-to-test"} {
		if !strings.Contains(out, want) {
			t.Errorf("job log lacks %q:\n%s", want, out)
		}
	}
	if hc, _ := mustClient(t, b.url).Health(ctxT(t)); hc.Leased {
		t.Error("a refused job leased the DUT")
	}

	h.Gate = func(func(string) string) (Decision, error) {
		return Decision{}, errors.New("GITHUB_EVENT_PATH: no such file")
	}
	if err := h.JobStarted(ctxT(t)); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "GITHUB_EVENT_PATH") {
		t.Errorf("gate error: JobStarted = %v", err)
	}
}

// mustClient is a client of the testbot's admin (the worker's token).
func mustClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.WithToken(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeadMansSwitch(t *testing.T) {
	b := newBot(t)
	stateDir := t.TempDir()
	h := b.hook(t, stateDir)
	ctx := ctxT(t)
	if err := h.JobStarted(ctx); err != nil {
		t.Fatalf("JobStarted: %v\n%s", err, b.out.String())
	}
	lease := testenv.EnvFile(t, b.env["GITHUB_ENV"])["LEVIATHAN_LEASE"]
	c, _ := client.New(b.url, client.WithLease(lease))
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	js, _ := state{stateDir}.readJob()
	// The runner dies: no job-completed will run.
	b.runner.Process.Kill()
	b.runner.Wait()
	eventually(t, "the heartbeat to notice", 5*time.Second, func() bool { return !js.Heartbeat.alive() })
	// No heartbeat renews the lease: its TTL runs out on the worker's
	// clock, and the reaper powers the DUT off.
	b.advance(t, ctx, 5*time.Second)
	admin := mustClient(t, b.url)
	if hc, err := admin.Health(ctx); err != nil || hc.Leased || hc.Power != dut.PowerOff {
		t.Fatalf("a TTL after the job died: Health = %+v, %v; want free and off", hc, err)
	}
	log, _ := os.ReadFile(filepath.Join(stateDir, "heartbeat.log"))
	if !strings.Contains(string(log), "no more heartbeats") {
		t.Errorf("heartbeat log:\n%s", log)
	}

	// The next job finds the dead one's state and cleans up after it.
	b.startRunner(t)
	b.env["GITHUB_RUN_ID"] = "4343"
	b.out.Reset()
	os.Remove(b.env["GITHUB_ENV"])
	if err := h.JobStarted(ctx); err != nil {
		t.Fatalf("next JobStarted: %v\n%s", err, b.out.String())
	}
	if !strings.Contains(b.out.String(), "ended without job-completed") {
		t.Errorf("the stale job was not reported:\n%s", b.out.String())
	}
	if !strings.Contains(b.out.String(), "previous job: github:balena-os/balena-generic run 4242 job test (died without job-completed)") ||
		!strings.Contains(b.out.String(), "leases expired") {
		t.Errorf("the previous job's record was not reported:\n%s", b.out.String())
	}
	if len(b.docker.removed) != 1 || b.docker.removed[0][LabelRunID] != "4242" {
		t.Errorf("the dead job's containers were not removed: %v", b.docker.removed)
	}
	if err := h.JobCompleted(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestJobStartedWaitsForABusyDUT(t *testing.T) {
	b := newBot(t)
	h := b.hook(t, t.TempDir())
	ctx := ctxT(t)
	other := mustClient(t, b.url)
	l, err := other.Lease(ctx, "someone's leviathan run", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h.Config.LeaseWait = 300 * time.Millisecond
	err = h.JobStarted(ctx)
	if err == nil || !strings.Contains(err.Error(), "still leased after waiting") || !strings.Contains(err.Error(), "someone's leviathan run") {
		t.Fatalf("JobStarted on a busy DUT = %v", err)
	}
	// Freed within the wait: the job gets it.
	h.Config.LeaseWait = 10 * time.Second
	go func() { time.Sleep(300 * time.Millisecond); other.Release(context.Background(), l.ID) }()
	if err := h.JobStarted(ctx); err != nil {
		t.Fatalf("JobStarted after the DUT was freed: %v", err)
	}
	if !strings.Contains(b.out.String(), "waiting up to") {
		t.Errorf("the wait was not reported:\n%s", b.out.String())
	}
	if err := h.JobCompleted(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestJobStartedUnhealthyDUT(t *testing.T) {
	b := newBot(t)
	stateDir := t.TempDir()
	h := b.hook(t, stateDir)
	ctx := ctxT(t)
	b.d.FailPower(errors.New("relay board not responding"))
	err := h.JobStarted(ctx)
	if err == nil || !strings.Contains(err.Error(), "health check") || !strings.Contains(err.Error(), "relay board not responding") {
		t.Fatalf("JobStarted = %v", err)
	}
	health, _ := ReadHealth(stateDir)
	if health.Healthy || !strings.Contains(health.Problem, "relay board") {
		t.Errorf("health record %+v: want unhealthy with the problem", health)
	}
	b.d.FailPower(nil)
	if hc, _ := mustClient(t, b.url).Health(ctx); hc.Leased {
		t.Error("the lease was kept after a failed health check")
	}
	if js, _ := (state{stateDir}).readJob(); js != nil {
		t.Error("job state written for a refused job")
	}
	// The DUT healed: the next job re-checks and runs.
	if err := h.JobStarted(ctx); err != nil {
		t.Fatalf("JobStarted after healing: %v", err)
	}
	if health, _ := ReadHealth(stateDir); !health.Healthy {
		t.Errorf("health after healing: %+v", health)
	}
	if err := h.JobCompleted(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestJobStartedBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Hook, *bot)
		want string
	}{
		{"no run id", func(h *Hook, b *bot) { delete(b.env, "GITHUB_RUN_ID") }, "GITHUB_RUN_ID is not set"},
		{"no GITHUB_ENV", func(h *Hook, b *bot) { delete(b.env, "GITHUB_ENV") }, "GITHUB_ENV is not set"},
		{"image by tag", func(h *Hook, b *bot) { h.Config.TestrunnerImage = "leviathan/testrunner:latest" }, "by digest"},
		{"pull fails", func(h *Hook, b *bot) { b.docker.pullErr = errors.New("registry 127.0.0.1:1 does not answer") }, "does not answer"},
		{"worker down", func(h *Hook, b *bot) { h.Config.WorkerURL = "http://127.0.0.1:1" }, "unreachable"},
		{"short ttl", func(h *Hook, b *bot) { h.Config.LeaseTTL = time.Second }, "LEVIATHAN_LEASE_TTL"},
		{"bad watch pid", func(h *Hook, b *bot) {
			g := h.Getenv
			h.Getenv = func(k string) string {
				if k == "LEVIATHAN_WATCH_PID" {
					return "nope"
				}
				return g(k)
			}
		}, "LEVIATHAN_WATCH_PID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBot(t)
			stateDir := t.TempDir()
			h := b.hook(t, stateDir)
			tc.edit(h, b)
			err := h.JobStarted(ctxT(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("JobStarted = %v, want an error containing %q", err, tc.want)
			}
			if hc, err := mustClient(t, b.url).Health(ctxT(t)); err != nil || hc.Leased || hc.Power != dut.PowerOff {
				t.Errorf("after the failure: %+v, %v: want the DUT free and off", hc, err)
			}
			if js, _ := (state{stateDir}).readJob(); js != nil {
				t.Errorf("job state left behind: %+v", js)
			}
		})
	}
}

func TestLoadConfigNamesTheVariable(t *testing.T) {
	t.Setenv("LEVIATHAN_LEASE_TTL", "soon")
	_, err := LoadConfig()
	if err == nil || !strings.Contains(err.Error(), "LEVIATHAN_LEASE_TTL") {
		t.Fatalf("LoadConfig = %v", err)
	}
	t.Setenv("LEVIATHAN_LEASE_TTL", "90s")
	c, err := LoadConfig()
	if err != nil || c.LeaseTTL != 90*time.Second || c.WorkerURL != "http://127.0.0.1:4321" {
		t.Fatalf("LoadConfig = %+v, %v", c, err)
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in    string
		comm  string
		ppid  int
		start uint64
		bad   bool
	}{
		{in: "1234 (Runner.Worker) S 1200 1234 1200 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 12 0 987654 1 2", comm: "Runner.Worker", ppid: 1200, start: 987654},
		{in: "77 (a (b) c) R 5 77 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 1 2", comm: "a (b) c", ppid: 5, start: 42},
		{in: "77 no parens", bad: true},
		{in: "77 (x) S 5", bad: true},
	} {
		st, err := parseStat([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("parseStat(%q) = %+v, want an error", tc.in, st)
			}
			continue
		}
		if err != nil || st.comm != tc.comm || st.ppid != tc.ppid || st.start != tc.start {
			t.Errorf("parseStat(%q) = %+v, %v", tc.in, st, err)
		}
	}
}

func TestRunnerProcessNeedsARunner(t *testing.T) {
	if _, err := runnerProcess(os.Getpid()); err == nil || !strings.Contains(err.Error(), "Runner.Worker") {
		t.Fatalf("runnerProcess outside a runner = %v", err)
	}
}
