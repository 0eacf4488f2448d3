package replay_test

import (
	"crypto/ed25519"
	"errors"
	mathrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/autokit/session/replay"
)

// sshServer serves SSH with public keys only, its randomness its own (as
// a DUT's is), so that the client's fixed randomness does not reach it.
func sshServer(t *testing.T) string {
	t.Helper()
	var seed [32]byte
	now := time.Now().UnixNano()
	for i := range 8 {
		seed[i] = byte(now >> (8 * i))
	}
	rnd := mathrand.NewChaCha8(seed)
	_, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		Config: ssh.Config{Rand: rnd, KeyExchanges: []string{"curve25519-sha256"}},
		PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) {
			return nil, errors.New("no key is authorized")
		},
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ssh.NewServerConn(c, cfg)
			}()
		}
	}()
	return ln.Addr().String()
}

// recordTunnel connects to addr through a proxy that records the traffic
// as a worker's tunnel does, runs session over it, and returns the chunks.
func recordTunnel(t *testing.T, addr string, run func(net.Conn)) []session.Chunk {
	t.Helper()
	client, proxy := net.Pipe()
	dut, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var chunks []session.Chunk
	var wg sync.WaitGroup
	copyRec := func(dst, src net.Conn, fromDUT bool) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				mu.Lock()
				chunks = append(chunks, session.Chunk{FromDUT: fromDUT, Data: append([]byte(nil), buf[:n]...)})
				mu.Unlock()
				dst.Write(buf[:n])
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	wg.Add(2)
	go copyRec(dut, proxy, false)
	go copyRec(proxy, dut, true)
	run(client)
	client.Close()
	wg.Wait()
	return chunks
}

// passwordLogin tries a password login over conn, as suites/os's
// TestSSHKeyOnlyAuth does, and returns the error.
func passwordLogin(conn net.Conn) error {
	cfg := &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.Password("leviathan")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}
	c, _, _, err := ssh.NewClientConn(conn, "dut", cfg)
	if err == nil {
		c.Close()
		return errors.New("logged in")
	}
	return err
}

// TestSSHReplaysWithFixedRandomness: an SSH login over a tunnel, recorded
// with the client's randomness fixed (cryptotest.SetGlobalRandom), replays
// byte for byte with the same seed; with another seed the client's bytes
// differ at once and the replay notes it.
func TestSSHReplaysWithFixedRandomness(t *testing.T) {
	addr := sshServer(t)
	cryptotest.SetGlobalRandom(t, 1)
	var recorded error
	chunks := recordTunnel(t, addr, func(c net.Conn) { recorded = passwordLogin(c) })
	if recorded == nil || !strings.Contains(recorded.Error(), "unable to authenticate") {
		t.Fatalf("the recorded login failed with %v, want an authentication failure", recorded)
	}
	tun := session.Event{T: session.Duration(time.Second), Kind: session.KindCall, Call: &session.Call{Seq: 1,
		Method: "GET", Path: api.PathTunnel, Query: "port=22222", Status: 101, Stream: chunks}}

	for _, tc := range []struct {
		name    string
		seed    uint64
		diverge bool
	}{
		{"same seed", 1, false},
		{"another seed", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, tc.seed)
			h, c := serve(t, rec(tun), replay.WithStreamTimeout(2*time.Second))
			conn, err := c.Dial(ctxT(t), 22222)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			err = passwordLogin(conn)
			divs := waitNotes(h, tc.diverge)
			if !tc.diverge {
				if err == nil || err.Error() != recorded.Error() {
					t.Errorf("replayed login: %v; recorded: %v", err, recorded)
				}
				if len(divs) > 0 {
					t.Errorf("diverged: %v", divs)
				}
				return
			}
			if len(divs) == 0 || !strings.Contains(divs[0].Message, "tunnel to port 22222") || !strings.Contains(divs[0].Message, "the caller sent different bytes at byte") {
				t.Errorf("divergences %v, want the tunnel's bytes named", divs)
			}
			if err == nil {
				t.Error("the login with other randomness did not fail")
			}
		})
	}
}
