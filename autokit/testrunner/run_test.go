package testrunner

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	containertypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/balena/leviathan-action/internal/ghlog/ghlogtest"
	"github.com/balena/leviathan-action/internal/syncio"
)

// runSpec is a Spec for the test image with a unique run id; everything
// left with that id is removed when the test ends.
func runSpec(t *testing.T, cli *client.Client, args ...string) Spec {
	t.Helper()
	ref := pulled(t, cli)
	runID := fmt.Sprintf("test-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	t.Cleanup(func() { Cleanup(context.Background(), cli, JobLabels(runID, "", "")) })
	return Spec{
		Image:       ref,
		Cmd:         args,
		RunID:       runID,
		Job:         "container-test",
		Lease:       "lease-1",
		Labels:      map[string]string{testLabel: "container"},
		ReportsDir:  filepath.Join(t.TempDir(), "reports"),
		Memory:      128 << 20,
		StopTimeout: time.Second,
	}
}

// leftovers counts containers, networks and volumes carrying the run id.
func leftovers(t *testing.T, cli *client.Client, runID string) int {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", LabelRunID+"="+runID))
	cs, err := cli.ContainerList(ctx, containertypes.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs) + len(ns) + len(vs.Volumes)
}

func TestRunFailingTests(t *testing.T) {
	cli := engine(t)
	s := runSpec(t, cli, "report", "1")
	var stdout, stderr syncio.Buffer
	s.Stdout, s.Stderr, s.GroupTests = &stdout, &stderr, true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, cli, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stdout:\n%s", stdout.String())
	if res.InfraError != nil || res.ExitCode != 1 || !res.TestsFailed() {
		t.Fatalf("result %+v (infra %v), want failing tests", res, res.InfraError)
	}
	out := stdout.String()
	// The program's "::warning::injected" is copied but not processed:
	// the runner sees the groups only, and commands are resumed at the end.
	l := ghlogtest.Parse(out)
	if got, want := l.Effective(), []string{"group::demo/TestA", "endgroup::", "group::demo/TestB", "endgroup::"}; !slices.Equal(got, want) || l.Stopped {
		t.Errorf("the runner would process %q (stopped at the end: %v); want %q", got, l.Stopped, want)
	}
	for _, want := range []string{
		"  ✗ TestB (0.00s)\n      b_test.go:1: boom\n::warning::injected\n",
		"uid 65534 gid 65534\n",
		"etc write: fail: open /etc/x: read-only file system\n",
		"tmp write: ok\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if got := stderr.String(); got != "to stderr\n" {
		t.Errorf("stderr %q", got)
	}
	if res.JUnit != filepath.Join(s.ReportsDir, "junit.xml") {
		t.Errorf("junit %q", res.JUnit)
	}
	if b, err := os.ReadFile(filepath.Join(s.ReportsDir, "tests", "demo", "TestA.log")); err != nil || string(b) != "log of A\n" {
		t.Errorf("per-test log: %q %v", b, err)
	}
	if n := leftovers(t, cli, s.RunID); n != 0 {
		t.Errorf("%d containers, networks or volumes left behind", n)
	}
}

func TestRunLockedDown(t *testing.T) {
	cli := engine(t)
	s := runSpec(t, cli, "sleep")
	var stdout syncio.Buffer
	started := make(chan struct{})
	var once sync.Once
	s.Stdout = writerFunc(func(p []byte) (int, error) {
		stdout.Write(p)
		if strings.Contains(stdout.String(), "sleeping") {
			once.Do(func() { close(started) })
		}
		return len(p), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type ran struct {
		res Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := Run(ctx, cli, s)
		done <- ran{res, err}
	}()
	select {
	case <-started:
	case r := <-done:
		t.Fatalf("run ended early: %+v %v", r.res, r.err)
	}
	// All: the program can print before the engine marks the container running.
	cs, err := cli.ContainerList(ctx, containertypes.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelRunID+"="+s.RunID))})
	if err != nil || len(cs) != 1 {
		t.Fatalf("running containers: %v %v", cs, err)
	}
	insp, err := cli.ContainerInspect(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	hc := insp.HostConfig
	if hc.Privileged || !hc.ReadonlyRootfs || len(hc.CapDrop) != 1 || hc.CapDrop[0] != "ALL" ||
		len(hc.SecurityOpt) != 1 || hc.SecurityOpt[0] != "no-new-privileges:true" ||
		hc.Memory != s.Memory || hc.NanoCPUs != DefaultNanoCPUs || hc.PidsLimit == nil || *hc.PidsLimit != DefaultPidsLimit {
		t.Errorf("host config not locked down: %+v", hc)
	}
	if insp.Config.User != "65534:65534" {
		t.Errorf("user %q", insp.Config.User)
	}
	for _, m := range insp.Mounts {
		if strings.Contains(m.Source, "docker.sock") {
			t.Errorf("docker socket mounted: %+v", m)
		}
		if m.Destination == ReportsPath && m.Type != mount.TypeVolume {
			t.Errorf("/reports is a %s mount", m.Type)
		}
	}
	for k, want := range map[string]string{LabelRunID: s.RunID, LabelJob: "container-test", LabelLease: "lease-1"} {
		if got := insp.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if len(insp.NetworkSettings.Networks) != 1 {
		t.Errorf("networks %v, want only the job network", insp.NetworkSettings.Networks)
	}
	nw, err := cli.NetworkInspect(ctx, cs[0].HostConfig.NetworkMode, network.InspectOptions{})
	if err != nil || !nw.Internal {
		t.Errorf("job network internal=%v (%v)", nw.Internal, err)
	}

	// Cancelling stops the container and leaves nothing behind.
	cancel()
	r := <-done
	if r.err == nil || !strings.Contains(r.err.Error(), "context canceled") {
		t.Errorf("cancelled run: err %v", r.err)
	}
	if n := leftovers(t, cli, s.RunID); n != 0 {
		t.Errorf("%d containers, networks or volumes left after cancel", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestRunInfraErrors(t *testing.T) {
	cli := engine(t)
	for _, tc := range []struct {
		name   string
		args   []string
		memory int64
		kill   bool
		reason string
		oom    bool
	}{
		{name: "no reports", args: []string{"noreport", "3"}, reason: "no reports"},
		{name: "exit 0 without reports", args: []string{"noreport", "0"}, reason: "no reports"},
		{name: "oom", args: []string{"oom"}, memory: 32 << 20, reason: "oom-killed", oom: true},
		{name: "killed", args: []string{"sleep"}, kill: true, reason: "killed by signal 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := runSpec(t, cli, tc.args...)
			if tc.memory != 0 {
				s.Memory = tc.memory
			}
			var out syncio.Buffer
			s.Stdout = &out
			if tc.kill {
				var once sync.Once
				s.Stdout = writerFunc(func(p []byte) (int, error) {
					out.Write(p)
					once.Do(func() {
						go killRun(t, cli, s.RunID)
					})
					return len(p), nil
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := Run(ctx, cli, s)
			if err != nil {
				t.Fatal(err)
			}
			ie := res.InfraError
			if ie == nil || !strings.HasPrefix(ie.Reason, tc.reason) || ie.OOMKilled != tc.oom || res.Passed() || res.TestsFailed() {
				t.Fatalf("result %+v, infra %+v; want reason %q", res, ie, tc.reason)
			}
			if ie.Output == "" {
				t.Error("infra error carries no output")
			}
			t.Logf("%v; last output %q", ie, lastLine(ie.Output))
		})
	}
}

// killRun sends SIGKILL to the run's container, retrying while the engine
// has not yet marked it running.
func killRun(t *testing.T, cli *client.Client, runID string) {
	f := filters.NewArgs(filters.Arg("label", LabelRunID+"="+runID))
	for range 100 {
		cs, _ := cli.ContainerList(context.Background(), containertypes.ListOptions{All: true, Filters: f})
		for _, c := range cs {
			if cli.ContainerKill(context.Background(), c.ID, "KILL") == nil {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("could not kill the container of run %s", runID)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// TestRunOnlyWorkerReachable probes the network from inside: the worker
// answers through the forwarder; the internet and the host's loopback do
// not. Host services on the host's own addresses do answer (the package
// limits say why); the test logs them rather than asserting.
func TestRunOnlyWorkerReachable(t *testing.T) {
	cli := engine(t)
	worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "worker here")
	}))
	defer worker.Close()
	_, workerPort, _ := net.SplitHostPort(strings.TrimPrefix(worker.URL, "http://"))

	blocked := []string{"1.1.1.1:53", "127.0.0.1:" + workerPort}
	// Known to answer: a listener on the host's non-bridge address, and
	// one on every address reached through the gateway.
	var exposed []string
	if ip := hostIP(); ip != "" {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go acceptAll(ln)
		exposed = append(exposed, ln.Addr().String())
	}
	wild, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	go acceptAll(wild)
	exposed = append(exposed, fmt.Sprintf("gw:%d", wild.Addr().(*net.TCPAddr).Port))

	s := runSpec(t, cli, append(append([]string{"probe"}, blocked...), exposed...)...)
	s.WorkerURL = worker.URL
	var out syncio.Buffer
	s.Stdout = &out
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, cli, s)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Logf("probe:\n%s", got)
	if !strings.Contains(got, "worker: ok: worker here") {
		t.Error("the worker did not answer from inside the container")
	}
	for _, a := range blocked {
		if !strings.Contains(got, "dial "+a+": fail") {
			t.Errorf("%s answered from inside the container", a)
		}
	}
	for _, a := range exposed {
		answered := strings.Contains(got, "dial "+a+": ok")
		switch {
		case res.HostClosed && answered:
			t.Errorf("host service %s answered the container although the firewall rules were set", a)
		case !res.HostClosed && answered:
			t.Logf("not root or no iptables: host service %s answers the container (the documented limit)", a)
		}
	}
	if os.Geteuid() == 0 && !res.HostClosed {
		if _, err := exec.LookPath("iptables"); err == nil {
			t.Error("running as root with iptables, yet the host was not closed to the container")
		}
	}
	// Only this run's rules: other packages' tests may run containers
	// (with rules of their own) at the same time.
	if rules, err := exec.Command("iptables", "-S", "INPUT").Output(); err == nil && res.Bridge != "" && strings.Contains(string(rules), res.Bridge) {
		t.Errorf("firewall rules left behind:\n%s", rules)
	}
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// hostIP is an IPv4 address of the host outside Docker's bridges.
func hostIP() string {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 ||
			i.Name == "docker0" || strings.HasPrefix(i.Name, "br-") || strings.HasPrefix(i.Name, "veth") {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return ""
}

func TestCleanupRemovesLabelled(t *testing.T) {
	cli := engine(t)
	ref := pulled(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runID := fmt.Sprintf("test-cleanup-%d", time.Now().UnixNano())
	labels := JobLabels(runID, "cleanup-job", "")
	labels[testLabel] = "container"
	t.Cleanup(func() { Cleanup(context.Background(), cli, JobLabels(runID, "", "")) })
	nw, err := cli.NetworkCreate(ctx, resourceName(runID), network.CreateOptions{Internal: true, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.ContainerCreate(ctx, &containertypes.Config{Image: ref, Cmd: []string{"sleep"}, Labels: labels},
		&containertypes.HostConfig{
			NetworkMode: containertypes.NetworkMode(nw.ID),
			Mounts:      []mount.Mount{{Type: mount.TypeVolume, Target: ReportsPath, VolumeOptions: &mount.VolumeOptions{Labels: labels}}},
		}, nil, nil, resourceName(runID))
	if err != nil {
		t.Fatal(err)
	}
	if n := leftovers(t, cli, runID); n != 3 {
		t.Fatalf("%d labelled objects before cleanup, want container, network and volume", n)
	}
	if err := Cleanup(ctx, cli, map[string]string{LabelJob: "cleanup-job", LabelRunID: runID}); err != nil {
		t.Fatal(err)
	}
	if n := leftovers(t, cli, runID); n != 0 {
		t.Errorf("%d labelled objects after cleanup", n)
	}
	if err := Cleanup(ctx, cli, nil); err == nil {
		t.Error("cleanup without labels accepted")
	}
}
