// Package fallback finds the DUT's address for the network drivers: from
// the DHCP lease first and, when no lease comes in time and an mDNS name
// is configured, by mDNS on the DUT's interface.
//
// Limits: the two are tried one after the other, not at once: a DUT
// with a static address is found only once the lease wait has given up,
// which takes the lease's share of Address's time.
package fallback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/balena/leviathan-action/autokit/network/mdns"
)

// Share is the part of total that Lookup keeps for mDNS: a quarter, at
// most 10 s. One answer takes milliseconds; the rest covers lost
// packets and a responder still probing its name.
func Share(total time.Duration) time.Duration { return min(total/4, 10*time.Second) }

// Lease waits for the DUT's DHCP lease until ctx ends.
type Lease func(ctx context.Context) (netip.Addr, error)

// Lookup returns the DUT's address from lease. When name is set, lease
// gets ctx's time less the mDNS Share and, if it runs out of time (its
// error wraps context.DeadlineExceeded), Lookup asks for name by mDNS on
// iface until ctx ends; other lease errors (a DHCP server that died, a
// cancelled ctx) are returned as they are. When both fail the error
// wraps both; the driver puts its name in front. ctx should have a
// deadline: without one the lease wait takes all the time there is.
func Lookup(ctx context.Context, lease Lease, iface, name string, log *slog.Logger) (netip.Addr, error) {
	if name == "" {
		return lease(ctx)
	}
	leaseCtx := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		leaseCtx, cancel = context.WithDeadline(ctx, d.Add(-Share(time.Until(d))))
		defer cancel()
	}
	a, err := lease(leaseCtx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		return a, err
	}
	log.Info("no DHCP lease in time; asking by mDNS", "name", name, "interface", iface)
	a, merr := mdns.Resolve(ctx, iface, name, mdns.WithLogger(log))
	if merr != nil {
		return netip.Addr{}, fmt.Errorf("no DUT address from a DHCP lease or by mDNS: %w; %w", err, merr)
	}
	log.Info("DUT address from mDNS (no DHCP lease)", "ip", a, "name", name, "interface", iface)
	return a, nil
}
