package testrunner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	containertypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
)

// Labels set on everything Run creates.
const (
	LabelManaged = "io.balena.leviathan.managed" // "testrunner"
	LabelRunID   = "io.balena.leviathan.run-id"
	LabelJob     = "io.balena.leviathan.job"
	LabelLease   = "io.balena.leviathan.lease"
)

// Paths inside the testrunner.
const (
	ReportsPath = "/reports"
	TmpPath     = "/tmp"
	// UserSuitesPath is where Spec.UserSuitesDir is mounted, read-only.
	UserSuitesPath = "/user-suites"
)

// Defaults for the Spec limits.
const (
	DefaultMemory      = 1 << 30 // bytes
	DefaultNanoCPUs    = 1e9     // one CPU
	DefaultPidsLimit   = 512
	DefaultTmpSize     = 256 << 20 // bytes
	DefaultStopTimeout = 10 * time.Second
)

// Spec describes one testrunner run.
type Spec struct {
	Image string   // image reference or ID, already pulled (see Pull)
	Cmd   []string // arguments to the image's entrypoint; the image's command when nil
	Env   []string // extra KEY=VALUE, already filtered to what the job allows

	// WorkerURL is the worker on the host, such as http://127.0.0.1:8080.
	// The container reaches it through a forwarder on the job network's
	// gateway, as $LEVIATHAN_WORKER_URL. No forwarder when empty.
	WorkerURL   string
	WorkerToken string // passed as $LEVIATHAN_WORKER_TOKEN when set

	RunID  string            // labels everything made; required
	Job    string            // GitHub job (or local run) name, a label
	Lease  string            // DUT lease id: a label and $LEVIATHAN_LEASE
	Labels map[string]string // extra labels

	Memory      int64         // bytes, swap included; DefaultMemory when 0
	NanoCPUs    int64         // CPU quota in 1e-9 CPUs; DefaultNanoCPUs when 0
	PidsLimit   int64         // DefaultPidsLimit when 0
	TmpSize     int64         // size of the /tmp tmpfs; DefaultTmpSize when 0
	StopTimeout time.Duration // grace period on cancellation; DefaultStopTimeout when 0

	// ReportsDir is the host directory /reports is copied into after the
	// container exits; required.
	ReportsDir string
	// UserSuitesDir is a host directory of suite binaries (the user's
	// compiled suites), bind-mounted read-only at UserSuitesPath; nothing
	// is mounted when empty. It must be an absolute path to a directory
	// that holds only regular files, it and they readable and executable
	// by others: the container runs as nobody. Its parents may be private
	// to the caller (0700): the engine resolves the path on the host.
	UserSuitesDir string

	Stdout io.Writer // the container's stdout, live; discarded when nil
	Stderr io.Writer // the container's stderr, live; discarded when nil
	// GroupTests wraps each test's output in ::group:: / ::endgroup::
	// (GitHub Actions logs).
	GroupTests bool

	Log *slog.Logger // Run's steps; silent when nil
}

// Result is the outcome of a run that got as far as starting the testrunner.
type Result struct {
	ContainerID string
	Network     string // the job network's name
	Bridge      string // its bridge interface on the host
	// HostClosed is true when firewall rules kept the container from
	// every host service but the worker (see Spec.WorkerURL); false when
	// they could not be set (not root, no iptables) and host services
	// listening on all addresses were reachable.
	HostClosed bool
	ExitCode   int
	OOMKilled  bool
	Reports    string // Spec.ReportsDir
	JUnit      string // path of the copied junit.xml; empty when none
	Duration   time.Duration
	// InfraError is set when the run says nothing about the tests: the
	// container was OOM-killed, killed by a signal, or left no junit.xml.
	InfraError *InfraError
}

// Passed reports whether every test passed.
func (r Result) Passed() bool { return r.InfraError == nil && r.ExitCode == 0 }

// TestsFailed reports whether the run completed and some tests failed.
func (r Result) TestsFailed() bool { return r.InfraError == nil && r.ExitCode != 0 }

// InfraError is a run that failed for reasons other than the tests, with
// the evidence.
type InfraError struct {
	Reason    string // "oom-killed", "killed by signal 9", "no reports", …
	ExitCode  int
	OOMKilled bool
	Output    string // the last output of the container
}

func (e *InfraError) Error() string {
	return fmt.Sprintf("container: testrunner infrastructure failure: %s (exit code %d)", e.Reason, e.ExitCode)
}

// Run runs the testrunner container described by s on a network of its own
// and removes the container and the network before returning. The error is
// non-nil when the container could not be run (engine, network, forwarder)
// or ctx ended; failing tests and infrastructure failures are in the
// Result.
func Run(ctx context.Context, cli Engine, s Spec) (Result, error) {
	if s.Image == "" || s.RunID == "" || s.ReportsDir == "" {
		return Result{}, errors.New("container: Spec needs Image, RunID and ReportsDir")
	}
	if s.UserSuitesDir != "" {
		if err := checkUserSuites(s.UserSuitesDir); err != nil {
			return Result{}, err
		}
	}
	setDefaults(&s)
	log := s.Log
	host := cli.DaemonHost()
	labels := JobLabels(s.RunID, s.Job, s.Lease)
	for k, v := range s.Labels {
		if _, taken := labels[k]; !taken {
			labels[k] = v
		}
	}
	// Cleanup runs even when ctx is cancelled.
	bg := context.WithoutCancel(ctx)

	netName := resourceName(s.RunID)
	bridge := newBridgeName()
	nw, err := cli.NetworkCreate(ctx, netName, network.CreateOptions{
		Driver:   "bridge",
		Internal: true,
		Labels:   labels,
		Options:  map[string]string{bridgeOption: bridge},
	})
	if err != nil {
		return Result{}, engineErr(host, "creating network "+netName, err)
	}
	res := Result{Network: netName, Bridge: bridge, Reports: s.ReportsDir}
	defer func() {
		cctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		if err := cli.NetworkRemove(cctx, nw.ID); err != nil {
			log.Warn("container: removing network", "network", netName, "err", err)
		}
	}()

	env := append([]string(nil), s.Env...)
	if s.Lease != "" {
		env = append(env, "LEVIATHAN_LEASE="+s.Lease)
	}
	if s.WorkerToken != "" {
		env = append(env, "LEVIATHAN_WORKER_TOKEN="+s.WorkerToken)
	}
	if s.WorkerURL != "" {
		fwd, inner, err := forwardWorker(ctx, cli, nw.ID, s.WorkerURL, log)
		if err != nil {
			return res, err
		}
		defer fwd.Close()
		env = append(env, "LEVIATHAN_WORKER_URL="+inner)
		log.Info("container: worker forwarded", "worker", s.WorkerURL, "inside", inner)
		fw, err := closeHost(ctx, bridge, fwd.Addr().Port)
		switch {
		case err == nil:
			res.HostClosed = true
			defer func() {
				if err := fw.open(bg); err != nil {
					log.Warn("container: removing the job network's firewall rules", "err", err)
				}
			}()
		case errors.Is(err, errNoFirewall):
			log.Warn(err.Error(), "bridge", bridge)
		default:
			return res, err
		}
	}

	pids := s.PidsLimit
	cfg := &containertypes.Config{
		Image:        s.Image,
		Cmd:          s.Cmd,
		Env:          env,
		User:         "65534:65534",
		Labels:       labels,
		AttachStdout: true,
		AttachStderr: true,
	}
	useInit := true
	hc := &containertypes.HostConfig{
		NetworkMode:    containertypes.NetworkMode(netName),
		ReadonlyRootfs: true,
		Privileged:     false,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true"},
		Init:           &useInit,
		Tmpfs:          map[string]string{TmpPath: "rw,nosuid,nodev,mode=1777,size=" + strconv.FormatInt(s.TmpSize, 10)},
		Mounts: []mount.Mount{{
			Type:          mount.TypeVolume,
			Target:        ReportsPath,
			VolumeOptions: &mount.VolumeOptions{Labels: labels},
		}},
		Resources: containertypes.Resources{
			Memory:     s.Memory,
			MemorySwap: s.Memory,
			NanoCPUs:   s.NanoCPUs,
			PidsLimit:  &pids,
		},
	}
	if s.UserSuitesDir != "" {
		hc.Mounts = append(hc.Mounts, mount.Mount{
			Type:        mount.TypeBind,
			Source:      s.UserSuitesDir,
			Target:      UserSuitesPath,
			ReadOnly:    true,
			BindOptions: &mount.BindOptions{NonRecursive: true},
		})
	}
	created, err := cli.ContainerCreate(ctx, cfg, hc, nil, nil, netName)
	if err != nil {
		return res, engineErr(host, "creating container", err)
	}
	res.ContainerID = created.ID
	defer func() {
		cctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		if err := cli.ContainerRemove(cctx, created.ID, containertypes.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			log.Warn("container: removing container", "id", created.ID, "err", err)
		}
	}()

	hijack, err := cli.ContainerAttach(ctx, created.ID, containertypes.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return res, engineErr(host, "attaching", err)
	}
	defer hijack.Close()
	last := &tail{max: 4 << 10}
	stdout := io.MultiWriter(orDiscard(s.Stdout), last)
	var group *groupWriter
	if s.GroupTests {
		group = &groupWriter{w: orDiscard(s.Stdout)}
		stdout = io.MultiWriter(group, last)
	}
	stderr := io.MultiWriter(orDiscard(s.Stderr), last)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		stdcopy.StdCopy(stdout, stderr, hijack.Reader)
	}()

	waitC, waitErr := cli.ContainerWait(bg, created.ID, containertypes.WaitConditionNextExit)
	start := time.Now()
	if err := cli.ContainerStart(ctx, created.ID, containertypes.StartOptions{}); err != nil {
		return res, engineErr(host, "starting container", err)
	}
	log.Info("container: started", "id", created.ID, "image", s.Image, "network", netName)
	var runErr error
	select {
	case w := <-waitC:
		if w.Error != nil {
			runErr = fmt.Errorf("container: waiting: %s", w.Error.Message)
		}
	case err := <-waitErr:
		runErr = engineErr(host, "waiting", err)
	case <-ctx.Done():
		runErr = fmt.Errorf("container: run %s: %w", s.RunID, ctx.Err())
		stopT := int(s.StopTimeout / time.Second)
		sctx, cancel := context.WithTimeout(bg, s.StopTimeout+30*time.Second)
		if err := cli.ContainerStop(sctx, created.ID, containertypes.StopOptions{Timeout: &stopT}); err != nil {
			log.Warn("container: stopping", "id", created.ID, "err", err)
		}
		cancel()
	}
	res.Duration = time.Since(start)
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		hijack.Close()
		<-copied
	}
	if group != nil {
		group.Close()
	}

	insp, err := cli.ContainerInspect(bg, created.ID)
	if err != nil {
		return res, errors.Join(runErr, engineErr(host, "inspecting container", err))
	}
	if insp.State != nil {
		res.ExitCode = insp.State.ExitCode
		res.OOMKilled = insp.State.OOMKilled
	}
	if err := copyReports(bg, cli, created.ID, s.ReportsDir); err != nil {
		log.Warn("container: copying reports", "err", err)
	}
	if j := filepath.Join(s.ReportsDir, "junit.xml"); fileExists(j) {
		res.JUnit = j
	}
	res.InfraError = classify(res, last.String())
	log.Info("container: exited", "id", created.ID, "exit", res.ExitCode, "oom", res.OOMKilled, "junit", res.JUnit != "")
	return res, runErr
}

// checkUserSuites fails unless dir is an absolute path to a directory
// the user nobody can list, holding only regular files, not set-user-ID
// or set-group-ID, that nobody can read and execute.
func checkUserSuites(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("container: user suites directory %q is not an absolute path", dir)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("container: user suites directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("container: user suites directory %s is not a directory (%v)", dir, fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o005 != 0o005 {
		return fmt.Errorf("container: user suites directory %s has mode %v: the container's user (nobody) cannot list it; give it 0755", dir, fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("container: user suites directory: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("container: user suites directory: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("container: user suites directory %s: %s is not a regular file (%v); it may hold only suite binaries", dir, e.Name(), fi.Mode().Type())
		}
		if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			return fmt.Errorf("container: user suites directory %s: %s is set-user-ID or set-group-ID (%v)", dir, e.Name(), fi.Mode())
		}
		if fi.Mode().Perm()&0o005 != 0o005 {
			return fmt.Errorf("container: user suites directory %s: %s has mode %v: the container's user (nobody) cannot run it; give it 0755", dir, e.Name(), fi.Mode().Perm())
		}
	}
	return nil
}

// JobLabels are the labels Run sets on everything it creates; Cleanup
// takes any subset of them.
func JobLabels(runID, job, lease string) map[string]string {
	l := map[string]string{LabelManaged: "testrunner", LabelRunID: runID}
	if job != "" {
		l[LabelJob] = job
	}
	if lease != "" {
		l[LabelLease] = lease
	}
	return l
}

func classify(r Result, output string) *InfraError {
	e := &InfraError{ExitCode: r.ExitCode, OOMKilled: r.OOMKilled, Output: output}
	switch {
	case r.OOMKilled:
		e.Reason = "oom-killed"
	case r.ExitCode > 128:
		e.Reason = fmt.Sprintf("killed by signal %d", r.ExitCode-128)
	case r.JUnit == "":
		e.Reason = "no reports (junit.xml missing)"
	default:
		return nil
	}
	return e
}

func setDefaults(s *Spec) {
	if s.Memory == 0 {
		s.Memory = DefaultMemory
	}
	if s.NanoCPUs == 0 {
		s.NanoCPUs = DefaultNanoCPUs
	}
	if s.PidsLimit == 0 {
		s.PidsLimit = DefaultPidsLimit
	}
	if s.TmpSize == 0 {
		s.TmpSize = DefaultTmpSize
	}
	if s.StopTimeout == 0 {
		s.StopTimeout = DefaultStopTimeout
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
}

// forwardWorker starts a forwarder on the job network's gateway address to
// the worker and returns the worker's URL as seen from the testrunner.
func forwardWorker(ctx context.Context, cli Engine, netID, worker string, log *slog.Logger) (*forwarder, string, error) {
	u, err := url.Parse(worker)
	if err != nil || u.Host == "" {
		return nil, "", fmt.Errorf("container: worker URL %q: want scheme://host:port", worker)
	}
	target := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		target = net.JoinHostPort(u.Hostname(), port)
	}
	insp, err := cli.NetworkInspect(ctx, netID, network.InspectOptions{})
	if err != nil {
		return nil, "", engineErr(cli.DaemonHost(), "inspecting job network", err)
	}
	var gw string
	for _, c := range insp.IPAM.Config {
		if ip := net.ParseIP(c.Gateway); ip != nil && ip.To4() != nil {
			gw = c.Gateway
			break
		}
	}
	if gw == "" {
		return nil, "", fmt.Errorf("container: job network %s has no IPv4 gateway address for the worker forwarder", insp.Name)
	}
	fwd, err := forward(gw, target, log)
	if err != nil {
		return nil, "", fmt.Errorf("container: the host has no address %s on job network %s (is the engine in another network namespace, e.g. rootless or remote?): %w", gw, insp.Name, err)
	}
	inner := *u
	inner.Host = net.JoinHostPort(gw, strconv.Itoa(fwd.Addr().Port))
	return fwd, inner.String(), nil
}

func copyReports(ctx context.Context, cli Engine, id, dir string) error {
	rc, _, err := cli.CopyFromContainer(ctx, id, ReportsPath)
	if err != nil {
		return engineErr(cli.DaemonHost(), "copying reports", err)
	}
	defer rc.Close()
	return ExtractReports(rc, dir)
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// resourceName is a unique engine object name for a run.
func resourceName(runID string) string {
	var b [4]byte
	rand.Read(b[:])
	id := strings.Trim(unsafeName.ReplaceAllString(runID, "-"), "-.")
	if len(id) > 40 {
		id = id[:40]
	}
	return "leviathan-" + id + "-" + hex.EncodeToString(b[:])
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
