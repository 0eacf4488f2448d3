package gotest

import (
	"context"
	"fmt"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
)

// Worker names the worker the suites drive.
type Worker struct {
	URL   string
	Token string
	Lease string // an existing lease id; when empty, RunOnWorker takes one
	Owner string // lease owner when it takes one
}

// RunOnWorker runs the suites against a worker. It checks the worker
// answers, takes a lease unless one is given (heartbeating it and releasing
// it at the end), passes the worker and the lease to the suites through
// the environment and gives each test its console excerpt. The suites get
// the lease's id as their only credential, never w.Token: on a worker with
// a token it is good for that lease only, while it lives.
func RunOnWorker(ctx context.Context, w Worker, opts Options) (*Summary, error) {
	c, err := client.New(w.URL, client.WithToken(w.Token), client.WithLease(w.Lease))
	if err != nil {
		return nil, fmt.Errorf("gotest: %w", err)
	}
	if _, err := c.Health(ctx); err != nil {
		return nil, fmt.Errorf("gotest: %w", err)
	}
	if w.Lease == "" {
		owner := w.Owner
		if owner == "" {
			owner = "testrunner"
		}
		l, err := c.Lease(ctx, owner, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("gotest: %w", err)
		}
		w.Lease = l.ID
		kctx, stop := context.WithCancel(context.Background())
		c.KeepAlive(kctx, l, 10*time.Second)
		defer func() {
			stop()
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c.Release(rctx, l.ID)
		}()
	}
	opts.Env = append(opts.Env, "LEVIATHAN_WORKER_URL="+w.URL, "LEVIATHAN_LEASE="+w.Lease)
	if opts.Serial == nil {
		opts.Serial = func(ctx context.Context, off int64) ([]byte, int64, error) { return c.SerialLog(ctx, off) }
	}
	return Run(ctx, opts)
}
