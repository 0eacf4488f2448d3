package leviathancmd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
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

func workerCmd(ctx context.Context, e Env, args []string) error {
	fs := e.flags("worker [flags]", `Serve one DUT over the worker API (see docs/worker-api.md) until
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
one, flashing writes the DUT's storage (SD_MUX, or QEMU's disk) directly.`)
	listen := fs.String("listen", envOr("LEVIATHAN_WORKER_LISTEN", "127.0.0.1:4321"), "address to serve on [$LEVIATHAN_WORKER_LISTEN]")
	token := fs.String("token", envOr("LEVIATHAN_WORKER_TOKEN", ""), "bearer token clients must send; required off loopback [$LEVIATHAN_WORKER_TOKEN]")
	maxTTL := fs.Duration("max-lease-ttl", worker.DefaultMaxLeaseTTL, "longest a lease may live between heartbeats; longer requests are refused")
	name := fs.String("name", "qemu0", "DUT name")
	check := fs.Bool("check", false, "probe the configured devices (or QEMU), print what was found and exit")
	dir := fs.String("state-dir", "", "DUT state directory (default: $XDG_STATE_HOME/leviathan/<name>)")
	hostname := fs.String("hostname", "", "hostname provisioned into flashed images (default: leviathan-<name>)")
	memory := fs.Int("memory", envInt("QEMU_MEMORY", 512), "QEMU DUT memory in MiB [$QEMU_MEMORY]")
	cpus := fs.Int("cpus", envInt("QEMU_CPUS", 1), "QEMU DUT CPUs [$QEMU_CPUS]")
	isolated := fs.Bool("isolated", os.Getenv("QEMU_ISOLATED") == "true", "cut the QEMU DUT off from this machine's services and the outside (user networking restrict=on); without it the DUT reaches every service on this machine's loopback through 10.0.2.2 [$QEMU_ISOLATED=true]")
	cacheGiB := fs.Float64("image-cache-gib", 8, "size of the cache of uploaded images kept in the state directory (0: no cache)")
	dockerCleanup := fs.Bool("docker-cleanup", false, "when a lease ends, remove the Docker containers labelled with it (the runner hook's dead-man's switch; on with --testrunner-image)")
	trImage := fs.String("testrunner-image", os.Getenv("LEVIATHAN_TESTRUNNER_IMAGE"), "testrunner image (by digest) leases may run through the worker (POST /v1/testrunner), on this machine's Docker Engine; the runner hook may pull others through the worker [$LEVIATHAN_TESTRUNNER_IMAGE]")
	procPath := fs.String("procedure", os.Getenv("PROCEDURE"), "flashing procedure: a YAML file or a directory of them [$PROCEDURE]")
	deviceType := fs.String("device-type", os.Getenv("DEVICE_TYPE"), "the board's device type, choosing the procedure from a --procedure directory [$DEVICE_TYPE]")
	verbose := fs.Bool("v", false, "log debug detail")
	if err := parse(fs, args); err != nil {
		return err
	}
	var proc *procedure.Procedure
	if *procPath != "" {
		var err error
		if proc, err = procedure.Find(*procPath, *deviceType, os.Getenv); err != nil {
			return err
		}
	} else if *deviceType != "" {
		return usageError("--device-type %s: without --procedure (or PROCEDURE) it chooses nothing", *deviceType)
	}
	log := e.logger(*verbose, slog.LevelInfo)
	if *dir == "" {
		base := os.Getenv("XDG_STATE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return fmt.Errorf("no --state-dir and no home directory: %w", err)
			}
			base = filepath.Join(home, ".local", "state")
		}
		*dir = filepath.Join(base, "leviathan", *name)
	}
	if *hostname == "" {
		*hostname = "leviathan-" + *name
	}
	var d dut.DUT
	var fatal []string
	var devs procedure.Devices
	if board.Configured(os.Getenv) {
		b, err := board.Open(ctx, *name, log)
		if err != nil {
			return err
		}
		defer b.Close()
		if *check {
			if proc != nil {
				fmt.Fprintf(e.Stdout, "%-8s %s\n", "flashing", proc)
			}
			return b.Check(ctx, e.Stdout)
		}
		d, devs.Mux = b, b.Mux()
	} else {
		q, err := qemukit.New(qemukit.Config{Name: *name, Dir: *dir, MemoryMiB: *memory, CPUs: *cpus, Isolated: *isolated, Logger: log})
		if err != nil {
			return err
		}
		defer q.Close()
		if *check {
			if proc != nil {
				fmt.Fprintf(e.Stdout, "flashing procedure %s\n", proc)
			}
			return checkQEMU(e)
		}
		d, fatal = q, qemukit.BootFailures
		if !*isolated {
			log.Warn("the QEMU DUT reaches this machine's loopback services through its gateway 10.0.2.2 (user networking); on a testbot for untrusted images use --isolated")
		}
	}
	signer, pub, err := provision.NewKey()
	if err != nil {
		return err
	}
	opts := []worker.Option{worker.WithLogger(log), worker.WithHostname(*hostname),
		worker.WithSigner(signer), worker.WithProvision(provision.ConfigJSON(*hostname, pub)),
		worker.WithFatalPatterns(fatal...), worker.WithMaxLeaseTTL(*maxTTL)}
	if *token != "" {
		opts = append(opts, worker.WithToken(*token))
	} else {
		log.Warn("serving without a token: every local user of this machine can lease, power, flash and run commands on the DUT, and read its whole console; fine for a laptop, not for a testbot (set --token)")
	}
	if proc != nil {
		opts = append(opts, worker.WithProcedure(proc, devs))
	}
	if *cacheGiB > 0 {
		imgs, err := cache.Open(filepath.Join(*dir, "images"), int64(*cacheGiB*(1<<30)), cache.WithLogger(log))
		if err != nil {
			return err
		}
		opts = append(opts, worker.WithImageCache(imgs))
	}
	if *dockerCleanup || *trImage != "" {
		cli, err := openDocker(ctx)
		if err != nil {
			return err
		}
		defer cli.Close()
		opts = append(opts, worker.WithLeaseEnd(dockerLeaseEnd(cli, log)))
		if *trImage != "" {
			self, err := selfURL(*listen)
			if err != nil {
				return err
			}
			tr := testrunner.WorkerTestrunner{Engine: cli, WorkerURL: self, Log: log}
			opts = append(opts, worker.WithTestrunner(tr, filepath.Join(*dir, "testrunner"), *trImage))
		}
	}
	w, err := worker.New(d, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "worker for DUT %s on http://%s (state in %s)\n", *name, *listen, *dir)
	return worker.ListenAndServe(ctx, *listen, w, log)
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

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
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
