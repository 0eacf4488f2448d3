package sshexec_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/sshexec"
)

// lossyFront accepts every connection at once, as QEMU's user network or
// a NAT does in front of a booting DUT, but until it is opened it passes
// nothing on: a connection accepted before then stays silent for good,
// as one whose SYN the DUT never saw waits for a retransmission. Once
// open, new connections are relayed to target.
type lossyFront struct {
	ln       net.Listener
	open     atomic.Bool
	accepted atomic.Int32
	mu       sync.Mutex
	conns    []net.Conn
}

func startLossyFront(t *testing.T, target string) *lossyFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &lossyFront{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepted.Add(1)
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			if !f.open.Load() || target == "" {
				continue // lost: held open, silent
			}
			go func() {
				up, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				go func() { io.Copy(up, c); up.Close() }()
				io.Copy(c, up)
				c.Close()
			}()
		}
	}()
	return f
}

func (f *lossyFront) Addr() string { return f.ln.Addr().String() }

func TestDialRaceGetsPastALostConnection(t *testing.T) {
	signer := newSigner(t)
	srv := duttest.StartSSHServer(t, signer.PublicKey())
	front := startLossyFront(t, srv.Addr())
	opened := time.Now().Add(300 * time.Millisecond)
	time.AfterFunc(time.Until(opened), func() { front.open.Store(true) })

	// A banner wait of 20 s: one attempt at a time would sit on the first
	// lost connection for all of it; overlapping attempts connect within
	// a few intervals of the front opening (a wide margin, for a loaded
	// machine).
	c, err := sshexec.DialRace(ctxT(t, 30*time.Second), front.Addr(), signer, sshexec.Race{Every: 50 * time.Millisecond, BannerWait: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if late := time.Since(opened); late > 5*time.Second {
		t.Errorf("connected %v after the server became reachable; want within a few 50 ms intervals, far below the 20 s banner wait", late)
	}
	if code, err := c.Run(ctxT(t, 5*time.Second), "true", nil, nil, nil); err != nil || code != 0 {
		t.Fatalf("Run(true) on the raced connection = %d, %v", code, err)
	}
	if n := front.accepted.Load(); n < 2 {
		t.Errorf("the front accepted %d connections; want the lost one and later ones", n)
	}
	// A single Dial through the same front, closed again, would hang: the
	// reason for racing.
	front.open.Store(false)
	start := time.Now()
	if _, err := sshexec.Dial(ctxT(t, 400*time.Millisecond), front.Addr(), signer); err == nil {
		t.Fatal("Dial through a front that loses connections succeeded")
	}
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("Dial gave up after %v; the front should have held it until the deadline", d)
	}
}

func TestDialRaceErrors(t *testing.T) {
	signer := newSigner(t)
	other := duttest.StartSSHServer(t, newSigner(t).PublicKey()) // another key
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	silent := startLossyFront(t, "")
	// A server that speaks its banner and then stalls.
	stall, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	var stallAccepted atomic.Int32
	go func() {
		for {
			c, err := stall.Accept()
			if err != nil {
				return
			}
			stallAccepted.Add(1)
			io.WriteString(c, "SSH-2.0-stalling\r\n")
			t.Cleanup(func() { c.Close() })
		}
	}()

	for _, tc := range []struct {
		name, addr string
		want       []string
	}{
		{"refused", dead, []string{"refused", "still not connected"}},
		{"wrong key", other.Addr(), []string{"unable to authenticate"}},
		{"nothing ever answers", silent.Addr(), []string{"no SSH banner"}},
		{"banner then nothing", stall.Addr().String(), []string{"deadline exceeded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := sshexec.DialRace(ctxT(t, 1500*time.Millisecond), tc.addr, signer, sshexec.Race{Every: 50 * time.Millisecond, BannerWait: 200 * time.Millisecond})
			var de *sshexec.DialError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v; want a DialError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v; want it to say %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "cannot connect"); n != 1 {
				t.Errorf("err = %v; want one \"cannot connect\", not %d (an error wrapped in another)", err, n)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("DialRace took %v past a 1.5 s context", d)
			}
		})
	}
	// Once the server has spoken no more attempts start: a slow guest
	// would only be slowed further by more handshakes.
	if n := stallAccepted.Load(); n != 1 {
		t.Errorf("the stalling server got %d connections; want 1 (no new attempt after its banner)", n)
	}
	if n := silent.accepted.Load(); n < 10 {
		t.Errorf("the silent front got %d connections in 1.5 s at one per 50 ms; want the attempts to keep overlapping", n)
	}
}
