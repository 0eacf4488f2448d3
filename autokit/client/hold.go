package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
)

// ErrLeaseLost is the cause of a held lease's context once the worker no
// longer knows the lease (it expired, or the admin released it).
var ErrLeaseLost = errors.New("client: the DUT's lease was lost")

// Held is a lease taken by Hold and kept alive until Release.
type Held struct {
	// Lease is the lease as the worker granted it.
	Lease *api.Lease
	// Client is a client of the same worker acting under the lease.
	Client *Client
	admin  *Client
	stop   func()
}

// Hold takes a lease on the worker's DUT for owner with c's credential
// and heartbeats it every interval (a third of the TTL when 0). The
// returned context is ctx, cancelled with ErrLeaseLost as its cause when
// the worker drops the lease. Call Release when done, on every path.
func (c *Client) Hold(ctx context.Context, owner string, ttl, interval time.Duration) (*Held, context.Context, error) {
	l, err := c.Lease(ctx, owner, ttl)
	if err != nil {
		return nil, ctx, err
	}
	leased := &Client{base: c.base, hc: c.hc, token: c.token, clock: c.clock, lease: l.ID}
	held, cancel := context.WithCancelCause(ctx)
	kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	lost := leased.KeepAlive(kctx, l, interval)
	go func() {
		if err, ok := <-lost; ok && err != nil {
			cancel(fmt.Errorf("%w: %w", ErrLeaseLost, err))
		}
	}()
	return &Held{Lease: l, Client: leased, admin: c, stop: func() { stop(); cancel(nil) }}, held, nil
}

// Release stops the heartbeats and releases the lease, which powers the
// DUT off. It is bounded by 30 seconds whatever ctx says, so that a
// cancelled run still frees the DUT.
func (h *Held) Release(ctx context.Context) error {
	h.stop()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return h.admin.Release(rctx, h.Lease.ID)
}
