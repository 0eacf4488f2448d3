package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/autokit/worker/workertest"
)

func TestToken(t *testing.T) {
	e := newEnv(t, worker.WithToken("s3cret"))
	for _, tc := range []struct {
		name   string
		opts   []client.Option
		status int // 0: success
		want   string
	}{
		{name: "missing", status: http.StatusUnauthorized, want: "needs a token"},
		{name: "wrong", opts: []client.Option{client.WithToken("guess")}, status: http.StatusUnauthorized, want: "wrong token"},
		{name: "right", opts: []client.Option{client.WithToken("s3cret")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(t, tc.opts...)
			h, err := c.Health(ctxT(t, 5*time.Second))
			if tc.status != 0 {
				wantStatus(t, err, tc.status, tc.want)
				return
			}
			if err != nil || !h.OK || h.DUT != "fake" {
				t.Fatalf("Health = %+v, %v", h, err)
			}
		})
	}
}

func TestLeaseConflict(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t, 5*time.Second)
	alice := e.client(t)
	l, err := alice.Lease(ctx, "alice", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if l.Owner != "alice" || l.ID == "" || time.Until(l.Expires) < 50*time.Second {
		t.Fatalf("lease = %+v", l)
	}
	bob := e.client(t)
	_, err = bob.Lease(ctx, "bob", time.Minute)
	wantStatus(t, err, http.StatusConflict, `leased by "alice" until`)

	h, err := bob.Health(ctx)
	if err != nil || !h.Leased || h.LeaseOwner != "alice" || h.LeaseExpires == nil {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	// Release frees the DUT and powers it off.
	if err := alice.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if err := alice.Release(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.d.State(ctx); s != dut.PowerOff {
		t.Fatalf("after release the DUT is %s", s)
	}
	if _, err := bob.Lease(ctx, "bob", time.Minute); err != nil {
		t.Fatalf("bob cannot lease a released DUT: %v", err)
	}
	wantStatus(t, alice.Release(ctx, l.ID), http.StatusNotFound, "unknown or expired")
}

func TestLeaseRequired(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t, 10*time.Second)
	holder := e.client(t)
	l, err := holder.Lease(ctx, "holder", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func(c *client.Client) error
	}{
		{"power on", func(c *client.Client) error { return c.PowerOn(ctx) }},
		{"power off", func(c *client.Client) error { return c.PowerOff(ctx) }},
		{"flash", func(c *client.Client) error {
			_, err := c.Flash(ctx, strings.NewReader("x"), 1, "", nil)
			return err
		}},
		{"serial write", func(c *client.Client) error { return c.SerialWrite(ctx, []byte("x")) }},
		{"exec", func(c *client.Client) error { _, err := c.Exec(ctx, "true", nil, nil); return err }},
		{"wait online", func(c *client.Client) error { _, err := c.WaitOnline(ctx, time.Second); return err }},
		{"keyboard", func(c *client.Client) error { return c.Press(ctx, "a") }},
		{"teardown", func(c *client.Client) error { return c.Teardown(ctx) }},
	}
	for _, who := range []struct {
		name string
		opts []client.Option
		want string
	}{
		{"missing", nil, `leased by "holder"`},
		{"stale", []client.Option{client.WithLease("OLDLEASEID")}, `lease OLDLEASE… is stale: the DUT is leased by "holder"`},
	} {
		for _, tc := range calls {
			t.Run(who.name+"/"+tc.name, func(t *testing.T) {
				wantStatus(t, tc.call(e.client(t, who.opts...)), http.StatusLocked, who.want)
			})
		}
	}
	if err := holder.Release(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("not leased", func(t *testing.T) {
		wantStatus(t, e.client(t).PowerOn(ctx), http.StatusLocked, "not leased", api.HeaderLease)
	})
	t.Run("released lease", func(t *testing.T) {
		wantStatus(t, holder.PowerOn(ctx), http.StatusLocked, "not leased")
	})
}

// epoch is where the tests' manual clocks start.
var epoch = time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)

// receive returns what c gets, failing the test if ctx ends first.
func receive[T any](t *testing.T, ctx context.Context, what string, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
	}
	panic("unreachable")
}

// advance moves clk by d once n goroutines (the reaper, KeepAlives) wait
// on it, so that none misses the step.
func advance(t *testing.T, ctx context.Context, clk *workertest.Clock, n int, d time.Duration) {
	t.Helper()
	if err := clk.WaitFor(ctx, n); err != nil {
		t.Fatal(err)
	}
	clk.Advance(d)
}

func TestLeaseHeartbeatAndExpiry(t *testing.T) {
	var logs lockedBuffer
	clk := workertest.NewClock(epoch)
	ended := make(chan string, 1)
	e := newEnv(t, worker.WithClock(clk), worker.WithLeaseCheckInterval(time.Second),
		worker.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		worker.WithLeaseEnd(func(ctx context.Context, l api.Lease, reason string) { ended <- reason }))
	c := e.client(t, client.WithClock(clk))
	ctx := ctxT(t, 10*time.Second)
	const ttl = time.Minute
	l, err := c.Lease(ctx, "ci", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Expires.Equal(epoch.Add(ttl)) {
		t.Fatalf("lease expires %v, want %v", l.Expires, epoch.Add(ttl))
	}
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	// Heartbeats keep it alive past several TTLs: each step waits until
	// both the reaper and KeepAlive have come round.
	kctx, stopKeepAlive := context.WithCancel(ctx)
	lost := c.KeepAlive(kctx, l, ttl/5)
	for range 15 {
		advance(t, ctx, clk, 2, ttl/5)
	}
	if err := clk.WaitFor(ctx, 2); err != nil {
		t.Fatal(err)
	}
	lastBeat := clk.Now()
	h, err := c.Health(ctx)
	if err != nil || !h.Leased || h.Power != dut.PowerOn || h.LeaseExpires == nil || !h.LeaseExpires.Equal(lastBeat.Add(ttl)) {
		t.Fatalf("with heartbeats, 3 TTLs on: Health = %+v, %v; want leased until %v", h, err, lastBeat.Add(ttl))
	}
	stopKeepAlive()
	if err, ok := <-lost; ok {
		t.Fatalf("KeepAlive reported %v", err)
	}
	// Without them the lease lives out its TTL, not a moment more, and
	// then the DUT is powered off.
	advance(t, ctx, clk, 1, ttl-time.Millisecond)
	if err := clk.WaitFor(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if h, err := c.Health(ctx); err != nil || !h.Leased {
		t.Fatalf("just before the TTL ran out: Health = %+v, %v", h, err)
	}
	clk.Advance(time.Millisecond)
	if h, err := c.Health(ctx); err != nil || h.Leased {
		t.Fatalf("once the TTL ran out: Health = %+v, %v; want the lease over", h, err)
	}
	// The reaper's next round (every second) powers the DUT off.
	advance(t, ctx, clk, 1, time.Second)
	if reason := receive(t, ctx, "the lease to expire", ended); reason != "expired" {
		t.Fatalf("the lease ended %q, want expired", reason)
	}
	if h, err := c.Health(ctx); err != nil || h.Leased || h.Power != dut.PowerOff || h.Stats.LeasesExpired != 1 {
		t.Fatalf("after the TTL: Health = %+v, %v; want free, off, one lease expired", h, err)
	}
	if !strings.Contains(logs.String(), "lease expired") || !strings.Contains(logs.String(), "owner=ci") {
		t.Errorf("the expiry was not logged:\n%s", logs.String())
	}
	_, err = c.Heartbeat(ctx, l.ID)
	wantCode(t, err, api.CodeLeaseUnknown, "unknown or expired")
	wantCode(t, c.PowerOn(ctx), api.CodeLeaseStale, "stale")
}

func TestKeepAliveReportsLostLease(t *testing.T) {
	clk := workertest.NewClock(epoch)
	e := newEnv(t, worker.WithClock(clk))
	c := e.client(t, client.WithClock(clk))
	ctx := ctxT(t, 10*time.Second)
	l, err := c.Lease(ctx, "ci", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	lost := c.KeepAlive(ctx, l, 0) // every third of the minute left
	if err := c.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	advance(t, ctx, clk, 2, 20*time.Second)
	wantCode(t, receive(t, ctx, "KeepAlive to report the lost lease", lost), api.CodeLeaseUnknown)
}

func TestTeardown(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	ctx := ctxT(t, 10*time.Second)
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "true", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(ctx)
	if err != nil || h.Leased || h.Power != dut.PowerOff {
		t.Fatalf("after teardown: Health = %+v, %v", h, err)
	}
	if c.LeaseID() != "" {
		t.Errorf("the client still holds lease %q", c.LeaseID())
	}
	// SSH was closed: the next session dials again.
	before := e.ssh.Accepted()
	c2 := e.leased(t)
	if err := c2.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Exec(ctx, "true", nil, nil); err != nil {
		t.Fatal(err)
	}
	if e.ssh.Accepted() != before+1 {
		t.Errorf("accepted %d connections; want a new one after teardown", e.ssh.Accepted()-before)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  worker.Option
		want string
	}{
		{"bad fatal pattern", worker.WithFatalPatterns("("), "fatal console pattern"},
		{"zero interval", worker.WithLeaseCheckInterval(0), "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := worker.New(bareDUT{}, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestLeaseEndHookAndStats(t *testing.T) {
	type ended struct {
		owner, reason string
		off           bool
	}
	got := make(chan ended, 2)
	clk := workertest.NewClock(epoch)
	var e *env
	e = newEnv(t, worker.WithClock(clk),
		worker.WithLeaseEnd(func(ctx context.Context, l api.Lease, reason string) {
			s, _ := e.d.State(ctx)
			got <- ended{l.Owner, reason, s == dut.PowerOff}
		}))
	c := e.client(t)
	ctx := ctxT(t, 10*time.Second)

	l, err := c.Lease(ctx, "released-job", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLease(l.ID)
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitOnline(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lease(ctx, "dead-job", time.Minute); err != nil {
		t.Fatal(err)
	}
	advance(t, ctx, clk, 1, time.Minute)
	want := []ended{{"released-job", "released", true}, {"dead-job", "expired", true}}
	for i, w := range want {
		if g := receive(t, ctx, fmt.Sprintf("lease end %d", i+1), got); g != w {
			t.Errorf("lease-end call %d = %+v, want %+v (after the DUT was off)", i+1, g, w)
		}
	}

	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Stats.Boots != 1 || h.Stats.BootFailures != 0 || h.Stats.LastBootSeconds <= 0 || h.Stats.LeasesExpired != 1 {
		t.Errorf("stats = %+v, want one good boot and one expired lease", h.Stats)
	}
}
