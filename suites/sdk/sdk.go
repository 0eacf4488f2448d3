package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
)

// Environment variables read by Open: autokit/api's names, repeated here
// for suites, which import this package only.
const (
	EnvWorkerURL = api.EnvWorkerURL
	EnvToken     = api.EnvWorkerToken
	EnvLease     = api.EnvLease
)

// Default timeouts; a suite may change them in TestMain.
var (
	CommandTimeout = 2 * time.Minute
	BootTimeout    = 3 * time.Minute
)

// DUT is a test's handle on the device under test.
type DUT struct {
	Client   *client.Client
	Contract api.Contract
}

var (
	shared    *DUT
	sharedErr error
	once      sync.Once
)

// Get returns the DUT of this run, connecting on first use. It skips the
// test when no worker is configured and fails it when the worker does not
// answer.
func Get(t testing.TB) *DUT {
	t.Helper()
	once.Do(func() { shared, sharedErr = Open(context.Background()) })
	if errors.Is(sharedErr, errNoWorker) {
		t.Skipf("sdk: %v", sharedErr)
	}
	if sharedErr != nil {
		t.Fatalf("sdk: %v", sharedErr)
	}
	return shared
}

var errNoWorker = errors.New(EnvWorkerURL + " is not set; run suites with `leviathan run` or the testrunner")

// Open connects to the worker named by the environment.
func Open(ctx context.Context) (*DUT, error) {
	url := os.Getenv(EnvWorkerURL)
	if url == "" {
		return nil, errNoWorker
	}
	opts := []client.Option{client.WithLease(os.Getenv(EnvLease))}
	if tok := os.Getenv(EnvToken); tok != "" {
		opts = append(opts, client.WithToken(tok))
	}
	c, err := client.New(url, opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	contract, err := c.Contract(ctx)
	if err != nil {
		return nil, err
	}
	return &DUT{Client: c, Contract: contract}, nil
}

// Has reports whether the DUT offers capability c.
func (d *DUT) Has(c dut.Capability) bool {
	return slices.Contains(d.Contract.Capabilities, c)
}

// Require skips the test, with the reason, unless the DUT has every
// capability in caps.
func (d *DUT) Require(t testing.TB, caps ...dut.Capability) {
	t.Helper()
	for _, c := range caps {
		if !d.Has(c) {
			t.Skipf("sdk: DUT %s has no %s capability (it offers %v)", d.Contract.Name, c, d.Contract.Capabilities)
		}
	}
}

// Dial connects to TCP port on the DUT, as a client on the bench would,
// through a tunnel of the worker (client.Dial): the DUT end opens on its
// own 127.0.0.1:port, so the same test works in the testrunner container,
// behind QEMU's user networking and on a board's DUT network. Any failure
// (nothing listening, the DUT down) fails the test with the worker's
// reason; the connection is closed when the test ends. For an HTTP client
// use &http.Transport{DialContext: d.Client.DialContext}.
func (d *DUT) Dial(t testing.TB, port int) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), CommandTimeout)
	defer cancel()
	c, err := d.Client.Dial(ctx, port)
	if err != nil {
		t.Fatalf("sdk: connecting to port %d of the DUT: %v", port, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Listen opens a port on the DUT's own loopback that the DUT can connect
// to and the test accepts from, through the worker (client.Listen): serve
// an update image or a configuration with http.Serve(l, …) and let the DUT
// fetch it from l.DUTAddress(). Only the DUT reaches it; it is closed when
// the test ends, the DUT powers off or the lease ends.
func (d *DUT) Listen(t testing.TB) *client.Listener {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), CommandTimeout)
	defer cancel()
	l, err := d.Client.Listen(ctx)
	if err != nil {
		t.Fatalf("sdk: opening a port on the DUT for the test: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Result is what a command printed and how it exited.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Exec runs cmd on the DUT and returns its output and exit code. A command
// that ran and exited non-zero is not an error.
func (d *DUT) Exec(ctx context.Context, cmd string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	code, err := d.Client.Exec(ctx, cmd, &out, &errOut)
	return Result{Stdout: out.String(), Stderr: errOut.String(), ExitCode: code}, err
}

// Run runs cmd and returns its standard output, trimmed. Any failure
// (transport or a non-zero exit) fails the test with the evidence.
func (d *DUT) Run(t testing.TB, cmd string) string {
	t.Helper()
	r, err := d.Exec(t.Context(), cmd)
	if err != nil {
		t.Fatalf("sdk: running %q on the DUT: %v", cmd, err)
	}
	if r.ExitCode != 0 {
		t.Fatalf("sdk: %q exited %d\nstdout: %s\nstderr: %s", cmd, r.ExitCode, r.Stdout, r.Stderr)
	}
	return strings.TrimSpace(r.Stdout)
}

// WaitOnline waits until the DUT answers commands, up to BootTimeout.
func (d *DUT) WaitOnline(t testing.TB) {
	t.Helper()
	if _, err := d.Client.WaitOnline(t.Context(), BootTimeout); err != nil {
		t.Fatalf("sdk: the DUT did not come online: %v", err)
	}
}

// BootID is the kernel's random boot id, new on every boot.
func (d *DUT) BootID(t testing.TB) string {
	t.Helper()
	return d.Run(t, "cat /proc/sys/kernel/random/boot_id")
}

// ReplayableRandom makes the test's cryptographic randomness (crypto/rand,
// and so SSH key exchanges and random tokens or payloads) a function of
// the DUT's current boot id: different on every boot, and the same when
// `leviathan replay` answers the test from its session's recording, which
// holds that boot id. A test that sends random bytes to the DUT calls it
// first, or its replay diverges (docs/replay.md). The test must not be
// parallel (testing/cryptotest.SetGlobalRandom).
func (d *DUT) ReplayableRandom(t *testing.T) {
	t.Helper()
	sum := sha256.Sum256([]byte(d.BootID(t)))
	cryptotest.SetGlobalRandom(t, binary.LittleEndian.Uint64(sum[:8]))
}

// Reboot reboots the DUT from its own shell and waits until it is back
// with a new boot id.
func (d *DUT) Reboot(t testing.TB) {
	t.Helper()
	before := d.BootID(t)
	// Detach so the SSH session ends cleanly before the reboot.
	d.Run(t, "(sleep 1; reboot) >/dev/null 2>&1 </dev/null &")
	d.waitNewBoot(t, before)
}

// PowerCycle cuts the DUT's power, restores it and waits until it is
// back with a new boot id.
func (d *DUT) PowerCycle(t testing.TB) {
	t.Helper()
	d.Require(t, dut.CapPower)
	before := d.BootID(t)
	ctx := t.Context()
	if err := d.Client.PowerOff(ctx); err != nil {
		t.Fatalf("sdk: power off: %v", err)
	}
	if err := d.Client.PowerOn(ctx); err != nil {
		t.Fatalf("sdk: power on: %v", err)
	}
	d.waitNewBoot(t, before)
}

// WaitReboot waits for a reboot that something else started (a key
// press, a watchdog) given the boot id from before it.
func (d *DUT) WaitReboot(t testing.TB, before string) {
	t.Helper()
	d.waitNewBoot(t, before)
}

func (d *DUT) waitNewBoot(t testing.TB, before string) {
	t.Helper()
	deadline := time.Now().Add(BootTimeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Until(deadline))
		_, err := d.Client.WaitOnline(ctx, time.Until(deadline))
		cancel()
		if err == nil {
			r, err := d.Exec(t.Context(), "cat /proc/sys/kernel/random/boot_id")
			if err == nil && r.ExitCode == 0 && strings.TrimSpace(r.Stdout) != before {
				return
			}
			if err == nil {
				err = fmt.Errorf("still the same boot (%s)", before)
			}
			last = err
		} else {
			last = err
			if fatal(err) {
				t.Fatalf("sdk: the DUT did not come back: %v", err)
			}
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("sdk: %v", t.Context().Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("sdk: the DUT did not come back with a new boot within %s (last error: %v); last console lines:\n%s", BootTimeout, last, d.SerialTail(t, 20))
}

// fatal reports whether a worker error will not clear by waiting: a boot
// failure on the console (502), a DUT that is off (409), a lost lease
// (423), a refused token (401).
func fatal(err error) bool {
	var e *client.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusBadGateway, http.StatusConflict, http.StatusLocked, http.StatusUnauthorized:
		return true
	}
	return false
}

// SerialMark is the current end of the console log; pass it to Expect to
// match only what comes after.
func (d *DUT) SerialMark(t testing.TB) int64 {
	t.Helper()
	_, end, err := d.Client.SerialLog(t.Context(), 1<<62)
	if err != nil {
		t.Fatalf("sdk: reading the console: %v", err)
	}
	return end
}

// SerialLog is the whole console log.
func (d *DUT) SerialLog(t testing.TB) string {
	t.Helper()
	d.Require(t, dut.CapConsole)
	b, _, err := d.Client.SerialLog(t.Context(), 0)
	if err != nil {
		t.Fatalf("sdk: reading the console: %v", err)
	}
	return string(b)
}

// SerialTail is the last n lines of the console log ("" when unreadable).
func (d *DUT) SerialTail(t testing.TB, n int) string {
	b, _, err := d.Client.SerialLog(context.Background(), 0)
	if err != nil {
		return fmt.Sprintf("(console unreadable: %v)", err)
	}
	return dut.TailLines(b, n)
}

// Expect waits up to timeout for the console to print something matching
// pattern after offset from, and returns the match.
func (d *DUT) Expect(t testing.TB, from int64, pattern string, timeout time.Duration) string {
	t.Helper()
	d.Require(t, dut.CapConsole)
	if _, err := regexp.Compile(pattern); err != nil {
		t.Fatalf("sdk: bad pattern: %v", err)
	}
	r, err := d.Client.Expect(t.Context(), pattern, from, timeout)
	if err != nil {
		t.Fatalf("sdk: %v", err)
	}
	return r.Match
}

// SerialWrite types s on the console.
func (d *DUT) SerialWrite(t testing.TB, s string) {
	t.Helper()
	d.Require(t, dut.CapConsole)
	if err := d.Client.SerialWrite(t.Context(), []byte(s)); err != nil {
		t.Fatalf("sdk: writing to the console: %v", err)
	}
}

// Address is how to reach the DUT.
func (d *DUT) Address(t testing.TB) dut.Address {
	t.Helper()
	d.Require(t, dut.CapNetwork)
	a, err := d.Client.Address(t.Context())
	if err != nil {
		t.Fatalf("sdk: DUT address: %v", err)
	}
	return a
}
