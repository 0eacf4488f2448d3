package leases

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sample = `1700000100 52:54:00:12:34:56 10.42.0.23 balena 01:52:54:00:12:34:56
1700000300 52:54:00:aa:bb:cc 10.42.0.57 * *
duid 00:01:00:01:2c:5f:1e:9d:52:54:00:12:34:56
1700000200 1234567 fd00::23 balena 00:01:00:01
0 52:54:00:aa:bb:cd 10.42.0.99 forever *
`

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParse(t *testing.T) {
	ls, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 3 {
		t.Fatalf("got %d leases, want 3 (IPv6 and duid lines skipped): %+v", len(ls), ls)
	}
	l := ls[0]
	if l.IP.String() != "10.42.0.23" || l.MAC.String() != "52:54:00:12:34:56" || l.Hostname != "balena" || l.ClientID != "01:52:54:00:12:34:56" || l.Expiry.Unix() != 1700000100 {
		t.Errorf("first lease = %+v", l)
	}
	if ls[1].Hostname != "" || ls[1].ClientID != "" {
		t.Errorf("* should read as empty: %+v", ls[1])
	}
	if !ls[2].Expiry.IsZero() {
		t.Errorf("expiry 0 should be infinite: %v", ls[2].Expiry)
	}
}

func TestNewest(t *testing.T) {
	ls, _ := Parse(strings.NewReader(sample))
	if l, _ := Newest(ls, nil); l.IP.String() != "10.42.0.99" {
		t.Errorf("newest of all = %s, want the infinite lease", l.IP)
	}
	if l, _ := Newest(ls[:2], nil); l.IP.String() != "10.42.0.57" {
		t.Errorf("newest = %s, want 10.42.0.57", l.IP)
	}
	if l, ok := Newest(ls, mustMAC(t, "52:54:00:12:34:56")); !ok || l.IP.String() != "10.42.0.23" {
		t.Errorf("by MAC = %s %v", l.IP, ok)
	}
	if _, ok := Newest(ls, mustMAC(t, "02:00:00:00:00:01")); ok {
		t.Error("found a lease for an unknown MAC")
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"1700000100 52:54:00:12:34:56 10.42.0.23 balena\n",
		"soon 52:54:00:12:34:56 10.42.0.23 balena *\n",
		"1700000100 52:54:00:12:34:56 10.42.0.300 balena *\n",
		"1700000100 nomac 10.42.0.23 balena *\n",
	} {
		_, err := Parse(strings.NewReader("\n" + in))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != 2 {
			t.Errorf("%q: err = %v, want a SyntaxError on line 2", in, err)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	ls, _ := Parse(strings.NewReader(sample))
	var b bytes.Buffer
	if err := Format(&b, ls); err != nil {
		t.Fatal(err)
	}
	again, err := Parse(&b)
	if err != nil || len(again) != len(ls) {
		t.Fatalf("round trip: %v, %d leases", err, len(again))
	}
}

func TestWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dnsmasq-eth1.leases")
	go func() {
		time.Sleep(3 * PollInterval / 2)
		os.WriteFile(path, []byte(sample), 0o644)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	l, err := Wait(ctx, path, "eth1", mustMAC(t, "52:54:00:aa:bb:cc"), nil)
	if err != nil || l.IP.String() != "10.42.0.57" {
		t.Fatalf("Wait = %v, %v", l.IP, err)
	}
}

func TestWaitTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dnsmasq-eth1.leases")
	os.WriteFile(path, []byte(sample), 0o644)
	ctx, cancel := context.WithTimeout(t.Context(), 3*PollInterval)
	defer cancel()
	_, err := Wait(ctx, path, "eth1", mustMAC(t, "02:00:00:00:00:01"), nil)
	var we *WaitError
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a WaitError wrapping the deadline", err)
	}
	for _, want := range []string{path, "eth1", "02:00:00:00:00:01", "3 other leases"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestWaitServerDied(t *testing.T) {
	dead := errors.New("dnsmasq exited")
	_, err := Wait(t.Context(), filepath.Join(t.TempDir(), "none"), "eth1", nil, func() error { return dead })
	if !errors.Is(err, dead) {
		t.Fatalf("err = %v, want the liveness error", err)
	}
}
