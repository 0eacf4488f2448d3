package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"

	"golang.org/x/crypto/ssh"
)

// ErrRefused is wrapped by DialTCP's error when the DUT answered but
// nothing listens on the port (the SSH server's "connect failed").
var ErrRefused = errors.New("sshexec: connection refused on the DUT")

// DialTCP opens a TCP connection from the DUT to target (host:port as the
// DUT sees it, such as 127.0.0.1:48484), carried by the SSH connection
// (a direct-tcpip channel). The returned conn supports CloseWrite.
func (c *Conn) DialTCP(ctx context.Context, target string) (net.Conn, error) {
	c.touch()
	conn, err := c.client.DialContext(ctx, "tcp", target)
	if err != nil {
		var oe *ssh.OpenChannelError
		if errors.As(err, &oe) && oe.Reason == ssh.ConnectionFailed {
			return nil, fmt.Errorf("%w: %s: %s", ErrRefused, target, oe.Message)
		}
		return nil, fmt.Errorf("sshexec: connecting to %s through the DUT's SSH server: %w", target, err)
	}
	return conn, nil
}

// DialTCP is Conn.DialTCP on addr's pooled connection, redialling once
// when the pooled connection turns out to be dead.
func (p *Pool) DialTCP(ctx context.Context, addr, target string) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		c, err := p.Get(ctx, addr)
		if err != nil {
			return nil, err
		}
		conn, err := c.DialTCP(ctx, target)
		if err != nil && attempt == 0 && !errors.Is(err, ErrRefused) && ctx.Err() == nil && !c.Alive() {
			p.forget(addr, c)
			continue
		}
		return conn, err
	}
}

// ListenTCP asks the DUT's SSH server to listen on the DUT's loopback
// (127.0.0.1, a port it picks) and forward each connection back over the
// SSH connection (tcpip-forward): a port reachable from the DUT only. The
// listener's Addr is the address as the DUT sees it. It dies with the SSH
// connection.
func (c *Conn) ListenTCP(ctx context.Context) (net.Listener, error) {
	c.touch()
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		ln, err := c.client.ListenTCP(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		done <- result{ln, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("sshexec: asking the DUT's SSH server to listen: %w", r.err)
		}
		return r.ln, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.ln != nil {
				r.ln.Close()
			}
		}()
		return nil, fmt.Errorf("sshexec: asking the DUT's SSH server to listen: %w", ctx.Err())
	}
}

// ListenTCP is Conn.ListenTCP on addr's pooled connection.
func (p *Pool) ListenTCP(ctx context.Context, addr string) (net.Listener, error) {
	c, err := p.Get(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c.ListenTCP(ctx)
}
