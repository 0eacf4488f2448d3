package worker

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/duttest"
)

// TestRecordingEndsWithTheLease checks that every way a lease ends drops
// its recording and stops its console follower.
func TestRecordingEndsWithTheLease(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		end  func(ctx context.Context, w *Worker, c *client.Client, id string) error
	}{
		{"released", time.Minute, func(ctx context.Context, _ *Worker, c *client.Client, id string) error { return c.Release(ctx, id) }},
		{"teardown", time.Minute, func(ctx context.Context, _ *Worker, c *client.Client, _ string) error { return c.Teardown(ctx) }},
		{"expired", 50 * time.Millisecond, func(context.Context, *Worker, *client.Client, string) error { return nil }},
		{"worker closed", time.Minute, func(ctx context.Context, w *Worker, _ *client.Client, _ string) error { return w.Close(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w, err := New(duttest.New(t), WithLeaseCheckInterval(10*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close(context.Background())
			srv := httptest.NewServer(w.Handler())
			defer srv.Close()
			c, err := client.New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			l, err := c.Lease(ctx, "test", tc.ttl)
			if err != nil {
				t.Fatal(err)
			}
			rc := w.rec.Load()
			if rc == nil || rc.leaseID != l.ID {
				t.Fatalf("no recording for the new lease")
			}
			if err := tc.end(ctx, w, c, l.ID); err != nil {
				t.Fatal(err)
			}
			for w.rec.Load() != nil {
				if ctx.Err() != nil {
					t.Fatal("the recording outlived its lease")
				}
				time.Sleep(5 * time.Millisecond)
			}
			// The recording is swapped out before it is closed, and an
			// expired lease is ended by the reaper, which holds transMu
			// until the lease's end has run: wait for that, not for the
			// swap alone.
			w.transMu.Lock()
			w.transMu.Unlock()
			select {
			case <-rc.done:
			default:
				t.Error("the console follower still runs")
			}
			if rc.rec.StartCall("GET", "/v1/dut", "") != nil {
				t.Error("the dropped recording still records")
			}
		})
	}
}

// TestLeaseCallAfterAnExpiredLease: a lease taken when the last one has
// expired but was not reaped yet starts its recording with its own call.
func TestLeaseCallAfterAnExpiredLease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := New(duttest.New(t), WithLeaseCheckInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lease(ctx, "first", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if _, err := c.Lease(ctx, "second", time.Minute); err != nil {
		t.Fatal(err)
	}
	rec := w.rec.Load().rec.Snapshot()
	if len(rec.Events) == 0 || rec.Events[0].Call == nil {
		t.Fatalf("the new recording starts with %+v, want its lease call", rec.Events)
	}
	if call := rec.Events[0].Call; call.Seq != 1 || call.Path != "/v1/lease" || call.Status != 201 || !strings.Contains(string(call.Body), "second") {
		t.Errorf("first call = %+v (body %q), want the second lease's POST /v1/lease", call, call.Body)
	}
}
