// Command bench measures Leviathan against what a user would otherwise
// use, in one run on one machine, and prints ratios:
//
//   - run overhead: the time `leviathan run` takes from start to its first
//     test, minus the same image's raw QEMU boot-to-SSH time;
//   - exec latency: one command through the worker API on a warm
//     connection vs a fresh `ssh` process per command;
//   - tunnel: SSH throughput and connect time through a worker tunnel
//     (client.Dial) vs a direct connection to the same DUT port.
//
// It is a benchmark, not a test: it prints figures and fails only when it
// cannot measure.
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/provision"
	"github.com/balena/leviathan-action/internal/localrun"
	"github.com/balena/leviathan-action/qemukit"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

func main() {
	build := flag.String("build-dir", "build", "build outputs and caches")
	boots := flag.Int("boots", 2, "boots measured for each side of the run-overhead figure")
	execs := flag.Int("execs", 30, "commands measured for each side of the exec figure")
	only := flag.String("only", "", `measure one figure only: "tunnel"`)
	mib := flag.Int("tunnel-mib", 256, "MiB copied over SSH each way in the tunnel figure")
	rounds := flag.Int("tunnel-rounds", 3, "copies each way in the tunnel figure, taking turns")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch *only {
	case "":
		err = run(ctx, *build, *boots, *execs, *mib, *rounds)
	case "tunnel":
		err = runTunnel(ctx, *build, *mib, *rounds)
	default:
		err = fmt.Errorf("-only %q: want tunnel", *only)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// testImage builds (or reuses) the test OS image.
func testImage(ctx context.Context, build string) (*testimage.Manifest, error) {
	return testimage.Build(ctx, testimage.Options{
		CacheDir: filepath.Join(build, "cache", "debs"),
		OutDir:   filepath.Join(build, "testimage"),
	})
}

// runTunnel measures the tunnel figure alone.
func runTunnel(ctx context.Context, build string, mib, rounds int) error {
	m, err := testImage(ctx, build)
	if err != nil {
		return err
	}
	f, err := tunnelBench(ctx, build, m.Image, mib, rounds, 10)
	if err != nil {
		return fmt.Errorf("tunnel: %w", err)
	}
	fmt.Println()
	printTunnel(f, mib)
	return nil
}

func run(ctx context.Context, build string, boots, execs, mib, rounds int) error {
	m, err := testImage(ctx, build)
	if err != nil {
		return err
	}
	cli := filepath.Join(build, "bin", "leviathan")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", cli, "./cmd/leviathan").CombinedOutput(); err != nil {
		return fmt.Errorf("building the CLI: %v\n%s", err, out)
	}
	accel := "tcg"
	if qemukit.KVMWorks("qemu-system-x86_64") {
		accel = "kvm"
	}
	fmt.Printf("image %s (kernel %s), QEMU accel %s\n\n", m.Image, m.Kernel, accel)

	var raw, first, readyAt []time.Duration
	for i := 0; i < boots; i++ {
		d, err := rawBoot(ctx, build, m.Image, accel)
		if err != nil {
			return fmt.Errorf("raw QEMU boot: %w", err)
		}
		raw = append(raw, d)
		readyAt = append(readyAt, ready)
		d, err = runToFirstTest(ctx, cli, build)
		if err != nil {
			return fmt.Errorf("leviathan run: %w", err)
		}
		first = append(first, d)
		fmt.Printf("  boot %d: raw QEMU boot→SSH %.2fs (console said ready at %.2fs), leviathan run start→first test %.2fs\n",
			i+1, raw[i].Seconds(), readyAt[i].Seconds(), first[i].Seconds())
	}
	warm, fresh, err := execLatency(ctx, build, m.Image, execs)
	if err != nil {
		return fmt.Errorf("exec latency: %w", err)
	}
	tf, err := tunnelBench(ctx, build, m.Image, mib, rounds, 10)
	if err != nil {
		return fmt.Errorf("tunnel: %w", err)
	}

	rawM, firstM := median(raw), median(first)
	warmM, freshM := median(warm), median(fresh)
	readyM := median(readyAt)
	fmt.Println()
	fmt.Printf("%-44s %12s %28s %14s\n", "benchmark", "leviathan", "baseline", "result")
	fmt.Printf("%-44s %11.2fs %20s %6.2fs %+13.2fs (target ≤ +2 s)\n", "run: start → first test (median of "+strconv.Itoa(boots)+")",
		firstM.Seconds(), "raw QEMU boot→SSH", rawM.Seconds(), (firstM - rawM).Seconds())
	fmt.Printf("%-44s %11.2fs %20s %6.2fs %+13.2fs (lower bound: the console's ready line)\n", "", firstM.Seconds(), "raw QEMU → ready line", readyM.Seconds(), (firstM - readyM).Seconds())
	fmt.Printf("%-44s %10.1fms %20s %5.0fms %13.1f× (target ≥ 10×)\n", "exec: one command (median of "+strconv.Itoa(execs)+")",
		ms(warmM), "fresh ssh process", ms(freshM), float64(freshM)/float64(warmM))
	printTunnel(tf, mib)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// newKey makes a key pair and writes the private half for the ssh command.
func newKey(dir string) (ssh.Signer, string, string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", "", err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, "", "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, "", "", err
	}
	path := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, "", "", err
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), path, nil
}

// ready is when the last raw boot printed its "ssh ready" console line:
// a lower bound no SSH poll can beat.
var ready time.Duration

// rawBoot boots the image with a bare QEMU command line — the same
// machine and devices QemuKit uses, without QMP, pty or worker — and times
// QEMU start → a command answered over SSH.
func rawBoot(ctx context.Context, build, img, accel string) (d time.Duration, err error) {
	dir, err := os.MkdirTemp(build, "bench-raw-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	signer, pub, _, err := newKey(dir)
	if err != nil {
		return 0, err
	}
	disk := filepath.Join(dir, "disk.img")
	if err := writeDisk(ctx, img, disk, pub); err != nil {
		return 0, err
	}
	code, varsTmpl, err := qemukit.FindFirmware()
	if err != nil {
		return 0, err
	}
	vars, _ := os.ReadFile(varsTmpl)
	os.WriteFile(filepath.Join(dir, "vars.fd"), vars, 0o644)
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	ready = 0
	start := time.Now()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "q35,accel="+accel, "-m", "512",
		"-nodefaults", "-display", "none", "-device", "VGA",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
		"-drive", "if=pflash,format=raw,unit=1,file="+filepath.Join(dir, "vars.fd"),
		"-drive", "file="+disk+",format=raw,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0",
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22222", port), "-device", "virtio-net-pci,netdev=n0,romfile=",
		"-device", "virtio-rng-pci", "-serial", "file:"+filepath.Join(dir, "serial.log"))
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := start.Add(3 * time.Minute)
	serial := filepath.Join(dir, "serial.log")
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		if ready == 0 {
			if b, _ := os.ReadFile(serial); strings.Contains(string(b), testimage.ReadyLine) {
				ready = time.Since(start)
			}
		}
		// Short attempts that lengthen, as the worker's: slirp accepts the
		// connection before the guest's SSH server is there.
		if sshTrue(addr, signer, min(500*time.Millisecond+time.Duration(attempt)*100*time.Millisecond, 3*time.Second)) == nil {
			return time.Since(start), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("no SSH within 3 minutes")
}

func sshTrue(addr string, signer ssh.Signer, timeout time.Duration) error {
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: timeout}
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return err
	}
	conn.SetDeadline(time.Time{})
	c := ssh.NewClient(sc, chans, reqs)
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Run("true")
}

// writeDisk copies the image sparsely and provisions the key, as the worker
// does before a boot.
func writeDisk(ctx context.Context, img, disk, pub string) error {
	in, err := os.Open(img)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(disk)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := image.Write(ctx, zeroed{out}, in, nil); err != nil {
		return err
	}
	if err := provision.ConfigJSON("bench", pub)(ctx, out); err != nil {
		return err
	}
	return out.Truncate(2 << 30)
}

type zeroed struct{ *os.File }

func (zeroed) Zeroed() bool { return true }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// runToFirstTest starts `leviathan run` and times start → its first test
// starting, then stops it (the DUT is torn down by the run itself).
func runToFirstTest(ctx context.Context, cli, build string) (time.Duration, error) {
	reports, err := os.MkdirTemp(build, "bench-reports-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(reports)
	cmd := exec.CommandContext(ctx, cli, "run", "--build-dir", build, "--reports", reports, "--run", "TestOSRelease$")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var first time.Duration
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if first == 0 && strings.Contains(sc.Text(), "▶") {
			first = time.Since(start)
		}
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("%v\n%s", err, strings.Join(lines, "\n"))
	}
	if first == 0 {
		return 0, fmt.Errorf("no test started:\n%s", strings.Join(lines, "\n"))
	}
	return first, nil
}

// bootDUT starts a QEMU DUT behind an in-process worker in dir, leases it,
// flashes img, boots it and returns a client holding the lease, the DUT's
// address, the path of a private key the DUT trusts, and a function that
// tears it all down.
func bootDUT(ctx context.Context, dir, img string) (c *client.Client, addr dut.Address, keyPath string, stop func(), err error) {
	signer, _, keyPath, err := newKey(dir)
	if err != nil {
		return nil, addr, "", nil, err
	}
	l, err := localrun.StartLocal(ctx, localrun.LocalConfig{ParentDir: dir, Signer: signer})
	if err != nil {
		return nil, addr, "", nil, err
	}
	stop = func() {
		if c != nil {
			c.Teardown(context.WithoutCancel(ctx))
		}
		l.Close()
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if c, err = client.New(l.URL); err != nil {
		return nil, addr, "", nil, err
	}
	lease, err := c.Lease(ctx, "bench", time.Minute)
	if err != nil {
		return nil, addr, "", nil, err
	}
	// Long measurements outlive the lease's TTL.
	kctx, stopKeepAlive := context.WithCancel(ctx)
	c.KeepAlive(kctx, lease, 10*time.Second)
	teardown := stop
	stop = func() { stopKeepAlive(); teardown() }
	f, err := os.Open(img)
	if err != nil {
		return nil, addr, "", nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, addr, "", nil, err
	}
	if _, err = c.Flash(ctx, f, fi.Size(), "", nil); err != nil {
		return nil, addr, "", nil, err
	}
	if err = c.PowerOn(ctx); err != nil {
		return nil, addr, "", nil, err
	}
	if _, err = c.WaitOnline(ctx, 3*time.Minute); err != nil {
		return nil, addr, "", nil, err
	}
	if addr, err = c.Address(ctx); err != nil {
		return nil, addr, "", nil, err
	}
	return c, addr, keyPath, stop, nil
}

// execLatency boots one DUT behind an in-process worker and times `true`
// through the worker API and through a fresh ssh process.
func execLatency(ctx context.Context, build, img string, n int) (warm, fresh []time.Duration, err error) {
	if _, err := exec.LookPath("ssh"); err != nil {
		return nil, nil, fmt.Errorf("the ssh baseline needs OpenSSH's client: apt-get install openssh-client")
	}
	dir, err := os.MkdirTemp(build, "bench-exec-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	c, addr, keyPath, stop, err := bootDUT(ctx, dir, img)
	if err != nil {
		return nil, nil, err
	}
	defer stop()
	host, port, _ := net.SplitHostPort(addr.SSH)
	// Warm up both paths once.
	c.Exec(ctx, "true", io.Discard, io.Discard)
	for i := 0; i < n; i++ {
		t := time.Now()
		code, err := c.Exec(ctx, "true", io.Discard, io.Discard)
		if err != nil || code != 0 {
			return nil, nil, fmt.Errorf("worker exec: exit %d, %v", code, err)
		}
		warm = append(warm, time.Since(t))
	}
	for i := 0; i < max(n/3, 5); i++ {
		t := time.Now()
		cmd := exec.CommandContext(ctx, "ssh", "-i", keyPath, "-p", port, "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@"+host, "true")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("ssh: %v\n%s", err, out)
		}
		fresh = append(fresh, time.Since(t))
	}
	return warm, fresh, nil
}
