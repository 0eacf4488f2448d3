package worker_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/worker"
)

// upperEcho serves, on the machine playing the DUT, one line back in
// upper case per connection.
func upperEcho(t *testing.T) int {
	t.Helper()
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
				b, _ := io.ReadAll(c)
				c.Write([]byte(strings.ToUpper(string(b))))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTunnel(t *testing.T) {
	e := newEnv(t, worker.WithToken("admin"))
	ctx := ctxT(t, 10*time.Second)
	admin, job, l := e.jobLease(t, "admin")
	if err := job.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("bytes both ways with half-close", func(t *testing.T) {
		c, err := job.Dial(ctx, upperEcho(t))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "hello through the worker")
		c.(interface{ CloseWrite() error }).CloseWrite()
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "HELLO THROUGH THE WORKER" {
			t.Fatalf("read %q, %v", b, err)
		}
	})
	t.Run("an HTTP client on top", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			io.WriteString(rw, "supervisor says hi to "+r.URL.Path)
		}))
		defer srv.Close()
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		hc := &http.Client{Transport: &http.Transport{DialContext: job.DialContext}}
		resp, err := hc.Get("http://dut:" + strconv.Itoa(port) + "/v1/device")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "supervisor says hi to /v1/device" {
			t.Fatalf("body %q", b)
		}
	})
	t.Run("closed port", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		_, err := job.Dial(ctx, port)
		wantStatus(t, err, http.StatusBadGateway, "nothing listens on port "+strconv.Itoa(port))
	})
	t.Run("the DUT resets the connection", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0) // close with a reset
			c.Close()
		}()
		c, err := job.Dial(ctx, ln.Addr().(*net.TCPAddr).Port)
		if err != nil {
			// The reset came before the DUT's connect returned: the
			// tunnel is refused with the reason.
			wantStatus(t, err, http.StatusBadGateway, "connection reset")
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("read after the DUT's reset: %d, %v; want the tunnel closed", n, err)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the tunnel stayed open after the DUT reset the connection")
		}
	})
	t.Run("port out of range", func(t *testing.T) {
		for _, p := range []int{0, -1, 65536} {
			if _, err := job.Dial(ctx, p); err == nil || !strings.Contains(err.Error(), "1 to 65535") {
				t.Errorf("Dial(%d) = %v", p, err)
			}
		}
		for _, q := range []string{"port=abc", "port=0", "port=65536", ""} {
			status, body := rawTunnel(t, e.url, l.ID, q, true)
			if status != http.StatusBadRequest || !strings.Contains(body, "1 to 65535") {
				t.Errorf("?%s: %d %s", q, status, body)
			}
		}
	})
	t.Run("not an upgrade", func(t *testing.T) {
		status, body := rawTunnel(t, e.url, l.ID, "port=22", false)
		if status != http.StatusBadRequest || !strings.Contains(body, "Upgrade: "+api.TunnelProtocol) {
			t.Errorf("%d %s", status, body)
		}
	})
	t.Run("without the lease", func(t *testing.T) {
		_, err := e.client(t, client.WithToken("admin")).Dial(ctx, upperEcho(t))
		wantStatus(t, err, http.StatusLocked)
	})

	// A tunnel open when the lease ends is closed, and no new one opens.
	open, err := job.Dial(ctx, upperEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := admin.Release(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	open.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(open); err != nil {
		t.Fatalf("the open tunnel was not closed with the lease: %v", err)
	}
	_, err = job.Dial(ctx, upperEcho(t))
	wantStatus(t, err, http.StatusUnauthorized)
}

// rawTunnel sends GET /v1/tunnel?query by hand and returns the status and
// body.
func rawTunnel(t *testing.T, base, lease, query string, upgrade bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+api.PathTunnel+"?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+lease)
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", api.TunnelProtocol)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req.Write(c)
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestListenForTheDUT(t *testing.T) {
	e := newEnv(t, worker.WithToken("admin"))
	ctx := ctxT(t, 20*time.Second)
	admin, job, l := e.jobLease(t, "admin")
	if err := job.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := job.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, err := net.SplitHostPort(ln.DUTAddress()); err != nil || host != "127.0.0.1" {
		t.Fatalf("DUTAddress %q: want the DUT's loopback", ln.DUTAddress())
	}
	served := make(chan error, 1)
	go func() {
		served <- http.Serve(ln, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			io.WriteString(rw, "update image for "+r.URL.Path)
		}))
	}()
	// The machine playing the DUT fetches from the address it was given,
	// twice: one connection per fetch, each accepted through the worker.
	for range 2 {
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get("http://" + ln.DUTAddress() + "/hostapp.img")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "update image for /hostapp.img" {
			t.Fatalf("the DUT fetched %q", b)
		}
	}
	t.Run("without the lease", func(t *testing.T) {
		_, err := e.client(t, client.WithToken("admin")).Listen(ctx)
		wantStatus(t, err, http.StatusLocked)
	})

	// The lease ends: the port on the DUT closes and the suite's Serve
	// returns.
	if err := admin.Release(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the DUT's port to close", func() bool {
		c, err := net.DialTimeout("tcp", ln.DUTAddress(), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-served:
		if err == nil {
			t.Fatal("Serve returned nil")
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after the lease ended")
	}
	ln.Close()
}

// portDialerDUT is the fake DUT with a network address and a direct way to
// its ports, as QemuKit's forwards or a routed DUT network give.
type portDialerDUT struct {
	*duttest.DUT
	mu     sync.Mutex
	dialed []int
}

func (d *portDialerDUT) Address(ctx context.Context) (dut.Address, error) {
	a, err := d.DUT.Address(ctx)
	a.IP = "127.0.0.1"
	return a, err
}

func (d *portDialerDUT) DialPort(ctx context.Context, port int) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, port)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

func TestTunnelDirect(t *testing.T) {
	var pd *portDialerDUT
	e := newEnvFor(t, func(d *duttest.DUT) dut.DUT { pd = &portDialerDUT{DUT: d}; return pd })
	ctx := ctxT(t, 10*time.Second)
	c := e.leased(t)
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	port := upperEcho(t)
	conn, err := c.Dial(ctx, port)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "direct")
	conn.(interface{ CloseWrite() error }).CloseWrite()
	if b, err := io.ReadAll(conn); err != nil || string(b) != "DIRECT" {
		t.Fatalf("read %q, %v", b, err)
	}
	conn.Close()
	pd.mu.Lock()
	dialed := slices.Clone(pd.dialed)
	pd.mu.Unlock()
	if !slices.Equal(dialed, []int{port}) {
		t.Errorf("DialPort calls %v, want the direct path for port %d", dialed, port)
	}
	// A closed port is found closed by asking the DUT over SSH, not
	// through the direct path (which may accept and drop).
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, err = c.Dial(ctx, closed)
	wantStatus(t, err, http.StatusBadGateway, "nothing listens on port")
	pd.mu.Lock()
	defer pd.mu.Unlock()
	if len(pd.dialed) != 1 {
		t.Errorf("DialPort was used for a closed port: %v", pd.dialed)
	}
}
