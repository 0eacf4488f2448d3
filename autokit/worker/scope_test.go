package worker_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/worker"
)

// A job holds only its lease's id. These are the ways it could try to
// reach past that lease; every one must fail.
func TestLeaseTokenStaysInItsLease(t *testing.T) {
	e := newEnv(t, worker.WithToken("admin-secret"))
	ctx := ctxT(t, 10*time.Second)
	e.d.Print("earlier job: password=hunter2\n")
	admin, job, l := e.jobLease(t, "admin-secret")
	e.d.Print("this job: booting\n")
	if h, err := job.Health(ctx); err != nil || !h.Leased {
		t.Fatalf("the lease's token cannot read health: %+v, %v", h, err)
	}
	if err := job.PowerOn(ctx); err != nil {
		t.Fatalf("the lease's token cannot power its DUT on: %v", err)
	}
	if _, err := job.Heartbeat(ctx, l.ID); err != nil {
		t.Fatalf("the lease's token cannot renew its lease: %v", err)
	}

	t.Run("take a second lease", func(t *testing.T) {
		_, err := job.Lease(ctx, "mine", time.Minute)
		wantStatus(t, err, http.StatusForbidden, "needs the worker's token")
	})
	t.Run("release its lease to take a fresh one", func(t *testing.T) {
		wantStatus(t, job.Release(ctx, l.ID), http.StatusForbidden, "needs the worker's token")
	})
	t.Run("teardown", func(t *testing.T) {
		wantStatus(t, job.Teardown(ctx), http.StatusForbidden, "needs the worker's token")
	})
	t.Run("renew another lease", func(t *testing.T) {
		_, err := job.Heartbeat(ctx, "SOMEOTHERLEASE")
		wantStatus(t, err, http.StatusForbidden, "its own lease only")
	})
	t.Run("console before the lease", func(t *testing.T) {
		p, _, err := job.SerialLog(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(p, []byte("hunter2")) {
			t.Fatalf("the lease's token read an earlier job's console: %q", p)
		}
		if !bytes.Contains(p, []byte("this job: booting")) {
			t.Fatalf("the lease's token cannot read its own console: %q", p)
		}
		if _, err := job.Expect(ctx, "hunter2", 0, 200*time.Millisecond); err == nil {
			t.Fatal("expect matched an earlier job's console output")
		}
		// The admin still reads everything.
		p, _, err = admin.SerialLog(ctx, 0)
		if err != nil || !bytes.Contains(p, []byte("hunter2")) {
			t.Fatalf("admin SerialLog = %q, %v", p, err)
		}
	})
	t.Run("guess a token", func(t *testing.T) {
		_, err := e.client(t, client.WithToken(l.ID[:len(l.ID)-1]+"x")).Health(ctx)
		wantStatus(t, err, http.StatusUnauthorized, "wrong token")
	})

	// Streams the token started end with the lease: they must not go on
	// into the next job's console.
	var followed bytes.Buffer
	followDone := make(chan error, 1)
	go func() { followDone <- job.FollowSerial(ctx, 0, &followed) }()
	expectDone := make(chan error, 1)
	go func() {
		_, err := job.Expect(ctx, "next job's secret", 0, time.Hour)
		expectDone <- err
	}()
	time.Sleep(100 * time.Millisecond) // both are waiting

	// The hook releases the lease when the job completes: its token dies.
	if err := admin.Release(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	e.d.Print("next job's secret\n")
	for name, done := range map[string]chan error{"expect": expectDone, "follow": followDone} {
		select {
		case err := <-done:
			if name == "expect" && err == nil {
				t.Error("an expect of the ended lease matched the next output")
			}
		case <-time.After(3 * time.Second):
			t.Errorf("the ended lease's %s goes on", name)
		}
	}
	if bytes.Contains(followed.Bytes(), []byte("next job")) {
		t.Errorf("the ended lease's follow read the next output: %q", followed.String())
	}
	_, err := job.Health(ctx)
	wantStatus(t, err, http.StatusUnauthorized, "lease's id stops working when the lease ends")
	wantStatus(t, job.PowerOn(ctx), http.StatusUnauthorized)
	_, err = job.Heartbeat(ctx, l.ID)
	wantStatus(t, err, http.StatusUnauthorized)
}

func TestLeaseTTLCap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []worker.Option
		ttl    time.Duration
		status int // 0: granted
		want   string
	}{
		{name: "default ttl", ttl: 0},
		{name: "at the default cap", ttl: worker.DefaultMaxLeaseTTL},
		{name: "year 2312", ttl: 9000000000 * time.Second, status: http.StatusBadRequest, want: "longer than this worker allows"},
		{name: "just over the cap", ttl: worker.DefaultMaxLeaseTTL + time.Second, status: http.StatusBadRequest, want: "--max-lease-ttl"},
		{name: "raised cap", opts: []worker.Option{worker.WithMaxLeaseTTL(time.Hour)}, ttl: 45 * time.Minute},
		{name: "negative", ttl: -time.Second, status: http.StatusBadRequest, want: "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			ctx := ctxT(t, 5*time.Second)
			l, err := e.client(t).Lease(ctx, "ci", tc.ttl)
			if tc.status != 0 {
				wantStatus(t, err, tc.status, tc.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if left := time.Until(l.Expires); left > worker.DefaultMaxLeaseTTL && len(tc.opts) == 0 {
				t.Fatalf("lease expires in %v, beyond the cap", left)
			}
		})
	}
	if _, err := worker.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}
