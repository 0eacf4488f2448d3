package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/worker"
)

func TestContractAndHealth(t *testing.T) {
	e := newEnv(t, worker.WithHostname("dut-01"))
	c := e.client(t)
	ctx := ctxT(t, 5*time.Second)
	ct, err := c.Contract(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []dut.Capability{dut.CapPower, dut.CapStorage, dut.CapConsole, dut.CapNetwork, dut.CapScreen, dut.CapKeyboard}
	if ct.Name != "fake" || !slices.Equal(ct.Capabilities, want) || ct.Hostname != "dut-01" || ct.SSHUser != "root" {
		t.Fatalf("Contract = %+v", ct)
	}
	h, err := c.Health(ctx)
	if err != nil || !h.OK || h.Power != dut.PowerOff || h.Leased || !h.Console || h.UptimeSeconds <= 0 {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	e.d.FailPower(errors.New("relay board gone"))
	h, err = c.Health(ctx)
	if err != nil || h.OK || !strings.Contains(h.Problem, "relay board gone") {
		t.Fatalf("Health with a broken relay = %+v, %v", h, err)
	}
}

func TestPower(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	ctx := ctxT(t, 5*time.Second)
	for _, step := range []struct {
		call func() error
		want dut.PowerState
	}{
		{func() error { return c.PowerOn(ctx) }, dut.PowerOn},
		{func() error { return c.PowerOff(ctx) }, dut.PowerOff},
		{func() error { return c.PowerOff(ctx) }, dut.PowerOff},
	} {
		if err := step.call(); err != nil {
			t.Fatal(err)
		}
		if s, err := c.PowerState(ctx); err != nil || s != step.want {
			t.Fatalf("PowerState = %s, %v; want %s", s, err, step.want)
		}
	}
	e.d.FailPower(errors.New("relay stuck"))
	wantStatus(t, c.PowerOn(ctx), http.StatusBadGateway, "relay stuck")
}

func TestOptionalCapabilities(t *testing.T) {
	full := newEnv(t)
	bare := newEnvFor(t, func(d *duttest.DUT) dut.DUT { return bareDUT{d} })
	ctx := ctxT(t, 10*time.Second)
	calls := []struct {
		name string
		cap  dut.Capability
		call func(c *client.Client) error
	}{
		{"screen", dut.CapScreen, func(c *client.Client) error {
			png, err := c.Screenshot(ctx)
			if err == nil && !bytes.Equal(png, duttest.ScreenPNG()) {
				return errors.New("wrong screenshot")
			}
			return err
		}},
		{"keyboard", dut.CapKeyboard, func(c *client.Client) error { return c.Press(ctx, "ctrl", "alt", "delete") }},
		{"address", dut.CapNetwork, func(c *client.Client) error {
			a, err := c.Address(ctx)
			if err == nil && a.SSH != full.ssh.Addr() {
				return errors.New("wrong address " + a.SSH)
			}
			return err
		}},
		{"serial", dut.CapConsole, func(c *client.Client) error { _, _, err := c.SerialLog(ctx, 0); return err }},
		{"expect", dut.CapConsole, func(c *client.Client) error { _, err := c.Expect(ctx, "x", 0, time.Millisecond); return wrap504(err) }},
		{"exec", dut.CapNetwork, func(c *client.Client) error { _, err := c.Exec(ctx, "true", nil, nil); return err }},
		{"flash", dut.CapStorage, func(c *client.Client) error {
			img := duttest.GPTImage(0)
			_, err := c.Flash(ctx, bytes.NewReader(img), int64(len(img)), "", nil)
			return err
		}},
	}
	fc, bc := full.leased(t), bare.leased(t)
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(fc); err != nil {
				t.Fatalf("with the capability: %v", err)
			}
			wantStatus(t, tc.call(bc), http.StatusNotImplemented, "not implemented by this DUT", string(tc.cap))
		})
	}
	if got := full.d.Presses(); len(got) != 1 || !slices.Equal(got[0], []string{"ctrl", "alt", "delete"}) {
		t.Errorf("presses = %v", got)
	}
	ct, err := bc.Contract(ctx)
	if err != nil || !slices.Equal(ct.Capabilities, []dut.Capability{dut.CapPower}) {
		t.Fatalf("bare Contract = %+v, %v", ct, err)
	}
}

// wrap504 treats an expect timeout as success: the endpoint exists.
func wrap504(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusGatewayTimeout {
		return nil
	}
	return err
}

func TestJSONErrorsForUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/v1/nope", http.StatusNotFound, ""},
		{"GET", api.PathPowerOn, http.StatusMethodNotAllowed, "POST"},
		{"DELETE", api.PathFlash, http.StatusMethodNotAllowed, "GET, PUT"},
	} {
		req, _ := http.NewRequest(tc.method, e.url+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body api.ErrorBody
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || body.Error == "" || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d %q (Allow %q), %v; want %d with a JSON error",
				tc.method, tc.path, resp.StatusCode, body.Error, resp.Header.Get("Allow"), err, tc.status)
		}
	}
}

func TestCloseTurnsOff(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	ctx := ctxT(t, 5*time.Second)
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.d.State(ctx); s != dut.PowerOff {
		t.Fatalf("after Close the DUT is %s", s)
	}
}

func TestListenAndServe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addr  string
		token string
		want  error
	}{
		{"all interfaces without token", "0.0.0.0:0", "", worker.ErrNoToken},
		{"empty host without token", ":0", "", worker.ErrNoToken},
		{"IPv6 any without token", "[::]:0", "", worker.ErrNoToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := worker.New(duttest.New(t), worker.WithToken(tc.token))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close(context.Background())
			err = worker.ListenAndServe(ctxT(t, 5*time.Second), tc.addr, w, nil)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "token") {
				t.Fatalf("ListenAndServe = %v; want %v", err, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, host, token string
	}{
		{"loopback without token", "127.0.0.1", ""},
		{"all interfaces with token", "0.0.0.0", "tok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := worker.New(duttest.New(t), worker.WithToken(tc.token))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close(context.Background())
			addr := net.JoinHostPort(tc.host, freePort(t))
			ctx, cancel := context.WithCancel(ctxT(t, 10*time.Second))
			done := make(chan error, 1)
			go func() { done <- worker.ListenAndServe(ctx, addr, w, nil) }()
			c, err := client.New("http://"+net.JoinHostPort("127.0.0.1", portOf(addr)), client.WithToken(tc.token))
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "the worker to answer", func() bool {
				h, err := c.Health(ctx)
				return err == nil && h.OK
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("ListenAndServe = %v after its context ended; want nil", err)
			}
		})
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	return portOf(deadAddr(t))
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
