package worker_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/worker"
)

// lockedBuffer is a bytes.Buffer safe to read while it is written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	for _, tc := range []struct {
		name       string
		req        api.ExecRequest
		wantCode   int
		wantOut    string
		wantErrOut string
	}{
		{name: "stdout", req: api.ExecRequest{Command: "echo hello"}, wantOut: "hello\n"},
		{name: "stderr and exit code", req: api.ExecRequest{Command: "echo out; echo err >&2; exit 7"}, wantCode: 7, wantOut: "out\n", wantErrOut: "err\n"},
		{name: "stdin", req: api.ExecRequest{Command: "wc -c", Stdin: "12345"}, wantOut: "5\n"},
		{name: "binary output", req: api.ExecRequest{Command: `printf '\000\377\n'`}, wantOut: "\x00\xff\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code, err := c.ExecWith(ctxT(t, 10*time.Second), tc.req, &stdout, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || strings.TrimLeft(stdout.String(), " ") != tc.wantOut || stderr.String() != tc.wantErrOut {
				t.Fatalf("exec %q = %d, %q, %q; want %d, %q, %q", tc.req.Command, code, stdout.String(), stderr.String(), tc.wantCode, tc.wantOut, tc.wantErrOut)
			}
		})
	}
	if n := e.ssh.Accepted(); n != 1 {
		t.Errorf("the DUT saw %d SSH connections; want 1 warm one", n)
	}
}

func TestExecStreams(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	ctx := ctxT(t, 10*time.Second)
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, "echo first; while [ ! -e go ]; do sleep 0.01; done; echo second", &out, nil)
		done <- err
	}()
	// The first line arrives while the command is still running.
	eventually(t, "the first line", func() bool { return out.String() == "first\n" })
	if _, err := e.client(t, client.WithLease(c.LeaseID())).Exec(ctx, "touch go", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out.String() != "first\nsecond\n" {
		t.Fatalf("output %q", out.String())
	}
}

func TestExecHelpers(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	ctx := ctxT(t, 10*time.Second)
	o, se, err := c.ExecOutput(ctx, "echo a; echo b >&2")
	if err != nil || o != "a\n" || se != "b\n" {
		t.Fatalf("ExecOutput = %q, %q, %v", o, se, err)
	}
	comb, err := c.ExecCombined(ctx, "echo a; echo b >&2; exit 2")
	var xe *client.ExitError
	if !errors.As(err, &xe) || xe.ExitCode != 2 || !strings.Contains(comb, "a\n") || !strings.Contains(comb, "b\n") {
		t.Fatalf("ExecCombined = %q, %v; want the output and an ExitError with status 2", comb, err)
	}
}

func TestExecFailures(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t)
		c := e.leased(t)
		start := time.Now()
		_, err := c.ExecWith(ctxT(t, 10*time.Second), api.ExecRequest{Command: "sleep 30", TimeoutSeconds: 0.2}, nil, nil)
		var ee *client.ExecError
		if !errors.As(err, &ee) || !strings.Contains(ee.Message, "timed out") {
			t.Fatalf("err = %v; want an ExecError saying it timed out", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("a 0.2 s timeout took %v", d)
		}
	})
	t.Run("signal", func(t *testing.T) {
		e := newEnv(t)
		c := e.leased(t)
		_, err := c.Exec(ctxT(t, 10*time.Second), "kill -KILL $$", nil, nil)
		var ee *client.ExecError
		if !errors.As(err, &ee) || !strings.Contains(ee.Message, "killed by signal KILL") {
			t.Fatalf("err = %v; want an ExecError naming the signal", err)
		}
	})
	t.Run("DUT unreachable", func(t *testing.T) {
		e := newEnv(t)
		c := e.leased(t)
		e.d.SetSSH(deadAddr(t))
		_, err := c.Exec(ctxT(t, 10*time.Second), "true", nil, nil)
		wantStatus(t, err, http.StatusBadGateway, "cannot reach the DUT over SSH", "refused")
	})
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestWaitOnline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []worker.Option
		dead    bool   // SSH never answers
		print   string // console output after power-on
		timeout time.Duration
		status  int
		want    []string
	}{
		{name: "online", timeout: 10 * time.Second},
		{name: "kernel panic", dead: true, timeout: 30 * time.Second,
			print:  "booting\nmounting root\nKernel panic - not syncing: VFS: Unable to mount root fs\n",
			status: http.StatusBadGateway, want: []string{`printed "Kernel panic"`, "mounting root\nKernel panic - not syncing"}},
		{name: "custom fatal pattern", dead: true, timeout: 30 * time.Second, opts: []worker.Option{worker.WithFatalPatterns(`Failed to start .*`)},
			print:  "Failed to start Balena Engine\n",
			status: http.StatusBadGateway, want: []string{"Failed to start Balena Engine"}},
		{name: "timeout", dead: true, timeout: 700 * time.Millisecond, print: "still booting\n",
			status: http.StatusGatewayTimeout, want: []string{"did not answer over SSH", "refused", "still booting"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			if tc.dead {
				e.d.SetSSH(deadAddr(t))
			}
			if tc.print != "" {
				e.d.OnPowerOn(func() { e.d.Print(tc.print) })
			}
			c := e.leased(t)
			ctx := ctxT(t, 60*time.Second)
			if err := c.PowerOn(ctx); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			took, err := c.WaitOnline(ctx, tc.timeout)
			elapsed := time.Since(start)
			if tc.status == 0 {
				if err != nil || took <= 0 || took > elapsed {
					t.Fatalf("WaitOnline = %v, %v", took, err)
				}
				return
			}
			wantStatus(t, err, tc.status, tc.want...)
			if tc.status == http.StatusBadGateway && elapsed > 5*time.Second {
				t.Fatalf("a kernel panic was reported after %v; want at once", elapsed)
			}
			if tc.status == http.StatusGatewayTimeout && elapsed > tc.timeout+2*time.Second {
				t.Fatalf("a %v timeout took %v", tc.timeout, elapsed)
			}
		})
	}
}

func TestWaitOnlinePoweredOff(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	_, err := c.WaitOnline(ctxT(t, 5*time.Second), time.Second)
	wantStatus(t, err, http.StatusConflict, "powered off")
}

// A DUT that loses power while the worker waits for it (a crash, an OS
// that shut down) ends the wait at once, though its address still
// accepts connections that never answer.
func TestWaitOnlineLostPower(t *testing.T) {
	e := newEnv(t)
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	e.d.SetSSH(mute.Addr().String())
	c := e.leased(t)
	ctx := ctxT(t, 60*time.Second)
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { e.d.Off(ctx) })
	start := time.Now()
	_, err = c.WaitOnline(ctx, 30*time.Second)
	wantStatus(t, err, http.StatusBadGateway, "powered off while waiting")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the power loss was reported after %v; want within a poll or two", d)
	}
}
