package worker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/internal/ctxtime"
)

// reapTimeout bounds powering off after a lease expired.
const reapTimeout = time.Minute

// liveLease returns the current lease unless it has expired. w.mu held.
func (w *Worker) liveLease(now time.Time) *lease {
	if w.lease == nil || !now.Before(w.lease.expires) {
		return nil
	}
	return w.lease
}

// checkLease returns a 423 error unless id is the live lease's id.
func (w *Worker) checkLease(id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.liveLease(w.clock.Now())
	switch {
	case l == nil && id == "":
		return errorf(api.CodeLeaseRequired, "worker: this request needs a lease, and the DUT is not leased: take one with POST %s and send its id in the %s header", api.PathLease, api.HeaderLease)
	case l == nil:
		return errorf(api.CodeLeaseStale, "worker: lease %s is stale (expired or released) and the DUT is not leased: take a new lease", short(id))
	case id == "":
		return errorf(api.CodeLeaseRequired, "worker: the DUT is leased by %q until %s: send that lease's id in the %s header", l.owner, l.expires.Format(time.RFC3339), api.HeaderLease)
	case subtle.ConstantTimeCompare([]byte(id), []byte(l.id)) != 1:
		return errorf(api.CodeLeaseStale, "worker: lease %s is stale: the DUT is leased by %q until %s", short(id), l.owner, l.expires.Format(time.RFC3339))
	}
	return nil
}

// consoleLen is the console capture's length, 0 without a console.
func (w *Worker) consoleLen() int64 {
	c, ok := dut.As[dut.Console](w.d, dut.CapConsole)
	if !ok || c.Log() == nil {
		return 0
	}
	return c.Log().Len()
}

// end ends the lease: what its token started reads the console up to
// consoleLen only, and stops.
func (l *lease) end(consoleLen int64) {
	l.consoleEnd = consoleLen
	close(l.done)
}

// ended returns the console's length when the lease ended, once it has.
func (l *lease) ended() (int64, bool) {
	select {
	case <-l.done:
		return l.consoleEnd, true // written before done was closed
	default:
		return 0, false
	}
}

// short abbreviates a lease id for messages and logs.
func short(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}

func (w *Worker) postLease(rw http.ResponseWriter, r *http.Request) error {
	var req api.LeaseRequest
	if err := decode(rw, r, &req); err != nil {
		return err
	}
	if req.Owner == "" {
		return errorf(api.CodeBadRequest, "worker: a lease needs an owner")
	}
	ttl := api.DefaultLeaseTTL
	switch {
	case req.TTLSeconds == 0:
	case !(req.TTLSeconds > 0): // NaN too
		return errorf(api.CodeBadRequest, "worker: ttl_seconds %v: must be positive", req.TTLSeconds)
	case req.TTLSeconds > w.maxTTL.Seconds():
		return errorf(api.CodeBadRequest, "worker: ttl_seconds %v is longer than this worker allows between heartbeats (%v): renew the lease with heartbeats instead (leviathan worker --max-lease-ttl)", req.TTLSeconds, w.maxTTL)
	default:
		ttl = api.Duration(req.TTLSeconds)
	}
	ttl = min(ttl, w.maxTTL)
	w.transMu.Lock()
	defer w.transMu.Unlock()
	w.reapLocked()
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.lease; l != nil {
		return errorf(api.CodeLeaseHeld, "worker: the DUT is already leased by %q until %s", l.owner, l.expires.Format(time.RFC3339))
	}
	l := &lease{id: rand.Text(), owner: req.Owner, ttl: ttl, expires: w.clock.Now().Add(ttl), consoleStart: w.consoleLen(), done: make(chan struct{})}
	w.lease = l
	recordLeaseCall(r.Context(), w.startRecording(l))
	w.log.Info("lease taken", "owner", l.owner, "lease", short(l.id), "ttl", ttl)
	writeJSON(rw, http.StatusCreated, l.api())
	return nil
}

func (w *Worker) postHeartbeat(rw http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if sc := scopeOf(r.Context()); !sc.admin && subtle.ConstantTimeCompare([]byte(id), []byte(sc.lease)) != 1 {
		return errorf(api.CodeForbidden, "worker: a lease's token renews its own lease only")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.liveLease(w.clock.Now())
	if l == nil || subtle.ConstantTimeCompare([]byte(id), []byte(l.id)) != 1 {
		return errorf(api.CodeLeaseUnknown, "worker: lease %s is unknown or expired", short(id))
	}
	l.expires = w.clock.Now().Add(l.ttl)
	writeJSON(rw, http.StatusOK, l.api())
	return nil
}

func (w *Worker) deleteLease(rw http.ResponseWriter, r *http.Request) error {
	if err := w.release(r.Context(), r.PathValue("id"), "lease released"); err != nil {
		return err
	}
	rw.WriteHeader(http.StatusNoContent)
	return nil
}

func (w *Worker) postTeardown(rw http.ResponseWriter, r *http.Request) error {
	if err := w.release(r.Context(), r.Header.Get(api.HeaderLease), "teardown"); err != nil {
		return err
	}
	rw.WriteHeader(http.StatusNoContent)
	return nil
}

// release ends the lease id, then powers the DUT off and closes SSH.
func (w *Worker) release(ctx context.Context, id, why string) error {
	w.transMu.Lock()
	defer w.transMu.Unlock()
	w.mu.Lock()
	l := w.liveLease(w.clock.Now())
	if l == nil || subtle.ConstantTimeCompare([]byte(id), []byte(l.id)) != 1 {
		w.mu.Unlock()
		return errorf(api.CodeLeaseUnknown, "worker: lease %s is unknown or expired", short(id))
	}
	w.lease = nil
	l.end(w.consoleLen())
	w.mu.Unlock()
	w.log.Info(why, "owner", l.owner, "lease", short(l.id))
	err := w.powerOff(ctx)
	reason := "released"
	if why == "teardown" {
		reason = "teardown"
	}
	w.endLease(l, reason)
	if err != nil {
		return errorf(api.CodeInternal, "worker: the lease is released but the DUT may still be on: %w", err)
	}
	return nil
}

// endLease runs the lease-end hook. w.transMu held.
func (w *Worker) endLease(l *lease, reason string) {
	w.stopRecording(l)
	w.dropLeaseFiles(l)
	if w.leaseEnd == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), reapTimeout)
	defer cancel()
	w.leaseEnd(ctx, l.api(), reason)
}

// leaseLoop reaps expired leases until Close.
func (w *Worker) leaseLoop() {
	defer close(w.loopDone)
	for ctxtime.WaitFor(w.clock, w.leaseEvery, w.stop) {
		w.transMu.Lock()
		w.reapLocked()
		w.transMu.Unlock()
	}
}

// reapLocked frees an expired lease, powers the DUT off and closes SSH.
// w.transMu held.
func (w *Worker) reapLocked() {
	w.mu.Lock()
	l := w.lease
	if l == nil {
		w.mu.Unlock()
		w.powerOffUnleased()
		return
	}
	if w.clock.Now().Before(l.expires) {
		w.mu.Unlock()
		return
	}
	w.lease = nil
	l.end(w.consoleLen())
	w.stats.LeasesExpired++
	w.mu.Unlock()
	w.log.Warn("lease expired without a heartbeat; powering the DUT off", "owner", l.owner, "lease", short(l.id), "expired", l.expires)
	ctx, cancel := context.WithTimeout(context.Background(), reapTimeout)
	defer cancel()
	if err := w.powerOff(ctx); err != nil {
		w.log.Error("powering off after the lease expired failed", "owner", l.owner, "err", err)
	}
	w.endLease(l, "expired")
}

// powerOffUnleased powers off a DUT that is on while no lease holds it
// (a request from a dead job that was still in flight when its lease
// ended), so a free DUT is always an off DUT.
func (w *Worker) powerOffUnleased() {
	ctx, cancel := context.WithTimeout(context.Background(), reapTimeout)
	defer cancel()
	if st, err := w.d.State(ctx); err != nil || st != dut.PowerOn {
		return
	}
	w.mu.Lock()
	leased := w.lease != nil
	w.mu.Unlock()
	if leased {
		return
	}
	w.log.Warn("the DUT is on but no lease holds it; powering it off", "dut", w.d.Name())
	if err := w.powerOff(ctx); err != nil {
		w.log.Error("powering off an unleased DUT failed", "err", err)
	}
}
