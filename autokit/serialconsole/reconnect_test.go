package serialconsole

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/dut"
)

func expect(t *testing.T, c *dut.Capture, pattern string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, _, err := c.Expect(ctx, 0, regexp.MustCompile(pattern)); err != nil {
		t.Fatal(err)
	}
}

func connect(t *testing.T, cfg Config, c *dut.Capture) *Port {
	t.Helper()
	p, err := Connect(cfg, c, WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestExec runs commands through the real driver against a shell on the
// other end of a pty.
func TestExec(t *testing.T) {
	d := newFakeDUT(t)
	var c dut.Capture
	p := connect(t, Config{Device: d.link}, &c)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		cmd  string
		out  string
		code int
	}{
		{"echo hello", "hello", 0},
		{"echo one; echo two >&2; (exit 3)", "one\ntwo", 3},
		{"printf 'no newline'", "no newline", 0},
		{"true", "", 0},
		{"echo \"it's\" 'quoted' # comment", "it's quoted", 0},
		{"sleep 0.1 &", "", 0},
		{"ls /does-not-exist", "", 2},
	} {
		out, code, err := p.Exec(ctx, tc.cmd)
		if err != nil {
			t.Fatalf("Exec(%q): %v", tc.cmd, err)
		}
		if tc.cmd == "ls /does-not-exist" {
			out = "" // the message is the host's ls's
		}
		if out != tc.out || code != tc.code {
			t.Errorf("Exec(%q) = %q, %d; want %q, %d", tc.cmd, out, code, tc.out, tc.code)
		}
	}
	if _, _, err := p.Exec(ctx, "echo a\necho b"); err == nil || !strings.Contains(err.Error(), "one line") {
		t.Errorf("Exec with a newline = %v", err)
	}
}

// TestExecTimeout: a command that never returns ends with an ExecError
// carrying the console's last lines, and Ctrl-C gives the shell back.
func TestExecTimeout(t *testing.T) {
	d := newFakeDUT(t)
	var c dut.Capture
	p := connect(t, Config{Device: d.link}, &c)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, _, err := p.Exec(ctx, "sleep 30")
	var ee *ExecError
	if !errors.As(err, &ee) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(ee.Tail, "sleep 30") {
		t.Fatalf("Exec = %v, want an ExecError with the deadline and the typed line", err)
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel2()
	if out, code, err := p.Exec(ctx2, "echo back"); err != nil || out != "back" || code != 0 {
		t.Fatalf("Exec after Ctrl-C = %q, %d, %v", out, code, err)
	}
}

// TestReconnect unplugs the adapter mid-run: the driver must notice, wait
// for the device link to come back, reopen it and keep one capture and one
// log file across both connections.
func TestReconnect(t *testing.T) {
	d := newFakeDUT(t)
	logPath := filepath.Join(t.TempDir(), "serial.log")
	var c dut.Capture
	p := connect(t, Config{Device: d.link, Baud: 115200, Log: logPath}, &c)

	d.Say("U-Boot 2024.01\r\nStarting kernel ...")
	expect(t, &c, `Starting kernel \.\.\.`)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if out, _, err := p.Exec(ctx, "echo before"); err != nil || out != "before" {
		t.Fatalf("Exec before unplugging = %q, %v", out, err)
	}

	d.Unplug()
	expect(t, &c, `\[serial lost: .*\]`)
	if _, err := p.Write([]byte("x")); err == nil {
		t.Error("Write succeeded while the adapter was unplugged")
	}
	time.Sleep(150 * time.Millisecond) // a few backoff rounds without the device
	d.Plug()
	expect(t, &c, `\[serial reconnected\]`)
	d.Say("after replug\r\n")
	expect(t, &c, `after replug`)
	if out, code, err := p.Exec(ctx, "echo $((6*7))"); err != nil || out != "42" || code != 0 {
		t.Fatalf("Exec after replugging = %q, %d, %v", out, code, err)
	}
	if n := p.Reconnects(); n != 1 {
		t.Errorf("Reconnects = %d, want 1", n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err after Close = %v", err)
	}

	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) `)
	var order []string
	for _, l := range lines(string(b)) {
		if !stamp.MatchString(l) {
			t.Errorf("log line without a timestamp: %q", l)
		}
		for _, w := range []string{"U-Boot 2024.01", "Starting kernel", "[serial lost", "[serial reconnected]", "after replug", "42"} {
			if strings.HasSuffix(l, w) || strings.Contains(l, " "+w) {
				order = append(order, w)
			}
		}
	}
	want := "U-Boot 2024.01|Starting kernel|[serial lost|[serial reconnected]|after replug|42"
	if got := strings.Join(dedupe(order), "|"); got != want {
		t.Errorf("log has %s, want %s in that order; log:\n%s", got, want, b)
	}
	if !strings.Contains(string(c.Since(0)), "after replug") || !strings.Contains(string(c.Since(0)), "U-Boot") {
		t.Error("the capture lost output across the reconnect")
	}

	// A second connection appends to the same log.
	d2 := newFakeDUT(t)
	var c2 dut.Capture
	p2 := connect(t, Config{Device: d2.link, Log: logPath}, &c2)
	d2.Say("second run\r\n")
	expect(t, &c2, "second run")
	p2.Close()
	b2, _ := os.ReadFile(logPath)
	if !strings.HasPrefix(string(b2), string(b)) || !strings.Contains(string(b2[len(b):]), "second run") {
		t.Errorf("the log was not appended to:\n%s", b2)
	}
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// TestReconnectGivesUp: with SERIAL_RECONNECT_TIMEOUT the reader stops with
// an error naming the device when it does not come back.
func TestReconnectGivesUp(t *testing.T) {
	d := newFakeDUT(t)
	var c dut.Capture
	p := connect(t, Config{Device: d.link, ReconnectTimeout: 200 * time.Millisecond}, &c)
	d.Unplug()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the reader still waits after the reconnect timeout")
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), d.link+" did not come back within 200ms") {
		t.Fatalf("Err = %v", err)
	}
	expect(t, &c, `\[serial gave up: `)
}

// TestCloseWhileReconnecting: Close stops the wait for the device at once.
func TestCloseWhileReconnecting(t *testing.T) {
	d := newFakeDUT(t)
	var c dut.Capture
	p, err := Connect(Config{Device: d.link}, &c, WithBackoff(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	d.Unplug()
	expect(t, &c, `\[serial lost`)
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Close took %v while reconnecting", el)
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err after Close = %v", err)
	}
}

// TestParity checks the line settings reach the tty: the pty slave's
// termios must show the configured parity and speed. Linux's pty driver
// clears PARENB (a pty has no parity bit to generate), so what is checked
// is the rest of the parity setting: PARODD and CMSPAR.
func TestParity(t *testing.T) {
	for _, tc := range []struct {
		parity     string
		set, unset uint32
	}{
		{"none", 0, unix.PARODD | unix.CMSPAR},
		{"even", 0, unix.PARODD | unix.CMSPAR},
		{"odd", unix.PARODD, unix.CMSPAR},
		{"mark", unix.PARODD | unix.CMSPAR, 0},
		{"space", unix.CMSPAR, unix.PARODD},
	} {
		t.Run(tc.parity, func(t *testing.T) {
			d := newFakeDUT(t)
			var c dut.Capture
			connect(t, Config{Device: d.link, Baud: 9600, Parity: tc.parity}, &c)
			tio, err := unix.IoctlGetTermios(int(d.slaveFD().Fd()), unix.TCGETS)
			if err != nil {
				t.Skipf("reading the pty's termios: %v", err)
			}
			if tio.Cflag&tc.set != tc.set || tio.Cflag&tc.unset != 0 {
				t.Errorf("cflag %#o: want %#o set and %#o clear", tio.Cflag, tc.set, tc.unset)
			}
			if tio.Cflag&unix.CBAUD != unix.B9600 {
				t.Errorf("speed bits %#o, want B9600 (%#o)", tio.Cflag&unix.CBAUD, unix.B9600)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := LoadConfig(env("SERIAL", "/dev/serial/by-id/x", "SERIAL_PARITY", "Even", "SERIAL_RECONNECT_TIMEOUT", "1m"))
	if err != nil || c.Device != "/dev/serial/by-id/x" || c.Baud != 115200 || c.Parity != "Even" || c.ReconnectTimeout != time.Minute {
		t.Fatalf("LoadConfig = %+v, %v", c, err)
	}
	for _, tc := range []struct {
		env  func(string) string
		want string
	}{
		{env(), "SERIAL is not set"},
		{env("SERIAL", "/dev/x", "SERIAL_PARITY", "high"), `SERIAL_PARITY="high" is not one of: none, odd, even, mark, space`},
		{env("SERIAL", "/dev/x", "SERIAL_BAUD", "fast"), `SERIAL_BAUD="fast" is not an integer`},
		{env("SERIAL", "/dev/x", "SERIAL_BAUD", "-5"), `SERIAL_BAUD=-5`},
		{env("SERIAL", "/dev/x", "SERIAL_RECONNECT_TIMEOUT", "soon"), `SERIAL_RECONNECT_TIMEOUT="soon" is not a duration`},
	} {
		if _, err := LoadConfig(tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadConfig = %v, want %q", err, tc.want)
		}
	}
	if _, err := LoadConfig(env()); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("LoadConfig without SERIAL = %v, want ErrNotConfigured", err)
	}
}

func TestOpenEnvMissingDevice(t *testing.T) {
	var c dut.Capture
	_, err := OpenEnv(func(k string) string {
		if k == "SERIAL" {
			return "/dev/serial/by-id/usb-missing-if00-port0"
		}
		return ""
	}, &c)
	if err == nil || !strings.Contains(err.Error(), "SERIAL=/dev/serial/by-id/usb-missing-if00-port0") || !strings.Contains(err.Error(), "is the adapter plugged in?") {
		t.Fatalf("err = %v", err)
	}
}
