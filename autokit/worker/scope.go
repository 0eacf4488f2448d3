package worker

import (
	"context"
	"crypto/subtle"
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
	// done is closed when that lease ends.
	done <-chan struct{}
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
	return scope{lease: l.id, consoleStart: l.consoleStart, done: l.done}, true
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
// must not go on into the next lease's output.
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
