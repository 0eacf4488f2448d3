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

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/testrunner/runresult"
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
	InfraError *runresult.InfraError
}

// Passed reports whether every test passed.
func (r Result) Passed() bool { return r.InfraError == nil && r.ExitCode == 0 }

// TestsFailed reports whether the run completed and some tests failed.
func (r Result) TestsFailed() bool { return r.InfraError == nil && r.ExitCode != 0 }

// Run runs the testrunner container described by s on a network of its own
// and removes the container and the network before returning. The error is
// non-nil when the container could not be run (engine, network, forwarder)
// or ctx ended; failing tests and infrastructure failures are in the
// Result.
func Run(ctx context.Context, cli Engine, s Spec) (Result, error) {
	if err := s.check(); err != nil {
		return Result{}, err
	}
	setDefaults(&s)
	r := &run{s: s, cli: cli, log: s.Log, host: cli.DaemonHost(), labels: s.labels(),
		bg: context.WithoutCancel(ctx)}

	nw, err := r.createNetwork(ctx)
	if err != nil {
		return Result{}, err
	}
	defer r.removeNetwork(nw)
	res := Result{Network: nw.name, Bridge: nw.bridge, Reports: s.ReportsDir}

	env := r.env()
	if s.WorkerURL != "" {
		inner, hostClosed, disconnect, err := r.connectWorker(ctx, nw)
		if err != nil {
			return res, err
		}
		defer disconnect()
		res.HostClosed = hostClosed
		env = append(env, api.EnvWorkerURL+"="+inner)
	}

	cfg, hc := r.containerConfig(nw.name, env)
	created, err := cli.ContainerCreate(ctx, cfg, hc, nil, nil, nw.name)
	if err != nil {
		return res, engineErr(r.host, "creating container", err)
	}
	id := created.ID
	res.ContainerID = id
	defer r.removeContainer(id)

	out, err := r.attach(ctx, id)
	if err != nil {
		return res, err
	}
	defer out.close()
	dur, runErr, err := r.startAndWait(ctx, id, nw.name)
	if err != nil {
		return res, err
	}
	res.Duration = dur
	out.finish()

	if err := r.collect(id, out.last.String(), &res); err != nil {
		return res, errors.Join(runErr, err)
	}
	return res, runErr
}

// run is one call of Run: the Spec, with its defaults set, and what its
// steps share.
type run struct {
	s      Spec
	cli    Engine
	log    *slog.Logger
	host   string            // the engine's address, for errors
	labels map[string]string // set on everything the run makes
	// bg outlives the caller's ctx: cleanup runs even when it is
	// cancelled.
	bg context.Context
}

// check fails unless s has what Run needs.
func (s Spec) check() error {
	if s.Image == "" || s.RunID == "" || s.ReportsDir == "" {
		return errors.New("testrunner: Spec needs Image, RunID and ReportsDir")
	}
	if s.UserSuitesDir != "" {
		return checkUserSuites(s.UserSuitesDir)
	}
	return nil
}

// labels are the job's labels and, where they do not clash, s.Labels.
func (s Spec) labels() map[string]string {
	labels := JobLabels(s.RunID, s.Job, s.Lease)
	for k, v := range s.Labels {
		if _, taken := labels[k]; !taken {
			labels[k] = v
		}
	}
	return labels
}

// jobNetwork is the internal bridge network a run's container is alone on.
type jobNetwork struct {
	id, name string
	bridge   string // its interface on the host
}

// createNetwork creates the run's internal network on a bridge named for
// the firewall rules.
func (r *run) createNetwork(ctx context.Context) (jobNetwork, error) {
	nw := jobNetwork{name: resourceName(r.s.RunID), bridge: newBridgeName()}
	created, err := r.cli.NetworkCreate(ctx, nw.name, network.CreateOptions{
		Driver:   "bridge",
		Internal: true,
		Labels:   r.labels,
		Options:  map[string]string{bridgeOption: nw.bridge},
	})
	if err != nil {
		return jobNetwork{}, engineErr(r.host, "creating network "+nw.name, err)
	}
	nw.id = created.ID
	return nw, nil
}

// removeNetwork removes the run's network, logging a failure.
func (r *run) removeNetwork(nw jobNetwork) {
	ctx, cancel := context.WithTimeout(r.bg, 30*time.Second)
	defer cancel()
	if err := r.cli.NetworkRemove(ctx, nw.id); err != nil {
		r.log.Warn("testrunner: removing network", "network", nw.name, "err", err)
	}
}

// env is the container's environment but for the worker's URL: the
// job's variables, the lease and the worker's token when set.
func (r *run) env() []string {
	env := append([]string(nil), r.s.Env...)
	if r.s.Lease != "" {
		env = append(env, api.EnvLease+"="+r.s.Lease)
	}
	if r.s.WorkerToken != "" {
		env = append(env, api.EnvWorkerToken+"="+r.s.WorkerToken)
	}
	return env
}

// connectWorker forwards the worker into the job network and, where the
// host's firewall can be changed, closes every other host service to it.
// It returns the worker's URL inside the container, whether the host is
// closed, and a func that undoes both.
func (r *run) connectWorker(ctx context.Context, nw jobNetwork) (inner string, hostClosed bool, disconnect func(), err error) {
	fwd, inner, err := forwardWorker(ctx, r.cli, nw.id, r.s.WorkerURL, r.log)
	if err != nil {
		return "", false, nil, err
	}
	r.log.Info("testrunner: worker forwarded", "worker", r.s.WorkerURL, "inside", inner)
	fw, err := closeHost(ctx, nw.bridge, fwd.Addr().Port)
	switch {
	case err == nil:
		return inner, true, func() {
			if err := fw.open(r.bg); err != nil {
				r.log.Warn("testrunner: removing the job network's firewall rules", "err", err)
			}
			fwd.Close()
		}, nil
	case errors.Is(err, errNoFirewall):
		r.log.Warn(err.Error(), "bridge", nw.bridge)
		return inner, false, func() { fwd.Close() }, nil
	default:
		fwd.Close()
		return "", false, nil, err
	}
}

// containerConfig is the locked-down container: user nobody, read-only,
// no capabilities, limits, /reports on a volume, the user's suites
// mounted read-only, on the job network only.
func (r *run) containerConfig(netName string, env []string) (*containertypes.Config, *containertypes.HostConfig) {
	s := r.s
	cfg := &containertypes.Config{
		Image:        s.Image,
		Cmd:          s.Cmd,
		Env:          env,
		User:         "65534:65534",
		Labels:       r.labels,
		AttachStdout: true,
		AttachStderr: true,
	}
	pids := s.PidsLimit
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
			VolumeOptions: &mount.VolumeOptions{Labels: r.labels},
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
	return cfg, hc
}

// removeContainer removes the container and its /reports volume, logging
// a failure.
func (r *run) removeContainer(id string) {
	ctx, cancel := context.WithTimeout(r.bg, 30*time.Second)
	defer cancel()
	if err := r.cli.ContainerRemove(ctx, id, containertypes.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		r.log.Warn("testrunner: removing container", "id", id, "err", err)
	}
}

// startAndWait starts the container and waits for it to exit, stopping it
// (with s.StopTimeout's grace) when ctx ends first. err is non-nil when it
// could not be started; runErr when waiting failed or ctx ended, the
// container then being stopped.
func (r *run) startAndWait(ctx context.Context, id, netName string) (ran time.Duration, runErr, err error) {
	waitC, waitErr := r.cli.ContainerWait(r.bg, id, containertypes.WaitConditionNextExit)
	start := time.Now()
	if err := r.cli.ContainerStart(ctx, id, containertypes.StartOptions{}); err != nil {
		return 0, nil, engineErr(r.host, "starting container", err)
	}
	r.log.Info("testrunner: started", "id", id, "image", r.s.Image, "network", netName)
	select {
	case w := <-waitC:
		if w.Error != nil {
			runErr = fmt.Errorf("testrunner: waiting: %s", w.Error.Message)
		}
	case err := <-waitErr:
		runErr = engineErr(r.host, "waiting", err)
	case <-ctx.Done():
		runErr = fmt.Errorf("testrunner: run %s: %w", r.s.RunID, ctx.Err())
		r.stop(id)
	}
	return time.Since(start), runErr, nil
}

// stop stops the container, giving it s.StopTimeout to exit.
func (r *run) stop(id string) {
	stopT := int(r.s.StopTimeout / time.Second)
	ctx, cancel := context.WithTimeout(r.bg, r.s.StopTimeout+30*time.Second)
	defer cancel()
	if err := r.cli.ContainerStop(ctx, id, containertypes.StopOptions{Timeout: &stopT}); err != nil {
		r.log.Warn("testrunner: stopping", "id", id, "err", err)
	}
}

// collect fills res from the exited container: its exit code, the
// reports copied into s.ReportsDir and, from those and output (the
// container's last output), whether the run was broken.
func (r *run) collect(id, output string, res *Result) error {
	insp, err := r.cli.ContainerInspect(r.bg, id)
	if err != nil {
		return engineErr(r.host, "inspecting container", err)
	}
	if insp.State != nil {
		res.ExitCode = insp.State.ExitCode
		res.OOMKilled = insp.State.OOMKilled
	}
	if err := copyReports(r.bg, r.cli, id, r.s.ReportsDir); err != nil {
		r.log.Warn("testrunner: copying reports", "err", err)
	}
	if j := filepath.Join(r.s.ReportsDir, "junit.xml"); fileExists(j) {
		res.JUnit = j
	}
	res.InfraError = classify(*res, output)
	r.log.Info("testrunner: exited", "id", id, "exit", res.ExitCode, "oom", res.OOMKilled, "junit", res.JUnit != "")
	return nil
}

// checkUserSuites fails unless dir is an absolute path to a directory
// the user nobody can list, holding only regular files, not set-user-ID
// or set-group-ID, that nobody can read and execute.
func checkUserSuites(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("testrunner: user suites directory %q is not an absolute path", dir)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("testrunner: user suites directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("testrunner: user suites directory %s is not a directory (%v)", dir, fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o005 != 0o005 {
		return fmt.Errorf("testrunner: user suites directory %s has mode %v: the container's user (nobody) cannot list it; give it 0755", dir, fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("testrunner: user suites directory: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("testrunner: user suites directory: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("testrunner: user suites directory %s: %s is not a regular file (%v); it may hold only suite binaries", dir, e.Name(), fi.Mode().Type())
		}
		if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			return fmt.Errorf("testrunner: user suites directory %s: %s is set-user-ID or set-group-ID (%v)", dir, e.Name(), fi.Mode())
		}
		if fi.Mode().Perm()&0o005 != 0o005 {
			return fmt.Errorf("testrunner: user suites directory %s: %s has mode %v: the container's user (nobody) cannot run it; give it 0755", dir, e.Name(), fi.Mode().Perm())
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

func classify(r Result, output string) *runresult.InfraError {
	e := &runresult.InfraError{ExitCode: r.ExitCode, OOMKilled: r.OOMKilled, Output: output}
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
		return nil, "", fmt.Errorf("testrunner: worker URL %q: want scheme://host:port", worker)
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
		return nil, "", fmt.Errorf("testrunner: job network %s has no IPv4 gateway address for the worker forwarder", insp.Name)
	}
	fwd, err := forward(gw, target, log)
	if err != nil {
		return nil, "", fmt.Errorf("testrunner: the host has no address %s on job network %s (is the engine in another network namespace, e.g. rootless or remote?): %w", gw, insp.Name, err)
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
	return runresult.ExtractReports(rc, dir)
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
