package pdudaemon

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/power/pduhttp"
	"github.com/balena/leviathan-action/autokit/power/powertest"
)

func newDriver(t *testing.T, cfg Config) *Driver {
	t.Helper()
	cfg.Timeout = 2 * time.Second
	d, err := New(cfg, pduhttp.WithRetries(2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFakeFollowsDocs(t *testing.T) {
	powertest.Replay(t, newFake(), "testdata/api.json")
}

func TestConformance(t *testing.T) {
	t.Run("HostnamePort", func(t *testing.T) {
		f := newFake()
		powertest.Conformance(t, newDriver(t, Config{URL: powertest.Serve(t, f), Hostname: "pdu1", Port: "2"}))
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.ports["pdu1/2"] {
			t.Fatal("port 2 left on")
		}
		for _, d := range f.delays {
			if d != "0" {
				t.Fatalf("delay %q sent; want 0 (PDUDaemon's default is 5 s)", d)
			}
		}
	})
	t.Run("Alias", func(t *testing.T) {
		f := newFake()
		d := newDriver(t, Config{URL: powertest.Serve(t, f), Alias: "rpi4"})
		powertest.Conformance(t, d)
		d.On(context.Background())
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.ports["pdu1/3"] {
			t.Fatal("alias rpi4 did not switch pdu1 port 3")
		}
	})
}

func TestStateUnknownAtFirst(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake()), Hostname: "pdu1", Port: "1"})
	if _, err := d.State(context.Background()); !errors.Is(err, ErrUnknown) {
		t.Fatalf("State = %v; want ErrUnknown", err)
	}
}

func TestUnknownPDU(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake()), Hostname: "pdu9", Port: "1"})
	err := d.On(context.Background())
	var he *pduhttp.Error
	if !errors.As(err, &he) || he.Status != 500 || !strings.Contains(err.Error(), "PDU was not found in config") {
		t.Fatalf("On = %v", err)
	}
	if _, err := d.State(context.Background()); !errors.Is(err, ErrUnknown) {
		t.Fatalf("State after a refused On = %v; want ErrUnknown", err)
	}
}

func TestNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	d := newDriver(t, Config{URL: srv.URL, Hostname: "pdu1", Port: "1"})
	if err := d.Off(context.Background()); err == nil || !strings.Contains(err.Error(), "pdudaemon: GET") || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("Off = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "http://pdud:16421"},
		{URL: "http://pdud:16421", Hostname: "pdu1"},
		{URL: "http://pdud:16421", Alias: "a", Port: "1"},
		{URL: "http://pdud:16421", Alias: "a", Delay: -1},
	} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "pdudaemon: ") {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}
