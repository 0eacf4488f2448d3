package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/worker"
)

// env is a worker serving a fake DUT whose SSH address is an in-process
// SSH server that trusts the worker's key.
type env struct {
	d   *duttest.DUT
	ssh *duttest.SSHServer
	w   *worker.Worker
	url string
}

func newEnv(t *testing.T, opts ...worker.Option) *env {
	t.Helper()
	return newEnvFor(t, nil, opts...)
}

// newEnvFor serves wrap(fake DUT) when wrap is not nil.
func newEnvFor(t *testing.T, wrap func(*duttest.DUT) dut.DUT, opts ...worker.Option) *env {
	t.Helper()
	e := &env{d: duttest.New(t)}
	var d dut.DUT = e.d
	if wrap != nil {
		d = wrap(e.d)
	}
	w, err := worker.New(d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	t.Cleanup(func() { w.Close(context.Background()) })
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(w.PublicKey()))
	if err != nil {
		t.Fatalf("PublicKey() = %q: %v", w.PublicKey(), err)
	}
	e.ssh = duttest.StartSSHServer(t, key)
	e.d.SetSSH(e.ssh.Addr())
	srv := httptest.NewServer(checkErrorBodies(t, w.Handler()))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// checkErrorBodies serves h and fails the test on any error answer that
// is not an api.ErrorBody with a code whose status is the answer's: every
// error path the tests reach is checked.
func checkErrorBodies(t *testing.T, h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &errorRecorder{ResponseWriter: rw}
		h.ServeHTTP(rec, r)
		if rec.status < 400 {
			return
		}
		var eb api.ErrorBody
		if err := json.Unmarshal(rec.body.Bytes(), &eb); err != nil {
			t.Errorf("%s %s answered %d with %q: not an error body: %v", r.Method, r.URL.Path, rec.status, rec.body.String(), err)
			return
		}
		if eb.Code == "" || eb.Code.Status() != rec.status || !slices.Contains(api.ErrorCodes(), eb.Code) {
			t.Errorf("%s %s answered %d with code %q (%s): want a code of api.ErrorCodes whose status is %d", r.Method, r.URL.Path, rec.status, eb.Code, eb.Error, rec.status)
		}
	})
}

// errorRecorder keeps the status and, for an error, the body it writes.
type errorRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (e *errorRecorder) WriteHeader(status int) {
	if e.status == 0 {
		e.status = status
	}
	e.ResponseWriter.WriteHeader(status)
}

func (e *errorRecorder) Write(p []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	if e.status >= 400 {
		e.body.Write(p)
	}
	return e.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController flush and hijack.
func (e *errorRecorder) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// client returns a client of the worker.
func (e *env) client(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(e.url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leased returns a client holding a fresh lease.
func (e *env) leased(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c := e.client(t, opts...)
	if _, err := c.Lease(ctxT(t, 5*time.Second), "tester", time.Minute); err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wantStatus fails unless err is a *client.Error with status and a
// message containing every one of want.
func wantStatus(t *testing.T, err error, status int, want ...string) *client.Error {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T); want a *client.Error with status %d", err, err, status)
	}
	if ce.Status != status {
		t.Fatalf("status %d (%s); want %d", ce.Status, ce.Message, status)
	}
	if ce.Code == "" || ce.Code.Status() != status {
		t.Fatalf("status %d with code %q (%s): want a code that answers %d", ce.Status, ce.Code, ce.Message, status)
	}
	for _, w := range want {
		if !strings.Contains(ce.Message, w) {
			t.Fatalf("message %q does not contain %q", ce.Message, w)
		}
	}
	return ce
}

// wantCode fails unless err is a *client.Error with code (and its
// status) and a message containing every one of want.
func wantCode(t *testing.T, err error, code api.ErrorCode, want ...string) {
	t.Helper()
	if ce := wantStatus(t, err, code.Status(), want...); ce.Code != code {
		t.Fatalf("code %q (%s); want %q", ce.Code, ce.Message, code)
	}
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bareDUT has power and nothing else.
type bareDUT struct{ d *duttest.DUT }

var _ dut.DUT = bareDUT{}

func (b bareDUT) Name() string                                      { return "bare" }
func (b bareDUT) On(ctx context.Context) error                      { return b.d.On(ctx) }
func (b bareDUT) Off(ctx context.Context) error                     { return b.d.Off(ctx) }
func (b bareDUT) State(ctx context.Context) (dut.PowerState, error) { return b.d.State(ctx) }

// jobLease is what a testbot sets up for a job on a worker whose token is
// token: the admin (the runner hook) takes a lease, and the job holds only
// the lease's id. admin keeps no lease of its own.
func (e *env) jobLease(t *testing.T, token string) (admin, job *client.Client, l *api.Lease) {
	t.Helper()
	admin = e.client(t, client.WithToken(token))
	l, err := admin.Lease(ctxT(t, 5*time.Second), "github:acme/os run 1 job test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	admin.SetLease("")
	return admin, e.client(t, client.WithLease(l.ID)), l
}
