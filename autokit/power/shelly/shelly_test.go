package shelly

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
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	d, err := New(cfg, pduhttp.WithRetries(2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFakeFollowsDocs(t *testing.T) {
	powertest.Replay(t, newFake(4).handler(""), "testdata/api.json")
}

func TestConformance(t *testing.T) {
	t.Run("NoAuth", func(t *testing.T) {
		powertest.Conformance(t, newDriver(t, Config{URL: powertest.Serve(t, newFake(1).handler("")), Channel: 0}))
	})
	t.Run("DigestAuth", func(t *testing.T) {
		f := newFake(4)
		d := newDriver(t, Config{URL: powertest.Serve(t, f.handler("s3cret")), Channel: 2, Password: "s3cret"})
		powertest.Conformance(t, d)
		d.On(context.Background())
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.switches[2] || f.switches[0] || f.switches[1] || f.switches[3] {
			t.Fatalf("switches = %v; want only 2 on", f.switches)
		}
	})
}

func TestWrongPassword(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake(1).handler("s3cret")), Password: "guess"})
	err := d.On(context.Background())
	var re *RPCError
	if !errors.As(err, &re) || re.Err.Status != 401 || !strings.HasPrefix(err.Error(), "shelly: ") {
		t.Fatalf("On = %v; want a 401 RPC error", err)
	}
	if strings.Contains(err.Error(), "guess") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestNoPasswordButDeviceWantsOne(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake(1).handler("s3cret"))})
	if _, err := d.State(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("State = %v", err)
	}
}

func TestUnknownSwitch(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake(1).handler("")), Channel: 3})
	err := d.On(context.Background())
	var re *RPCError
	if !errors.As(err, &re) || re.Code != -105 || !strings.Contains(err.Error(), "value 3 not found") {
		t.Fatalf("On = %v", err)
	}
}

func TestStuckRelay(t *testing.T) {
	f := newFake(1)
	f.stuck = true
	d := newDriver(t, Config{URL: powertest.Serve(t, f.handler(""))})
	if err := d.On(context.Background()); err == nil || !strings.Contains(err.Error(), "is off after Switch.Set on=true") {
		t.Fatalf("On = %v", err)
	}
}

func TestNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	d := newDriver(t, Config{URL: srv.URL})
	if err := d.Off(context.Background()); err == nil || !strings.Contains(err.Error(), "no answer after 3 attempt(s)") {
		t.Fatalf("Off = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{{URL: "plug"}, {URL: "http://plug", Channel: -1}} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "shelly: ") {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}
