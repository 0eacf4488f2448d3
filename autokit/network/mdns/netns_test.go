package mdns

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/internal/netnslab"
)

var record = flag.Bool("record", false, "write avahi's reply to "+recording+" (TestAvahi)")

// recording is a legacy unicast reply of avahi-daemon 0.8 for
// leviathan-dut.local, recorded by TestAvahi -record; the playback tests
// replay it.
const recording = "testdata/avahi-reply.bin"

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Logf("mdns: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// avahiLab is a DUT with a static address whose avahi-daemon publishes
// leviathan-dut.local.
func avahiLab(t *testing.T) *netnslab.Lab {
	t.Helper()
	l := netnslab.New(t, "avahi-daemon")
	l.AddHostAddr(t)
	l.AddDUTAddr(t, l.Addr(77))
	l.Avahi(t, "leviathan-dut")
	return l
}

// TestAvahi resolves the name avahi publishes, spelled three ways.
func TestAvahi(t *testing.T) {
	l := avahiLab(t)
	want := l.Addr(77).Addr()
	for _, name := range []string{"leviathan-dut", "leviathan-dut.local", "Leviathan-DUT.local."} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		got, err := Resolve(ctx, l.Host, name, WithLogger(logger(t)))
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if *record {
		b := rawReply(t, l.Host, "leviathan-dut.local.")
		if err := os.WriteFile(recording, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", recording, len(b))
	}
}

// rawReply asks once for fqdn and returns the first reply as it came.
func rawReply(t *testing.T, iface, fqdn string) []byte {
	t.Helper()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	c, err := listen(ifi)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, err := query(fqdn, 0x4c56)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDPAddrPort(q, netip.MustParseAddrPort(group)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 9000)
	n, _, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		t.Fatalf("no reply from avahi: %v", err)
	}
	return b[:n]
}

// TestAvahiOtherName checks that a name avahi does not publish times out
// with an error naming the name and the interface.
func TestAvahiOtherName(t *testing.T) {
	l := avahiLab(t)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Resolve(ctx, l.Host, "absent", WithLogger(logger(t)))
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("Resolve took %s with a 1.5 s deadline", took)
	}
	var ne *NoAnswerError
	if !errors.As(err, &ne) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a *NoAnswerError wrapping context.DeadlineExceeded", err)
	}
	if ne.Queries < 3 {
		t.Errorf("%d queries in 1.5 s, want at least 3 (at 0, 0.25 and 0.75 s)", ne.Queries)
	}
	for _, want := range []string{"absent.local", l.Host, "is avahi", "UDP 5353"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestAvahiDown checks the error for an interface that is down.
func TestAvahiDown(t *testing.T) {
	l := netnslab.New(t)
	netnslab.Run(t, "ip", "link", "set", l.Host, "down")
	_, err := Resolve(t.Context(), l.Host, "leviathan-dut")
	if err == nil || !strings.Contains(err.Error(), l.Host+" is down") {
		t.Fatalf("err = %v, want one saying %s is down", err, l.Host)
	}
}
