package fallback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	quiet = slog.New(slog.DiscardHandler)
	dut   = netip.MustParseAddr("10.42.0.77")
)

func TestShare(t *testing.T) {
	for total, want := range map[time.Duration]time.Duration{
		2 * time.Minute:  10 * time.Second,
		20 * time.Second: 5 * time.Second,
		time.Second:      250 * time.Millisecond,
		0:                0,
	} {
		if got := Share(total); got != want {
			t.Errorf("Share(%s) = %s, want %s", total, got, want)
		}
	}
}

// noLease waits for ctx like a lease wait that sees no lease.
func noLease(ctx context.Context) (netip.Addr, error) {
	<-ctx.Done()
	return netip.Addr{}, ctx.Err()
}

func TestLeaseFound(t *testing.T) {
	a, err := Lookup(t.Context(), func(context.Context) (netip.Addr, error) { return dut, nil }, "lvt-absent0", "dut", quiet)
	if err != nil || a != dut {
		t.Fatalf("Lookup = %v, %v", a, err)
	}
}

// TestNoName checks that without a name the lease wait has all the time
// and its error is returned as it is.
func TestNoName(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	outer, _ := ctx.Deadline()
	_, err := Lookup(ctx, func(ctx context.Context) (netip.Addr, error) {
		if d, _ := ctx.Deadline(); !d.Equal(outer) {
			t.Errorf("the lease wait's deadline is %s, want the caller's", d)
		}
		return noLease(ctx)
	}, "lvt-absent0", "", quiet)
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "mDNS") {
		t.Fatalf("err = %v, want the lease wait's alone", err)
	}
}

// TestBothFail checks that the lease wait leaves mDNS its share and that
// the error carries both failures.
func TestBothFail(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	outer, _ := ctx.Deadline()
	_, err := Lookup(ctx, func(ctx context.Context) (netip.Addr, error) {
		d, _ := ctx.Deadline()
		if left := outer.Sub(d); left < 50*time.Millisecond || left > 110*time.Millisecond {
			t.Errorf("the lease wait ends %s before the caller's deadline, want about 100ms (a quarter)", left)
		}
		_, err := noLease(ctx)
		return netip.Addr{}, fmt.Errorf("leases: no DHCP lease: %w", err)
	}, "lvt-absent0", "dut", quiet)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping the lease wait's context.DeadlineExceeded", err)
	}
	for _, want := range []string{"DHCP lease", "mDNS", "no interface lvt-absent0", "dut.local"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestOtherLeaseError checks that a lease wait that fails for another
// reason than time is not followed by mDNS.
func TestOtherLeaseError(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	died := errors.New("dnsmasq exited")
	_, err := Lookup(ctx, func(context.Context) (netip.Addr, error) { return netip.Addr{}, died }, "lvt-absent0", "dut", quiet)
	if !errors.Is(err, died) || strings.Contains(err.Error(), "mDNS") {
		t.Fatalf("err = %v, want the lease wait's alone", err)
	}
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	_, err = Lookup(cctx, noLease, "lvt-absent0", "dut", quiet)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "mDNS") {
		t.Fatalf("cancelled: err = %v, want the lease wait's alone", err)
	}
}
