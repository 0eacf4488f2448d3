package dli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	if cfg.Settle == 0 {
		cfg.Settle = time.Second
	}
	d, err := New(cfg, pduhttp.WithRetries(2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFakeFollowsDocs(t *testing.T) {
	powertest.Replay(t, newFake(8).handler("", ""), "testdata/api.json")
}

func TestConformance(t *testing.T) {
	t.Run("Digest", func(t *testing.T) {
		f := newFake(8)
		d := newDriver(t, Config{URL: powertest.Serve(t, f.handler("admin", "1234")), Outlet: 5, Password: "1234"})
		powertest.Conformance(t, d)
	})
	t.Run("RelayLags", func(t *testing.T) {
		f := newFake(8)
		f.lag = 3
		powertest.Conformance(t, newDriver(t, Config{URL: powertest.Serve(t, f.handler("admin", "1234")), Password: "1234"}))
	})
	t.Run("OldFirmwareWithoutPhysicalState", func(t *testing.T) {
		f := newFake(8)
		f.noPhysical = true
		powertest.Conformance(t, newDriver(t, Config{URL: powertest.Serve(t, f.handler("admin", "1234")), Password: "1234"}))
	})
}

func TestWrongPassword(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake(8).handler("admin", "1234")), Password: "4321"})
	err := d.On(context.Background())
	var he *pduhttp.Error
	if !errors.As(err, &he) || he.Status != 401 || !strings.HasPrefix(err.Error(), "dli: PUT ") {
		t.Fatalf("On = %v; want HTTP 401", err)
	}
}

// TestFakeRejectsMissingCSRF proves the fake would catch a driver that
// forgot the header.
func TestFakeRejectsMissingCSRF(t *testing.T) {
	url := powertest.Serve(t, newFake(8).handler("admin", "1234"))
	c := pduhttp.New("dli", mustURL(t, url), pduhttp.WithCredentials(pduhttp.AuthDigest, "admin", "1234"))
	_, err := c.Do(context.Background(), pduhttp.Request{Method: "PUT", Path: "/restapi/relay/outlets/0/state/", Body: []byte("value=true"),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	var he *pduhttp.Error
	if !errors.As(err, &he) || he.Status != 403 || !strings.Contains(err.Error(), "CSRF") {
		t.Fatalf("PUT without X-CSRF = %v; want 403", err)
	}
}

func TestUnknownOutlet(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake(8).handler("admin", "1234")), Outlet: 8, Password: "1234"})
	err := d.On(context.Background())
	var he *pduhttp.Error
	if !errors.As(err, &he) || he.Status != 404 || !strings.Contains(he.URL, "/outlets/8/") {
		t.Fatalf("On = %v; want 404 naming outlet 8", err)
	}
	if _, err := d.State(context.Background()); !errors.As(err, &he) || he.Status != 404 {
		t.Fatalf("State = %v; want 404", err)
	}
}

func TestRelayDoesNotFollow(t *testing.T) {
	f := newFake(8)
	f.stuck = true
	d := newDriver(t, Config{URL: powertest.Serve(t, f.handler("admin", "1234")), Password: "1234", Settle: 300 * time.Millisecond})
	if err := d.On(context.Background()); err == nil || !strings.Contains(err.Error(), "is still off") {
		t.Fatalf("On = %v", err)
	}
}

func TestNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	d := newDriver(t, Config{URL: srv.URL, Password: "1234"})
	if _, err := d.State(context.Background()); err == nil || !strings.Contains(err.Error(), "dli: GET "+srv.URL) || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("State = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(Config{URL: "http://pdu", Outlet: -1}); err == nil || !strings.HasPrefix(err.Error(), "dli: ") {
		t.Fatal(err)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
