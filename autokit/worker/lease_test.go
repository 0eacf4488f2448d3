package worker_test

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/worker"
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

func TestLeaseHeartbeatAndExpiry(t *testing.T) {
	var logs lockedBuffer
	e := newEnv(t, worker.WithLeaseCheckInterval(10*time.Millisecond),
		worker.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	c := e.client(t)
	ctx := ctxT(t, 10*time.Second)
	const ttl = 200 * time.Millisecond
	l, err := c.Lease(ctx, "ci", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	// Heartbeats keep it alive past several TTLs.
	kctx, stopKeepAlive := context.WithCancel(ctx)
	lost := c.KeepAlive(kctx, l, ttl/5)
	time.Sleep(2 * ttl)
	h, err := c.Health(ctx)
	if err != nil || !h.Leased || h.Power != dut.PowerOn {
		t.Fatalf("with heartbeats: Health = %+v, %v", h, err)
	}
	stopKeepAlive()
	if err, ok := <-lost; ok {
		t.Fatalf("KeepAlive reported %v", err)
	}
	// Without them the lease expires and the DUT is powered off.
	eventually(t, "the lease to expire", func() bool {
		h, err := c.Health(ctx)
		return err == nil && !h.Leased
	})
	eventually(t, "the DUT to be powered off", func() bool {
		s, _ := e.d.State(ctx)
		return s == dut.PowerOff
	})
	if !strings.Contains(logs.String(), "lease expired") || !strings.Contains(logs.String(), "owner=ci") {
		t.Errorf("the expiry was not logged:\n%s", logs.String())
	}
	_, err = c.Heartbeat(ctx, l.ID)
	wantStatus(t, err, http.StatusNotFound, "unknown or expired")
	wantStatus(t, c.PowerOn(ctx), http.StatusLocked, "stale")
}

func TestKeepAliveReportsLostLease(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	ctx := ctxT(t, 10*time.Second)
	l, err := c.Lease(ctx, "ci", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	lost := c.KeepAlive(ctx, l, 10*time.Millisecond)
	if err := c.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		wantStatus(t, err, http.StatusNotFound)
	case <-ctx.Done():
		t.Fatal("KeepAlive did not report the lost lease")
	}
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
	var mu sync.Mutex
	var got []ended
	var e *env
	e = newEnv(t, worker.WithLeaseCheckInterval(10*time.Millisecond),
		worker.WithLeaseEnd(func(ctx context.Context, l api.Lease, reason string) {
			s, _ := e.d.State(ctx)
			mu.Lock()
			got = append(got, ended{l.Owner, reason, s == dut.PowerOff})
			mu.Unlock()
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
	if _, err := c.Lease(ctx, "dead-job", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dead job's lease to expire", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	want := []ended{{"released-job", "released", true}, {"dead-job", "expired", true}}
	mu.Lock()
	if !slices.Equal(got, want) {
		t.Errorf("lease-end calls = %+v, want %+v (each after the DUT was off)", got, want)
	}
	mu.Unlock()

	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Stats.Boots != 1 || h.Stats.BootFailures != 0 || h.Stats.LastBootSeconds <= 0 || h.Stats.LeasesExpired != 1 {
		t.Errorf("stats = %+v, want one good boot and one expired lease", h.Stats)
	}
}
