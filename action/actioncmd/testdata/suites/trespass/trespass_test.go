// Package trespass is a workspace suite, as a user's repository holds one,
// for the action's end-to-end test: submit compiles it, and test runs it
// in the testrunner container on the testbot path. Besides checking where
// it runs, it tries to cross the testbot's trust boundaries as
// pull-request code might; each of those tests PASSES when the crossing
// FAILS. Extend it with new crossings as the boundaries grow.
//
// Settings come through the environment, allowed into the suite with the
// action's env input:
//
//	TRESPASS_SECRET_SHA256S  hex SHA-256s of secret values planted in the
//	                         action's environment, comma-separated: the
//	                         suite searches for the secrets without
//	                         holding them
//	TRESPASS_HOST_PORT       a TCP port the test listens on, on all the
//	                         host's addresses (0.0.0.0)
//	TRESPASS_HOST_ADDRS      other host:port addresses of that listener
//	                         (the host's own IPs), comma-separated
//
// Without them the tests that need them skip, with the reason.
package trespass

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/balena/leviathan-action/suites/sdk"
)

// marker is what TestInContainer writes to /reports, for the end-to-end
// test to find among the reports copied out of the container.
const (
	markerFile = "trespass-marker.txt"
	marker     = "written by the trespass suite inside the testrunner container"
)

// TestInContainer checks that the suite runs where a testbot must run a
// user's suite: in the testrunner container, as nobody, on a read-only
// root, from the read-only mount of the user's binaries.
func TestInContainer(t *testing.T) {
	if uid, gid := os.Getuid(), os.Getgid(); uid != 65534 || gid != 65534 {
		t.Fatalf("running as uid %d gid %d, not as nobody (65534): not in the testrunner container", uid, gid)
	}
	for _, p := range []string{"/trespass", "/suites/trespass", "/user-suites/trespass"} {
		err := os.WriteFile(p, []byte("x"), 0o644)
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("writing %s: %v; want a read-only file system", p, err)
		}
	}
	exe, err := os.Executable()
	if err != nil || !strings.HasPrefix(exe, "/user-suites/") {
		t.Errorf("the suite's binary is %q (%v), not under /user-suites", exe, err)
	}
	if err := os.WriteFile(filepath.Join("/reports", markerFile), []byte(marker+"\n"), 0o644); err != nil {
		t.Fatalf("writing the marker to /reports: %v", err)
	}
}

// TestDrivesTheDUT runs a command on the DUT through the worker, as every
// suite does.
func TestDrivesTheDUT(t *testing.T) {
	d := sdk.Get(t)
	if got := d.Run(t, "echo trespass"); got != "trespass" {
		t.Errorf("the DUT echoed %q", got)
	}
}

// TestNoSecretInProcesses (a) reads the environment and command line of
// every process it can see, and fails if any value is a planted secret.
func TestNoSecretInProcesses(t *testing.T) {
	secrets := map[string]bool{}
	for _, h := range strings.Split(os.Getenv("TRESPASS_SECRET_SHA256S"), ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			secrets[h] = true
		}
	}
	if len(secrets) == 0 {
		t.Skip("no planted secrets named (TRESPASS_SECRET_SHA256S)")
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	read, unreadable := 0, 0
	for _, p := range procs {
		for _, f := range []string{"environ", "cmdline"} {
			b, err := os.ReadFile(filepath.Join(p, f))
			if err != nil {
				unreadable++
				continue
			}
			read++
			for _, field := range bytes.Split(b, []byte{0}) {
				candidates := [][]byte{field}
				if _, v, ok := bytes.Cut(field, []byte("=")); ok {
					candidates = append(candidates, v)
				}
				for _, c := range candidates {
					sum := sha256.Sum256(c)
					if secrets[hex.EncodeToString(sum[:])] {
						t.Errorf("%s/%s holds a planted secret (the SHA-256 of its value matches)", p, f)
					}
				}
			}
		}
	}
	t.Logf("read %d environ and cmdline files of %d processes; %d unreadable", read, len(procs), unreadable)
}

// TestNoDockerSocket (b) fails if the Docker Engine's socket answers.
func TestNoDockerSocket(t *testing.T) {
	for _, p := range []string{"/var/run/docker.sock", "/run/docker.sock"} {
		c, err := net.DialTimeout("unix", p, 3*time.Second)
		if err == nil {
			c.Close()
			t.Errorf("connected to %s", p)
			continue
		}
		t.Logf("%s: %v", p, err)
	}
}

// TestNoHostService (b) fails if a host service other than the worker's
// forwarder answers: the test's listener, through the job network's
// gateway (the host's address the container routes to) and the host's
// other addresses.
func TestNoHostService(t *testing.T) {
	port := os.Getenv("TRESPASS_HOST_PORT")
	if port == "" {
		t.Skip("no host service to try (TRESPASS_HOST_PORT)")
	}
	var addrs []string
	if u, err := url.Parse(os.Getenv(sdk.EnvWorkerURL)); err == nil && u.Hostname() != "" {
		addrs = append(addrs, net.JoinHostPort(u.Hostname(), port))
	}
	for _, a := range strings.Split(os.Getenv("TRESPASS_HOST_ADDRS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	// In parallel: a firewall that drops rather than refuses makes each
	// try last its whole timeout.
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", a, 3*time.Second)
			if err == nil {
				c.Close()
				t.Errorf("the host service answered at %s", a)
				return
			}
			t.Logf("%s: %v", a, err)
		})
	}
	wg.Wait()
}

// TestWorkflowCommands (d) prints workflow commands, on stdout and in the
// test's log. It always passes: the end-to-end test checks that the
// runner would not process them.
func TestWorkflowCommands(t *testing.T) {
	fmt.Println("::warning::pwned")
	fmt.Println("  ::error::pwned")
	fmt.Fprintln(os.Stderr, "::warning::pwned")
	t.Log("::error::pwned")
}

// TestLeaseProbes (c): the suite holds the lease's id only; with it, it
// tries to take the DUT for longer, end the job's lease to take a fresh
// one, renew another lease, tear down, and pull images: each must be
// refused.
func TestLeaseProbes(t *testing.T) {
	d := sdk.Get(t)
	ctx := t.Context()
	if tok := os.Getenv("LEVIATHAN_WORKER_TOKEN"); tok != "" {
		t.Errorf("the suite was given the worker's token")
	}
	lease := os.Getenv("LEVIATHAN_LEASE")
	if lease == "" {
		t.Fatal("no LEVIATHAN_LEASE: the suite should hold its lease")
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: allowed with the lease's id", what)
		} else if !strings.Contains(err.Error(), "403") {
			t.Errorf("%s: %v; want 403 Forbidden", what, err)
		}
	}
	_, err := d.Client.Lease(ctx, "trespass", 9000000000*time.Second)
	refused("taking a lease until the year 2312", err)
	refused("releasing the job's lease", d.Client.Release(ctx, lease))
	refused("tearing down", d.Client.Teardown(ctx))
	_, err = d.Client.Heartbeat(ctx, "SOMEONEELSESLEASE")
	refused("renewing another lease", err)
	refused("pulling an image", d.Client.PullTestrunner(ctx, "evil.example/root@sha256:"+strings.Repeat("0", 64)))
	// The lease is still the job's, and still works.
	if h, err := d.Client.Health(ctx); err != nil || !h.Leased {
		t.Errorf("after the probes: health %+v, %v", h, err)
	}
}
