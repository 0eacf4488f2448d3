package worker

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
)

// scope is what a request may do, from the credential it sent.
type scope struct {
	// admin is the worker's token (or a worker without one): every
	// request, every lease, the whole console.
	admin bool
	// lease is the live lease whose id the request sent as its bearer
	// token: requests on that lease only.
	lease string
	// consoleStart is the console offset when that lease began; earlier
	// output belongs to earlier jobs.
	consoleStart int64
	// done is closed when that lease ends; ended then says where its
	// console ends.
	done  <-chan struct{}
	ended func() (int64, bool)
}

type scopeKey struct{}

func withScope(ctx context.Context, s scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// scopeOf returns the request's scope; a request that did not pass
// authenticate (none in practice) gets the narrowest, an empty lease.
func scopeOf(ctx context.Context) scope {
	s, _ := ctx.Value(scopeKey{}).(scope)
	return s
}

// leaseScope returns the scope of a request whose bearer token is id, when
// id is the live lease's.
func (w *Worker) leaseScope(id string) (scope, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.liveLease(w.clock.Now())
	if l == nil || subtle.ConstantTimeCompare([]byte(id), []byte(l.id)) != 1 {
		return scope{}, false
	}
	return scope{lease: l.id, consoleStart: l.consoleStart, done: l.done, ended: l.ended}, true
}

// minConsoleOffset is the first console byte the request may read.
func (s scope) minConsoleOffset() int64 {
	if s.admin {
		return 0
	}
	return s.consoleStart
}

// bound returns ctx ended also when the request's lease ends: a stream a
// lease's token started (following the console, waiting for a pattern)
// must not go on into the next lease's output. The context ends a moment
// after the lease; consoleWriter and pastEnd hold the line in between.
func (s scope) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if s.done != nil {
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}

// errLeaseEnded stops a stream its lease has outlived.
var errLeaseEnded = errors.New("worker: the lease ended")

// pastEnd reports whether console output up to offset off was printed
// after the request's lease ended.
func (s scope) pastEnd(off int64) bool {
	if s.ended == nil {
		return false
	}
	end, ok := s.ended()
	return ok && off > end
}

// consoleWriter copies a followed console from offset pos on to w, and
// stops at the console's end as it was when the request's lease ended.
type consoleWriter struct {
	w     io.Writer
	pos   int64
	scope scope
}

func (c *consoleWriter) Write(p []byte) (int, error) {
	if c.scope.ended != nil {
		if end, ok := c.scope.ended(); ok && c.pos+int64(len(p)) > end {
			keep := max(end-c.pos, 0)
			n, _ := c.w.Write(p[:keep])
			c.pos += int64(n)
			return n, errLeaseEnded
		}
	}
	n, err := c.w.Write(p)
	c.pos += int64(n)
	return n, err
}
