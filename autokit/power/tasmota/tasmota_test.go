package tasmota

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/pduhttp"
	"github.com/balena/leviathan-action/autokit/power/powertest"
)

func newDriver(t *testing.T, cfg Config) *Driver {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.User == "" {
		cfg.User = "admin"
	}
	d, err := New(cfg, pduhttp.WithRetries(2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFakeFollowsDocs(t *testing.T) {
	powertest.Replay(t, newFake(2, "joker"), "testdata/api.json")
}

func TestConformance(t *testing.T) {
	t.Run("OneRelayNoPassword", func(t *testing.T) {
		f := newFake(1, "")
		powertest.Conformance(t, newDriver(t, Config{URL: powertest.Serve(t, f), Channel: 1}))
	})
	t.Run("FourRelaysWithPassword", func(t *testing.T) {
		f := newFake(4, "joker")
		d := newDriver(t, Config{URL: powertest.Serve(t, f), Channel: 3, Password: "joker"})
		powertest.Conformance(t, d)
		if err := d.On(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !f.relay(3) || f.relay(1) || f.relay(2) || f.relay(4) {
			t.Fatal("On switched a relay other than 3")
		}
	})
}

func TestWrongPassword(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake(1, "joker")), Channel: 1, Password: "lion"})
	err := d.On(context.Background())
	if err == nil || !strings.Contains(err.Error(), "device refused") || !strings.HasPrefix(err.Error(), "tasmota: ") {
		t.Fatalf("On = %v; want a refusal", err)
	}
	if strings.Contains(err.Error(), "lion") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestMissingPassword(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake(1, "joker")), Channel: 1})
	if _, err := d.State(context.Background()); err == nil || !strings.Contains(err.Error(), "POWER_PASSWORD") {
		t.Fatalf("State = %v; want a refusal naming POWER_PASSWORD", err)
	}
}

func TestUnknownRelay(t *testing.T) {
	d := newDriver(t, Config{URL: powertest.Serve(t, newFake(2, "")), Channel: 5})
	if err := d.Off(context.Background()); err == nil || !strings.Contains(err.Error(), "relay 5 configured") {
		t.Fatalf("Off = %v", err)
	}
}

func TestStuckRelay(t *testing.T) {
	f := newFake(1, "")
	f.stuck = true
	d := newDriver(t, Config{URL: powertest.Serve(t, f), Channel: 1})
	if err := d.On(context.Background()); err == nil || !strings.Contains(err.Error(), "is off after Power1 On") {
		t.Fatalf("On = %v", err)
	}
}

func TestHTTPErrorCarriesEvidence(t *testing.T) {
	url := powertest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "flash write failed", http.StatusServiceUnavailable)
	}))
	d := newDriver(t, Config{URL: url, Channel: 1, Password: "secret"})
	err := d.On(context.Background())
	var he *pduhttp.Error
	if !errors.As(err, &he) || he.Status != 503 || !strings.Contains(err.Error(), "flash write failed") {
		t.Fatalf("On = %v", err)
	}
	if strings.Contains(err.Error(), "secret") || !strings.Contains(he.URL, "password=xxxxx") {
		t.Fatalf("error does not hide the password: %v", err)
	}
}

func TestNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	d := newDriver(t, Config{URL: url, Channel: 1})
	_, err := d.State(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no answer after 3 attempt(s)") || !strings.Contains(err.Error(), url) {
		t.Fatalf("State = %v", err)
	}
}

func TestNotJSON(t *testing.T) {
	url := powertest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>router login</html>")) }))
	d := newDriver(t, Config{URL: url, Channel: 1})
	if _, err := d.State(context.Background()); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("State = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "", Channel: 1},
		{URL: "ftp://plug", Channel: 1},
		{URL: "http://admin:pw@plug", Channel: 1},
		{URL: "http://plug", Channel: 0},
		{URL: "http://plug", Channel: 33},
	} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "tasmota: ") {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}

func TestStateReadsDevice(t *testing.T) {
	f := newFake(1, "")
	d := newDriver(t, Config{URL: powertest.Serve(t, f), Channel: 1})
	f.mu.Lock()
	f.relays[0] = true // someone pressed the plug's button
	f.mu.Unlock()
	if s, err := d.State(context.Background()); err != nil || s != dut.PowerOn {
		t.Fatalf("State = %v, %v; want on, read from the device", s, err)
	}
}
