package worker

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/sshexec"
)

// getTunnel connects the request's connection to a TCP port of the leased
// DUT. The DUT end is a direct connection to the port on the DUT's network
// address when the DUT offers one (see dialDirect), and otherwise opened
// through the worker's SSH connection to the DUT (a direct-tcpip channel
// to 127.0.0.1:port on the DUT); either way it reaches only the DUT. Tunnels close when the DUT is powered off or
// the lease ends.
func (w *Worker) getTunnel(rw http.ResponseWriter, r *http.Request) error {
	if _, ok := dut.As[dut.Network](w.d, dut.CapNetwork); !ok {
		return notImplemented(dut.CapNetwork)
	}
	if !isUpgrade(r) {
		return errUpgrade()
	}
	ps := r.URL.Query().Get(api.QueryPort)
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		return errorf(api.CodeBadRequest, "worker: port=%q: want a TCP port of the DUT, 1 to 65535", ps)
	}
	addr, err := w.sshAddress(r.Context())
	if err != nil {
		return err
	}
	if dc, ok := w.dialDirect(r, addr, port); ok {
		return w.carry(rw, dc, "tunnel to port "+ps+" (direct)")
	}
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dc, err := w.pool.DialTCP(r.Context(), addr, target)
	var de *sshexec.DialError
	switch {
	case errors.Is(err, sshexec.ErrRefused):
		return errorf(api.CodePortClosed, "worker: nothing listens on port %d of the DUT, or it reset the connection: %w", port, err)
	case errors.As(err, &de):
		return errorf(api.CodeDUTUnreachable, "worker: cannot reach the DUT over SSH to open the tunnel (is it booted?): %w", err)
	case err != nil:
		return errorf(api.CodeDeviceError, "worker: opening a tunnel to port %d of the DUT: %w", port, err)
	}
	return w.carry(rw, dc, "tunnel to port "+ps)
}

// dialDirect connects to port on the DUT's network address without the
// DUT's SSH server, when the DUT can (dut.PortDialer: a QEMU forward, a
// routed DUT network) and the port is open on that address — which the
// DUT's SSH server is asked first, since a forward may accept a connection
// to a closed port. Otherwise the tunnel goes through SSH to the DUT's
// loopback, which also reaches services bound to loopback only.
func (w *Worker) dialDirect(r *http.Request, sshAddr string, port int) (net.Conn, bool) {
	n, ok := dut.As[dut.Network](w.d, dut.CapNetwork)
	if !ok {
		return nil, false
	}
	pd, ok := n.(dut.PortDialer)
	if !ok {
		return nil, false
	}
	a, err := n.Address(r.Context())
	if err != nil || a.IP == "" {
		return nil, false
	}
	probe, err := w.pool.DialTCP(r.Context(), sshAddr, net.JoinHostPort(a.IP, strconv.Itoa(port)))
	if err != nil {
		return nil, false
	}
	probe.Close()
	c, err := pd.DialPort(r.Context(), port)
	if err != nil {
		w.log.Debug("direct connection to the DUT failed; tunnelling through SSH", "port", port, "err", err)
		return nil, false
	}
	return c, true
}

// isUpgrade reports whether r asks to become a tunnel.
func isUpgrade(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && strings.EqualFold(r.Header.Get("Upgrade"), api.TunnelProtocol)
}

func errUpgrade() error {
	return errorf(api.CodeBadRequest, "worker: a tunnel is an HTTP upgrade: send Connection: Upgrade and Upgrade: %s (the Go client does)", api.TunnelProtocol)
}

// carry answers 101 and then copies bytes between the request's connection
// and dc, the DUT's end, until both sides are done or the DUT powers off.
func (w *Worker) carry(rw http.ResponseWriter, dc net.Conn, what string) error {
	w.trackTunnel(dc)
	defer w.untrackTunnel(dc)
	cc, brw, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		dc.Close()
		return errorf(api.CodeInternal, "worker: taking over the connection for the tunnel: %w", err)
	}
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + api.TunnelProtocol + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		cc.Close()
		dc.Close()
		return nil // the client is gone; nothing to answer
	}
	w.log.Debug("tunnel opened", "what", what)
	// Bytes the client sent right after its request are in brw.Reader.
	splice(recordConn(rw, bufConn{cc, brw.Reader}), dc)
	w.log.Debug("tunnel closed", "what", what)
	return nil
}

// tunnelBuffer is the size of each read a tunnel passes on.
const tunnelBuffer = 256 << 10

// splice copies a to b and b to a until both directions end, passing each
// end of stream on as a half-close, then closes both.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		defer wg.Done()
		// Large pieces: a tunnel carries bulk copies (scp, image
		// downloads), and io.Copy's 32 KiB means a read and a write
		// per 32 KiB. The wrappers keep io.CopyBuffer from choosing its
		// own buffer through ReaderFrom/WriterTo.
		buf := make([]byte, tunnelBuffer)
		io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go half(a, b)
	go half(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// headerHas reports whether the comma-separated header h holds token.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// bufConn is a connection whose first bytes were already buffered.
type bufConn struct {
	net.Conn
	r io.Reader
}

func (b bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// CloseWrite half-closes the connection where it can, else closes it.
func (b bufConn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return b.Conn.Close()
}

// trackTunnel records c to be closed with the DUT's power or the lease.
func (w *Worker) trackTunnel(c net.Conn) {
	w.tunMu.Lock()
	defer w.tunMu.Unlock()
	if w.tunnels == nil {
		w.tunnels = map[net.Conn]struct{}{}
	}
	w.tunnels[c] = struct{}{}
}

func (w *Worker) untrackTunnel(c net.Conn) {
	w.tunMu.Lock()
	defer w.tunMu.Unlock()
	delete(w.tunnels, c)
}

// closeTunnels ends every open tunnel and listener: the DUT is going off
// or changing hands.
func (w *Worker) closeTunnels() {
	w.tunMu.Lock()
	defer w.tunMu.Unlock()
	for c := range w.tunnels {
		c.Close()
		delete(w.tunnels, c)
	}
	for id, l := range w.listeners {
		l.close()
		delete(w.listeners, id)
	}
}
