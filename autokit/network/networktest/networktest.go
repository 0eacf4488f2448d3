package networktest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Options tune ConformanceWith.
type Options struct {
	// Unreachable says why the DUT cannot be reached (no lease, no cable);
	// the suite then expects Address to fail by its deadline. Empty when
	// the DUT is reachable.
	Unreachable string
	// CallTimeout bounds each Address on a reachable DUT; 30 s when 0.
	CallTimeout time.Duration
	// Prompt bounds a call made with an already-cancelled context, and how
	// long a call may overrun its deadline; 1 s when 0.
	Prompt time.Duration
}

// Conformance checks n, whose DUT is reachable, against the dut.Network
// contract. It runs its checks as subtests, in order, on the same n.
func Conformance(t *testing.T, n dut.Network) {
	t.Helper()
	ConformanceWith(t, n, Options{})
}

// ConformanceWith is Conformance with options.
func ConformanceWith(t *testing.T, n dut.Network, o Options) {
	t.Helper()
	if o.CallTimeout == 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.Prompt == 0 {
		o.Prompt = time.Second
	}
	t.Run("Address", func(t *testing.T) {
		if o.Unreachable != "" {
			t.Skip("the DUT is unreachable: " + o.Unreachable)
		}
		ctx, cancel := context.WithTimeout(t.Context(), o.CallTimeout)
		defer cancel()
		a, err := n.Address(ctx)
		if err != nil {
			t.Fatalf("Address: %v", err)
		}
		if _, err := netip.ParseAddr(a.IP); err != nil {
			t.Errorf("Address().IP = %q: %v", a.IP, err)
		}
		host, port, err := net.SplitHostPort(a.SSH)
		if err != nil {
			t.Errorf("Address().SSH = %q is not host:port: %v", a.SSH, err)
		} else {
			if host == "" {
				t.Errorf("Address().SSH = %q has no host", a.SSH)
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				t.Errorf("Address().SSH = %q: port %q is not a TCP port", a.SSH, port)
			}
		}
		if a.Gateway != "" {
			if _, err := netip.ParseAddr(a.Gateway); err != nil {
				t.Errorf("Address().Gateway = %q: %v", a.Gateway, err)
			}
		}
		again, err := n.Address(ctx)
		if err != nil {
			t.Fatalf("Address, asked again: %v", err)
		}
		if again != a {
			t.Errorf("Address = %+v, then %+v; want the same answer", a, again)
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		if o.Unreachable == "" {
			t.Skip("the DUT is reachable: Address succeeds before any deadline")
		}
		const d = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		start := time.Now()
		a, err := n.Address(ctx)
		if took := time.Since(start); took > d+o.Prompt {
			t.Errorf("Address with a %v deadline took %v; want at most %v", d, took, d+o.Prompt)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Address of an unreachable DUT = %+v, %v; want an error wrapping context.DeadlineExceeded", a, err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start := time.Now()
		a, err := n.Address(ctx)
		if d := time.Since(start); d > o.Prompt {
			t.Errorf("Address with a cancelled context took %v; want at most %v", d, o.Prompt)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Address with a cancelled context = %+v, %v; want an error wrapping context.Canceled", a, err)
		}
	})
}
