package sshexec_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/sshexec"
)

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRun(t *testing.T) {
	signer := newSigner(t)
	srv := duttest.StartSSHServer(t, signer.PublicKey())
	c, err := sshexec.Dial(ctxT(t, 10*time.Second), srv.Addr(), signer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	for _, tc := range []struct {
		name       string
		cmd        string
		stdin      string
		wantCode   int
		wantOut    string
		wantErrOut string
	}{
		{name: "true", cmd: "true"},
		{name: "stdout", cmd: "echo hello", wantOut: "hello\n"},
		{name: "stderr and exit code", cmd: "echo oops >&2; exit 3", wantCode: 3, wantErrOut: "oops\n"},
		{name: "stdin", cmd: "tr a-z A-Z", stdin: "shout", wantOut: "SHOUT"},
		{name: "no stdin is empty", cmd: "cat; echo end", wantOut: "end\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			var in io.Reader
			if tc.stdin != "" {
				in = strings.NewReader(tc.stdin)
			}
			code, err := c.Run(ctxT(t, 10*time.Second), tc.cmd, in, &stdout, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || stdout.String() != tc.wantOut || stderr.String() != tc.wantErrOut {
				t.Fatalf("Run(%q) = %d, stdout %q, stderr %q; want %d, %q, %q",
					tc.cmd, code, stdout.String(), stderr.String(), tc.wantCode, tc.wantOut, tc.wantErrOut)
			}
		})
	}
	if n := srv.Accepted(); n != 1 {
		t.Errorf("the server accepted %d connections; want 1 (one warm connection)", n)
	}
}

func TestRunSignal(t *testing.T) {
	signer := newSigner(t)
	srv := duttest.StartSSHServer(t)
	c, err := sshexec.Dial(ctxT(t, 10*time.Second), srv.Addr(), signer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Run(ctxT(t, 10*time.Second), "kill -KILL $$", nil, nil, nil)
	var se *sshexec.SignalError
	if !errors.As(err, &se) || se.Signal != "KILL" {
		t.Fatalf("err = %v; want a SignalError for KILL", err)
	}
	if !strings.Contains(err.Error(), "killed by signal KILL") {
		t.Errorf("error %q does not say it was a signal", err)
	}
}

func TestRunContext(t *testing.T) {
	signer := newSigner(t)
	srv := duttest.StartSSHServer(t)
	c, err := sshexec.Dial(ctxT(t, 10*time.Second), srv.Addr(), signer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Run(ctxT(t, 200*time.Millisecond), "echo started; sleep 30", nil, nil, nil)
	var re *sshexec.RunError
	if !errors.As(err, &re) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want a RunError wrapping the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run returned after %v", d)
	}
	// The connection survives a cancelled command.
	if code, err := c.Run(ctxT(t, 10*time.Second), "true", nil, nil, nil); err != nil || code != 0 {
		t.Fatalf("after cancel: %d, %v", code, err)
	}
}

func TestDialErrors(t *testing.T) {
	signer := newSigner(t)
	srv := duttest.StartSSHServer(t, newSigner(t).PublicKey()) // another key
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	// A listener that never speaks SSH.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()

	for _, tc := range []struct {
		name, addr string
		timeout    time.Duration
		want       string
	}{
		{"refused", dead, 5 * time.Second, "refused"},
		{"wrong key", srv.Addr(), 5 * time.Second, "unable to authenticate"},
		{"silent server", mute.Addr().String(), 300 * time.Millisecond, "deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := sshexec.Dial(ctxT(t, tc.timeout), tc.addr, signer)
			var de *sshexec.DialError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want a DialError saying %q", err, tc.want)
			}
			if d := time.Since(start); d > tc.timeout+2*time.Second {
				t.Fatalf("Dial took %v", d)
			}
		})
	}
}

func TestPoolRedials(t *testing.T) {
	signer := newSigner(t)
	srv := duttest.StartSSHServer(t, signer.PublicKey())
	p := sshexec.NewPool(signer)
	defer p.Close()
	run := func() {
		t.Helper()
		var out bytes.Buffer
		code, err := p.Run(ctxT(t, 10*time.Second), srv.Addr(), "echo hi", nil, &out, nil)
		if err != nil || code != 0 || out.String() != "hi\n" {
			t.Fatalf("Run = %d, %q, %v", code, out.String(), err)
		}
	}
	run()
	run()
	if n := srv.Accepted(); n != 1 {
		t.Fatalf("accepted %d connections; want 1", n)
	}
	srv.DropConnections() // the DUT rebooted
	run()
	if n := srv.Accepted(); n != 2 {
		t.Fatalf("accepted %d connections after a drop; want 2", n)
	}
	p.Reset()
	run()
	if n := srv.Accepted(); n != 3 {
		t.Fatalf("accepted %d connections after Reset; want 3", n)
	}
	p.Close()
	if _, err := p.Get(ctxT(t, time.Second), srv.Addr()); !errors.Is(err, sshexec.ErrClosed) {
		t.Fatalf("Get after Close = %v; want ErrClosed", err)
	}
}

func TestPoolPingsIdle(t *testing.T) {
	signer := newSigner(t)
	srv := duttest.StartSSHServer(t)
	p := sshexec.NewPool(signer, sshexec.WithIdlePing(0, time.Second))
	defer p.Close()
	c1, err := p.Get(ctxT(t, 5*time.Second), srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := p.Get(ctxT(t, 5*time.Second), srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Fatal("a live connection that answers keepalives was replaced")
	}
}
