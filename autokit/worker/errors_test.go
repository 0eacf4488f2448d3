package worker_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/worker"
)

// TestErrorCodes provokes the errors a client meets most and checks each
// carries its code (newEnv checks, on every test, that every error answer
// carries one).
func TestErrorCodes(t *testing.T) {
	const token = "s3cret"
	for _, tc := range []struct {
		name string
		code api.ErrorCode
		// provoke makes the error on a worker with token, whose DUT is
		// leased by admin (job holds only the lease's id).
		provoke func(t *testing.T, e *env, admin, job *client.Client) error
	}{
		{"no token", api.CodeUnauthorized, func(t *testing.T, e *env, admin, job *client.Client) error {
			_, err := e.client(t).Health(ctxT(t, 5*time.Second))
			return err
		}},
		{"lease's token takes a lease", api.CodeForbidden, func(t *testing.T, e *env, admin, job *client.Client) error {
			_, err := job.Lease(ctxT(t, 5*time.Second), "me too", time.Minute)
			return err
		}},
		{"DUT leased", api.CodeLeaseHeld, func(t *testing.T, e *env, admin, job *client.Client) error {
			_, err := admin.Lease(ctxT(t, 5*time.Second), "someone else", time.Minute)
			return err
		}},
		{"no lease sent", api.CodeLeaseRequired, func(t *testing.T, e *env, admin, job *client.Client) error {
			return admin.PowerOn(ctxT(t, 5*time.Second))
		}},
		{"another lease sent", api.CodeLeaseStale, func(t *testing.T, e *env, admin, job *client.Client) error {
			return e.client(t, client.WithToken(token), client.WithLease("OLDLEASEID")).PowerOn(ctxT(t, 5*time.Second))
		}},
		{"heartbeat of an unknown lease", api.CodeLeaseUnknown, func(t *testing.T, e *env, admin, job *client.Client) error {
			_, err := admin.Heartbeat(ctxT(t, 5*time.Second), "NOSUCHLEASE")
			return err
		}},
		{"lease without owner", api.CodeBadRequest, func(t *testing.T, e *env, admin, job *client.Client) error {
			_, err := admin.Lease(ctxT(t, 5*time.Second), "", time.Minute)
			return err
		}},
		{"waiting for a DUT that is off", api.CodePoweredOff, func(t *testing.T, e *env, admin, job *client.Client) error {
			_, err := job.WaitOnline(ctxT(t, 5*time.Second), time.Second)
			return err
		}},
		{"expect times out", api.CodeTimeout, func(t *testing.T, e *env, admin, job *client.Client) error {
			_, err := job.Expect(ctxT(t, 5*time.Second), "never", 0, time.Millisecond)
			return err
		}},
		{"no image cache", api.CodeNotFound, func(t *testing.T, e *env, admin, job *client.Client) error {
			_, err := job.FlashWith(ctxT(t, 5*time.Second), nil, 0, api.FlashOptions{Cached: hexSHA([]byte("x"))}, nil)
			return err
		}},
		{"no testrunner", api.CodeNotSupported, func(t *testing.T, e *env, admin, job *client.Client) error {
			return admin.PullTestrunner(ctxT(t, 5*time.Second), "r/t@sha256:"+hexSHA([]byte("x")))
		}},
		{"power hardware fails", api.CodeDeviceError, func(t *testing.T, e *env, admin, job *client.Client) error {
			e.d.FailPower(errTest)
			return job.PowerOn(ctxT(t, 5*time.Second))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, worker.WithToken(token))
			admin, job, _ := e.jobLease(t, token)
			wantCode(t, tc.provoke(t, e, admin, job), tc.code)
		})
	}
}

// errTest is a hardware failure.
var errTest = errors.New("relay board not responding")

// TestErrorCodesRaw covers what the Go client never sends: unknown paths
// and wrong methods.
func TestErrorCodesRaw(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		code         api.ErrorCode
	}{
		{"GET", "/v1/nope", api.CodeNotFound},
		{"GET", api.PathPowerOn, api.CodeMethodNotAllowed},
		{"POST", api.PathLease, api.CodeBadRequest}, // a body that is not JSON
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctxT(t, 5*time.Second), tc.method, e.url+tc.path, strings.NewReader("{"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var eb api.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || eb.Code != tc.code || resp.StatusCode != tc.code.Status() {
				t.Fatalf("%d %+v, %v; want code %s (%d)", resp.StatusCode, eb, err, tc.code, tc.code.Status())
			}
		})
	}
}
