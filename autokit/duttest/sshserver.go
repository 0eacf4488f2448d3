package duttest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHServer is an in-process SSH server that runs each exec request with
// "sh -c" on the local machine. It accepts user root only, authenticated by
// one of its authorized keys (any key when none was given).
type SSHServer struct {
	ln     net.Listener
	cfg    *ssh.ServerConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	keys     []ssh.PublicKey
	conns    map[*ssh.ServerConn]struct{}
	accepted int
	commands []string
	dir      string
}

// StartSSHServer starts an SSHServer on 127.0.0.1 and stops it when the
// test ends. Commands run in a fresh temporary directory.
func StartSSHServer(tb testing.TB, authorized ...ssh.PublicKey) *SSHServer {
	tb.Helper()
	s, err := NewSSHServer("127.0.0.1:0", authorized...)
	if err != nil {
		tb.Fatal(err)
	}
	s.SetDir(tb.TempDir())
	tb.Cleanup(func() { s.Close() })
	return s
}

// NewSSHServer listens on addr and serves until Close. With no authorized
// keys, any public key is accepted.
func NewSSHServer(addr string, authorized ...ssh.PublicKey) (*SSHServer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("duttest: host key: %w", err)
	}
	hostKey, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("duttest: host key: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("duttest: ssh server: %w", err)
	}
	s := &SSHServer{ln: ln, keys: slices.Clone(authorized), conns: make(map[*ssh.ServerConn]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cfg = &ssh.ServerConfig{PublicKeyCallback: s.checkKey}
	s.cfg.AddHostKey(hostKey)
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *SSHServer) Addr() string { return s.ln.Addr().String() }

// SetDir sets the directory commands run in ("" is the process's).
func (s *SSHServer) SetDir(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dir = dir
}

// Authorize adds k to the authorized keys.
func (s *SSHServer) Authorize(k ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
}

// Accepted is how many SSH connections completed their handshake so far.
func (s *SSHServer) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Commands lists the commands run so far, in order.
func (s *SSHServer) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// DropConnections closes every live connection, as a DUT reboot would,
// while the server keeps accepting new ones.
func (s *SSHServer) DropConnections() {
	s.mu.Lock()
	conns := make([]*ssh.ServerConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Close stops the server, kills running commands and waits for them.
func (s *SSHServer) Close() error {
	s.cancel()
	err := s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (s *SSHServer) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if meta.User() != "root" {
		return nil, fmt.Errorf("duttest: user %q refused: only root may log in", meta.User())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) == 0 {
		return nil, nil
	}
	for _, k := range s.keys {
		if string(k.Marshal()) == string(key.Marshal()) {
			return nil, nil
		}
	}
	return nil, errors.New("duttest: key not authorized")
}

func (s *SSHServer) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(nc)
		}()
	}
}

func (s *SSHServer) handle(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		sc.Close()
		return
	}
	s.conns[sc] = struct{}{}
	s.accepted++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
		sc.Close()
	}()
	go s.globalRequests(sc, reqs)
	var wg sync.WaitGroup
	for nch := range chans {
		serve := s.session
		switch nch.ChannelType() {
		case "session":
		case "direct-tcpip":
			serve = s.directTCPIP
		default:
			nch.Reject(ssh.UnknownChannelType, "duttest: only session and direct-tcpip channels")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(nch)
		}()
	}
	wg.Wait()
}

// globalRequests serves remote port forwards (tcpip-forward) on the local
// machine's loopback, which plays the DUT's; keepalives and anything else
// get a negative answer.
func (s *SSHServer) globalRequests(sc *ssh.ServerConn, reqs <-chan *ssh.Request) {
	forwards := map[uint32]net.Listener{}
	defer func() {
		for _, ln := range forwards {
			ln.Close()
		}
	}()
	for req := range reqs {
		var p struct {
			Addr string
			Port uint32
		}
		switch req.Type {
		case "tcpip-forward":
			if ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(p.Port)))
			if err != nil {
				req.Reply(false, nil)
				continue
			}
			port := uint32(ln.Addr().(*net.TCPAddr).Port)
			forwards[port] = ln
			var reply []byte
			if p.Port == 0 {
				reply = ssh.Marshal(struct{ Port uint32 }{port})
			}
			req.Reply(true, reply)
			go s.forwardBack(sc, ln, p.Addr, port)
		case "cancel-tcpip-forward":
			if ssh.Unmarshal(req.Payload, &p) == nil && forwards[p.Port] != nil {
				forwards[p.Port].Close()
				delete(forwards, p.Port)
				req.Reply(true, nil)
				continue
			}
			req.Reply(false, nil)
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

// forwardBack opens a forwarded-tcpip channel for each connection to ln.
func (s *SSHServer) forwardBack(sc *ssh.ServerConn, ln net.Listener, addr string, port uint32) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			ra := c.RemoteAddr().(*net.TCPAddr)
			ch, reqs, err := sc.OpenChannel("forwarded-tcpip", ssh.Marshal(struct {
				Addr       string
				Port       uint32
				OriginAddr string
				OriginPort uint32
			}{addr, port, ra.IP.String(), uint32(ra.Port)}))
			if err != nil {
				return
			}
			defer ch.Close()
			go ssh.DiscardRequests(reqs)
			s.pipe(ch, c.(*net.TCPConn))
		}()
	}
}

// pipe copies between an SSH channel and a TCP connection both ways,
// passing half-closes on, until both directions end or the server stops.
func (s *SSHServer) pipe(ch ssh.Channel, c *net.TCPConn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(ch, c); ch.CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, ch); c.CloseWrite(); done <- struct{}{} }()
	for range 2 {
		select {
		case <-done:
		case <-s.ctx.Done():
			return
		}
	}
}

// directTCPIP serves a port forward: it connects to the requested address
// on the local machine, which plays the DUT.
func (s *SSHServer) directTCPIP(nch ssh.NewChannel) {
	var p struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.Prohibited, "duttest: bad direct-tcpip request")
		return
	}
	var d net.Dialer
	c, err := d.DialContext(s.ctx, "tcp", net.JoinHostPort(p.Host, fmt.Sprint(p.Port)))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	defer c.Close()
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	s.pipe(ch, c.(*net.TCPConn))
}

// session serves one session channel: one exec request, then exit status.
func (s *SSHServer) session(nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	done := make(chan struct{})
	started := false
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			started = true
			req.Reply(true, nil)
			s.mu.Lock()
			s.commands = append(s.commands, p.Command)
			dir := s.dir
			s.mu.Unlock()
			go func() {
				defer close(done)
				s.exec(ctx, ch, p.Command, dir)
			}()
		case "signal":
			// Any signal ends the command: enough for a test DUT.
			cancel()
			if req.WantReply {
				req.Reply(true, nil)
			}
		case "env":
			if req.WantReply {
				req.Reply(true, nil)
			}
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	// The client closed the channel (or the command finished and exec
	// closed it): stop the command.
	cancel()
	if started {
		<-done
	} else {
		ch.Close()
	}
}

// exec runs command and reports how it ended, then closes ch.
func (s *SSHServer) exec(ctx context.Context, ch ssh.Channel, command, dir string) {
	defer ch.Close()
	status, signal := runShell(ctx, command, dir, ch, ch, ch.Stderr())
	if signal != "" {
		ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{Signal: signal}))
		return
	}
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
}

// copyStdin feeds r to w until r ends, then closes w.
func copyStdin(w io.WriteCloser, r io.Reader) {
	io.Copy(w, r)
	w.Close()
}
