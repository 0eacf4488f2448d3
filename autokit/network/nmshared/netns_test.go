package nmshared

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/network/internal/netnslab"
)

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Logf("nmshared: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestMDNSFallback checks that Address finds a DUT that holds no lease
// by the name its avahi publishes. NetworkManager plays no part: Address
// only reads the lease file, here in an empty directory, and asks on the
// testbot's end of a veth pair into the DUT's namespace.
func TestMDNSFallback(t *testing.T) {
	l := netnslab.New(t, "avahi-daemon")
	l.AddHostAddr(t)
	l.AddDUTAddr(t, l.Addr(200))
	l.Avahi(t, "leviathan-dut")
	c := Config{Interface: l.Host, Subnet: l.Addr(1).String(), SSHPort: 22222, LeaseDir: t.TempDir(), Timeout: time.Minute, MDNSName: "leviathan-dut.local"}
	log := slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := New(c, WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	a, err := n.Address(ctx)
	ip := l.Addr(200).Addr().String()
	if err != nil || a.IP != ip || a.SSH != ip+":22222" || a.Gateway != l.Addr(1).Addr().String() {
		t.Fatalf("Address = %+v, %v; want the DUT's static %s", a, err, ip)
	}
}
