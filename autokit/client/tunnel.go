package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
)

// Dial opens a TCP connection to port on the leased DUT, tunnelled through
// the worker (lease needed): the suite's end is this net.Conn, the DUT's
// end connects to 127.0.0.1:port on the DUT. It works wherever the worker
// does — in the testrunner container, behind QEMU's user networking, on a
// board's DUT network — so an SSH or HTTP client from a bench runs
// unchanged on top (ssh.NewClientConn, http.Transport.DialContext; see
// DialContext). Nothing listening on the port gives an *Error with status
// 502 naming it; the tunnel closes when the DUT is powered off or the lease
// ends. ctx bounds opening the tunnel, not its life.
func (c *Client) Dial(ctx context.Context, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("client: tunnel to port %d: want a TCP port, 1 to 65535", port)
	}
	return c.upgrade(ctx, api.PathTunnel, url.Values{api.QueryPort: {strconv.Itoa(port)}})
}

// upgrade sends GET path?query as an upgrade to a tunnel and returns the
// connection once the worker answered 101. ctx bounds the wait for that
// answer.
func (c *Client) upgrade(ctx context.Context, path string, query url.Values) (net.Conn, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	conn, err := c.dialWorker(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (net.Conn, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("client: GET %s: %w", path, ctx.Err())
		}
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return fail(fmt.Errorf("client: GET %s: %w", path, err))
	}
	hr.Header.Set("Connection", "Upgrade")
	hr.Header.Set("Upgrade", api.TunnelProtocol)
	if tok := c.bearer(); tok != "" {
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	if id := c.LeaseID(); id != "" {
		hr.Header.Set(api.HeaderLease, id)
	}
	if err := hr.Write(conn); err != nil {
		return fail(fmt.Errorf("client: GET %s: %w", path, err))
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, hr)
	if err != nil {
		return fail(fmt.Errorf("client: GET %s: reading the answer: %w", path, err))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		return fail(responseError(request{method: "GET", path: path}, resp))
	}
	if !stop() {
		conn.Close()
		return nil, fmt.Errorf("client: GET %s: %w", path, ctx.Err())
	}
	return &tunnelConn{Conn: conn, r: br}, nil
}

// DialContext is Dial with the signature of net.Dialer.DialContext, for
// http.Transport and other clients: addr's port is the DUT's port, its
// host is ignored (any name will do, such as "dut:48484").
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("client: tunnel to %s: only TCP is tunnelled, not %s", addr, network)
	}
	_, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("client: tunnel to %s: %w", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return nil, fmt.Errorf("client: tunnel to %s: port %q is not a number", addr, ps)
	}
	return c.Dial(ctx, port)
}

// dialWorker opens a raw connection to the worker (TLS for https).
func (c *Client) dialWorker(ctx context.Context) (net.Conn, error) {
	host := c.base.Host
	if c.base.Port() == "" {
		port := "80"
		if c.base.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(c.base.Hostname(), port)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, &UnreachableError{URL: c.base.String(), Err: err}
	}
	if c.base.Scheme != "https" {
		return conn, nil
	}
	tc := tls.Client(conn, &tls.Config{ServerName: c.base.Hostname()})
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("client: TLS to the worker at %s: %w", c.base, err)
	}
	return tc, nil
}

// tunnelConn is the worker connection after the upgrade; bytes the worker
// sent with its answer are in r.
type tunnelConn struct {
	net.Conn
	r io.Reader
}

func (t *tunnelConn) Read(p []byte) (int, error) { return t.r.Read(p) }

// CloseWrite tells the DUT's end that no more bytes come (where the
// connection to the worker can half-close).
func (t *tunnelConn) CloseWrite() error {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return t.Conn.Close()
}

// Listener is a port on the DUT's own loopback that the DUT connects to and
// the suite accepts from, through the worker: a net.Listener to serve an
// update image or a configuration to the DUT (http.Serve works on it). Only
// the DUT can reach it; it closes when the DUT is powered off or the lease
// ends.
type Listener struct {
	c      *Client
	id     string
	addr   string
	ctx    context.Context
	cancel context.CancelFunc
}

var _ net.Listener = (*Listener)(nil)

// Listen opens a port on the leased DUT's loopback (lease needed). The DUT
// connects to DUTAddress.
func (c *Client) Listen(ctx context.Context) (*Listener, error) {
	var l api.Listener
	if err := c.call(ctx, request{method: "POST", path: api.PathListen, leased: true}, &l); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Listener{c: c, id: l.ID, addr: l.Address, ctx: lctx, cancel: cancel}, nil
}

// DUTAddress is the address the DUT connects to, as the DUT sees it
// (127.0.0.1:port).
func (l *Listener) DUTAddress() string { return l.addr }

// Accept waits for the DUT's next connection. After Close it returns an
// error wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.c.upgrade(l.ctx, api.ListenPath(l.id), nil)
	if err != nil && l.ctx.Err() != nil {
		return nil, fmt.Errorf("client: listener %s: %w", l.addr, net.ErrClosed)
	}
	return c, err
}

// Close stops accepting and closes the port on the DUT.
func (l *Listener) Close() error {
	if l.ctx.Err() != nil {
		return nil
	}
	l.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.c.call(ctx, request{method: "DELETE", path: api.ListenPath(l.id), leased: true}, nil)
	var e *Error
	if errors.As(err, &e) && (e.Status == http.StatusNotFound || e.Status == http.StatusUnauthorized) {
		return nil // closed with the DUT's power or the lease already
	}
	return err
}

// Addr is the DUT-side address (see DUTAddress).
func (l *Listener) Addr() net.Addr { return dutAddr(l.addr) }

type dutAddr string

func (a dutAddr) Network() string { return "tcp" }
func (a dutAddr) String() string  { return string(a) }
