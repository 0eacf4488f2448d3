package testbot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
)

// ErrLeaseLost is the cause of a held lease's context once the worker no
// longer knows the lease (it expired, or the admin released it).
var ErrLeaseLost = errors.New("testbot: the DUT's lease was lost")

// Held is a lease taken by Hold and kept alive until Release.
type Held struct {
	// Lease is the lease as the worker granted it.
	Lease *api.Lease
	// Client is a client of the same worker acting under the lease.
	Client *client.Client
	admin  *client.Client
	stop   context.CancelFunc
}

// Hold takes a lease on the DUT of the worker at workerURL (whose admin
// token is token, "" for a worker without one) for owner and heartbeats it every
// interval (a third of the TTL when 0). The returned context is ctx,
// cancelled with ErrLeaseLost as its cause when the worker drops the
// lease. Call Release when done, on every path.
func Hold(ctx context.Context, workerURL, token, owner string, ttl, interval time.Duration) (*Held, context.Context, error) {
	admin, err := client.New(workerURL, client.WithToken(token))
	if err != nil {
		return nil, ctx, fmt.Errorf("testbot: %w", err)
	}
	l, err := admin.Lease(ctx, owner, ttl)
	if err != nil {
		return nil, ctx, fmt.Errorf("testbot: leasing the DUT: %w", err)
	}
	leased, err := client.New(workerURL, client.WithToken(token), client.WithLease(l.ID))
	if err != nil {
		return nil, ctx, fmt.Errorf("testbot: %w", err)
	}
	held, cancel := context.WithCancelCause(ctx)
	kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	lost := leased.KeepAlive(kctx, l, interval)
	go func() {
		if err, ok := <-lost; ok && err != nil {
			cancel(fmt.Errorf("%w: %w", ErrLeaseLost, err))
		}
	}()
	return &Held{Lease: l, Client: leased, admin: admin, stop: func() { stop(); cancel(nil) }}, held, nil
}

// Release stops the heartbeats and releases the lease, which powers the
// DUT off. It is bounded by 30 seconds whatever ctx says, so that a
// cancelled run still frees the DUT.
func (h *Held) Release(ctx context.Context) error {
	h.stop()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := h.admin.Release(rctx, h.Lease.ID); err != nil {
		return fmt.Errorf("testbot: releasing the DUT's lease: %w", err)
	}
	return nil
}

// leaseCause returns err, or the lease's loss when that is why ctx ended.
func leaseCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && errors.Is(c, ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
		return fmt.Errorf("%w (%w)", err, c)
	}
	return err
}
