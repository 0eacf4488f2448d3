package leviathancmd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	docker "github.com/docker/docker/client"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/board"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image/cache"
	"github.com/balena/leviathan-action/autokit/procedure"
	"github.com/balena/leviathan-action/autokit/provision"
	"github.com/balena/leviathan-action/autokit/testrunner"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/qemukit"
)

const workerSynopsis = `Serve one DUT over the worker API (see docs/worker-api.md) until
interrupted: a real board when the environment configures its hardware
(POWER=…, SD_MUX=…, SERIAL=…, DIGITAL_RELAY=…; see the README's testbot
guide), a QEMU DUT otherwise. It binds to loopback unless --listen says
otherwise, and then requires a token. The token is the testbot's admin
credential (the runner hook's): it takes and releases leases. A lease's
id is a credential too, good for that lease only while it lives: no new
lease, no longer than --max-lease-ttl between heartbeats, console output
since the lease began. --check probes the configured
devices, prints what it found and exits.

How an image reaches the board is the device type's flashing procedure
(--procedure: a YAML file, or a directory of them chosen by
--device-type; see autokit/procedure): an SD card through the mux, a
flasher image that installs itself and powers off, or USB boot. Without
one, flashing writes the DUT's storage (SD_MUX, or QEMU's disk) directly.`

// workerFlags are the settings of `leviathan worker`.
type workerFlags struct {
	listen, token, name, dir, hostname string
	trImage, procPath, deviceType      string
	maxTTL                             time.Duration
	memory, cpus                       int
	cacheGiB                           float64
	check, isolated, dockerCleanup     bool
	verbose                            bool
}

func workerCmd(ctx context.Context, e Env, args []string) error {
	f, err := parseWorkerFlags(e, args)
	if err != nil {
		return err
	}
	proc, err := f.procedure(e.getenv())
	if err != nil {
		return err
	}
	log := e.logger(f.verbose, slog.LevelInfo)
	if err := f.fillDefaults(e.getenv()); err != nil {
		return err
	}
	s, err := openDUT(ctx, e.getenv(), f, log)
	if err != nil {
		return err
	}
	defer s.close()
	if f.check {
		return s.check(ctx, e, proc)
	}
	if s.qemu && !f.isolated {
		log.Warn("the QEMU DUT reaches this machine's loopback services through its gateway 10.0.2.2 (user networking); on a testbot for untrusted images use --isolated")
	}
	opts, closeOpts, err := workerOptions(ctx, f, s, proc, log)
	if err != nil {
		return err
	}
	defer closeOpts()
	w, err := worker.New(s.dut, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "worker for DUT %s on http://%s (state in %s)\n", f.name, f.listen, f.dir)
	return worker.ListenAndServe(ctx, f.listen, w, log)
}

// parseWorkerFlags reads the command line and, for the flags it leaves
// out, their variables.
func parseWorkerFlags(e Env, args []string) (*workerFlags, error) {
	f := &workerFlags{}
	fs := e.flags("worker [flags]", workerSynopsis)
	fs.EnvStringVar(&f.listen, "listen", api.EnvWorkerListen, "127.0.0.1:4321", "address to serve on")
	fs.EnvStringVar(&f.token, "token", api.EnvWorkerToken, "", "bearer token clients must send; required off loopback")
	fs.DurationVar(&f.maxTTL, "max-lease-ttl", worker.DefaultMaxLeaseTTL, "longest a lease may live between heartbeats; longer requests are refused")
	fs.StringVar(&f.name, "name", "qemu0", "DUT name")
	fs.BoolVar(&f.check, "check", false, "probe the configured devices (or QEMU), print what was found and exit")
	fs.StringVar(&f.dir, "state-dir", "", "DUT state directory (default: $XDG_STATE_HOME/leviathan/<name>)")
	fs.StringVar(&f.hostname, "hostname", "", "hostname provisioned into flashed images (default: leviathan-<name>)")
	fs.EnvIntVar(&f.memory, "memory", envQEMUMemory, 512, "QEMU DUT memory in MiB")
	fs.EnvIntVar(&f.cpus, "cpus", envQEMUCPUs, 1, "QEMU DUT CPUs")
	fs.EnvBoolVar(&f.isolated, "isolated", envQEMUIsolated, false, "cut the QEMU DUT off from this machine's services and the outside (user networking restrict=on); without it the DUT reaches every service on this machine's loopback through 10.0.2.2")
	fs.Float64Var(&f.cacheGiB, "image-cache-gib", 8, "size of the cache of uploaded images kept in the state directory (0: no cache)")
	fs.BoolVar(&f.dockerCleanup, "docker-cleanup", false, "when a lease ends, remove the Docker containers labelled with it (the runner hook's dead-man's switch; on with --testrunner-image)")
	fs.EnvStringVar(&f.trImage, "testrunner-image", api.EnvTestrunnerImage, "", "testrunner image (by digest) leases may run through the worker (POST /v1/testrunner), on this machine's Docker Engine; the runner hook may pull others through the worker")
	fs.EnvStringVar(&f.procPath, "procedure", "PROCEDURE", "", "flashing procedure: a YAML file or a directory of them")
	fs.EnvStringVar(&f.deviceType, "device-type", "DEVICE_TYPE", "", "the board's device type, choosing the procedure from a --procedure directory")
	fs.BoolVar(&f.verbose, "v", false, "log debug detail")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return f, nil
}

// procedure finds the flashing procedure --procedure and --device-type
// name; nil without --procedure.
func (f *workerFlags) procedure(getenv func(string) string) (*procedure.Procedure, error) {
	if f.procPath == "" {
		if f.deviceType != "" {
			return nil, usageError("--device-type %s: without --procedure (or PROCEDURE) it chooses nothing", f.deviceType)
		}
		return nil, nil
	}
	return procedure.Find(f.procPath, f.deviceType, getenv)
}

// fillDefaults sets the state directory and hostname the command line
// left empty from the DUT's name.
func (f *workerFlags) fillDefaults(getenv func(string) string) error {
	if f.dir == "" {
		base := getenv("XDG_STATE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return fmt.Errorf("no --state-dir and no home directory: %w", err)
			}
			base = filepath.Join(home, ".local", "state")
		}
		f.dir = filepath.Join(base, "leviathan", f.name)
	}
	if f.hostname == "" {
		f.hostname = "leviathan-" + f.name
	}
	return nil
}

// servedDUT is the DUT a worker serves: a board or a QEMU DUT.
type servedDUT struct {
	dut   dut.DUT
	board *board.Board // nil for QEMU
	qemu  bool
	fatal []string // console patterns that fail a boot
	devs  procedure.Devices
	close func() error
}

// openDUT opens the board getenv configures, or a QEMU DUT when it
// configures no hardware.
func openDUT(ctx context.Context, getenv func(string) string, f *workerFlags, log *slog.Logger) (*servedDUT, error) {
	if board.Configured(getenv) {
		b, err := board.Open(ctx, f.name, getenv, log)
		if err != nil {
			return nil, err
		}
		return &servedDUT{dut: b, board: b, devs: procedure.Devices{Mux: b.Mux()}, close: b.Close}, nil
	}
	q, err := qemukit.New(qemukit.Config{Name: f.name, Dir: f.dir, MemoryMiB: f.memory, CPUs: f.cpus, Isolated: f.isolated, Logger: log})
	if err != nil {
		return nil, err
	}
	return &servedDUT{dut: q, qemu: true, fatal: qemukit.BootFailures, close: q.Close}, nil
}

// check prints what the DUT is made of (--check) and probes it.
func (s *servedDUT) check(ctx context.Context, e Env, proc *procedure.Procedure) error {
	if s.board != nil {
		if proc != nil {
			fmt.Fprintf(e.Stdout, "%-8s %s\n", "flashing", proc)
		}
		return s.board.Check(ctx, e.Stdout)
	}
	if proc != nil {
		fmt.Fprintf(e.Stdout, "flashing procedure %s\n", proc)
	}
	return checkQEMU(e)
}

// workerOptions are the worker's options from the flags: provisioning,
// token, procedure, image cache and Docker. close releases the Docker
// client.
func workerOptions(ctx context.Context, f *workerFlags, s *servedDUT, proc *procedure.Procedure, log *slog.Logger) (opts []worker.Option, closeDocker func(), err error) {
	signer, _, err := provision.NewKey()
	if err != nil {
		return nil, nil, err
	}
	opts = []worker.Option{worker.WithLogger(log), worker.WithIdentity(f.hostname, signer),
		worker.WithFatalPatterns(s.fatal...), worker.WithMaxLeaseTTL(f.maxTTL)}
	if f.token != "" {
		opts = append(opts, worker.WithToken(f.token))
	} else {
		log.Warn("serving without a token: every local user of this machine can lease, power, flash and run commands on the DUT, and read its whole console; fine for a laptop, not for a testbot (set --token)")
	}
	if proc != nil {
		opts = append(opts, worker.WithProcedure(proc, s.devs))
	}
	if f.cacheGiB > 0 {
		imgs, err := cache.Open(filepath.Join(f.dir, "images"), int64(f.cacheGiB*(1<<30)), cache.WithLogger(log))
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, worker.WithImageCache(imgs))
	}
	dockerOpts, closeDocker, err := dockerOptions(ctx, f, log)
	if err != nil {
		return nil, nil, err
	}
	return append(opts, dockerOpts...), closeDocker, nil
}

// dockerOptions connect the worker to the Docker Engine for
// --docker-cleanup and --testrunner-image; none without either.
func dockerOptions(ctx context.Context, f *workerFlags, log *slog.Logger) ([]worker.Option, func(), error) {
	if !f.dockerCleanup && f.trImage == "" {
		return nil, func() {}, nil
	}
	cli, err := openDocker(ctx)
	if err != nil {
		return nil, nil, err
	}
	opts := []worker.Option{worker.WithLeaseEnd(dockerLeaseEnd(cli, log))}
	if f.trImage != "" {
		self, err := selfURL(f.listen)
		if err != nil {
			cli.Close()
			return nil, nil, err
		}
		tr := testrunner.WorkerTestrunner{Engine: cli, WorkerURL: self, Log: log}
		opts = append(opts, worker.WithTestrunner(tr, filepath.Join(f.dir, "testrunner"), f.trImage))
	}
	return opts, func() { cli.Close() }, nil
}

// checkQEMU reports what a QEMU DUT would run with.
func checkQEMU(e Env) error {
	code, _, err := qemukit.FindFirmware()
	if err != nil {
		return err
	}
	accel := "tcg (software)"
	if qemukit.KVMWorks("qemu-system-x86_64") {
		accel = "kvm"
	}
	fmt.Fprintf(e.Stdout, "no hardware configured (%s): a QEMU DUT\nfirmware %s\naccelerator %s\n",
		strings.Join(board.Variables, ", "), code, accel)
	return nil
}

// openDocker connects to the Docker Engine (DOCKER_HOST) and checks it
// answers.
func openDocker(ctx context.Context) (*docker.Client, error) {
	cli, err := docker.NewClientWithOpts(docker.FromEnv, docker.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker: %w (check DOCKER_HOST)", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("--docker-cleanup/--testrunner-image: the Docker Engine at %s does not answer (start it or set DOCKER_HOST): %w", cli.DaemonHost(), err)
	}
	return cli, nil
}

// dockerLeaseEnd removes the containers, networks and volumes labelled
// with a lease once it ends, however it ended.
func dockerLeaseEnd(cli *docker.Client, log *slog.Logger) worker.LeaseEndFunc {
	return func(ctx context.Context, l api.Lease, reason string) {
		if err := testrunner.Cleanup(ctx, cli, map[string]string{testrunner.LabelLease: l.ID}); err != nil {
			log.Error("removing the containers of an ended lease failed", "owner", l.Owner, "reason", reason, "err", err)
			return
		}
		log.Info("removed the containers of an ended lease", "owner", l.Owner, "reason", reason)
	}
}

// selfURL is the URL this process reaches the worker at, from its listen
// address (an unspecified host means loopback).
func selfURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
