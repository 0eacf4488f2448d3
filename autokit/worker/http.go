package worker

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
)

// maxJSONBody bounds request bodies other than the flash upload.
const maxJSONBody = 1 << 20

// statusError is an error with the code, and so the HTTP status, it
// answers with.
type statusError struct {
	code api.ErrorCode
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// errorf makes a statusError; format should start with "worker: ".
func errorf(code api.ErrorCode, format string, args ...any) error {
	return &statusError{code: code, err: fmt.Errorf(format, args...)}
}

// codeOf is the code err answers with: its statusError's, CodePoweredOn
// for a DUT that refused because it is on, CodeInternal otherwise.
func codeOf(err error) api.ErrorCode {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.code
	case errors.Is(err, dut.ErrPoweredOn):
		return api.CodePoweredOn
	}
	return api.CodeInternal
}

// notImplemented answers requests for a capability the DUT lacks.
func notImplemented(c dut.Capability) error {
	return errorf(api.CodeNotSupported, "worker: not implemented by this DUT: it has no %s capability", c)
}

// handlerFunc is an HTTP handler that returns its error instead of
// writing it.
type handlerFunc func(rw http.ResponseWriter, r *http.Request) error

// handle turns h into an http.Handler writing errors as JSON.
func (w *Worker) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if err := h(rw, r); err != nil {
			w.writeError(rw, r, err)
		}
	})
}

// leased wraps h for requests that change the DUT: they need the lease.
// A caller holding only a lease's id sends it as its bearer token; the
// Leviathan-Lease header may then be left out, and must not name another
// lease.
func (w *Worker) leased(h handlerFunc) handlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) error {
		id := r.Header.Get(api.HeaderLease)
		if sc := scopeOf(r.Context()); !sc.admin {
			if id != "" && subtle.ConstantTimeCompare([]byte(id), []byte(sc.lease)) != 1 {
				return errorf(api.CodeForbidden, "worker: the %s header names another lease than the one this request's token belongs to", api.HeaderLease)
			}
			id = sc.lease
		}
		if err := w.checkLease(id); err != nil {
			return err
		}
		return h(rw, r)
	}
}

// adminOnly wraps h for requests only the testbot's admin may make:
// taking and releasing leases. A lease's token cannot take a second lease,
// take over another or end its own: the runner hook that took it ends it
// when the job completes.
func adminOnly(h handlerFunc) handlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) error {
		if !scopeOf(r.Context()).admin {
			return errorf(api.CodeForbidden, "worker: %s %s needs the worker's token; a lease's token acts on its own lease only (the runner hook takes and releases leases)", r.Method, r.URL.Path)
		}
		return h(rw, r)
	}
}

func (w *Worker) writeError(rw http.ResponseWriter, r *http.Request, err error) {
	code := codeOf(err)
	status := code.Status()
	if status >= 500 {
		w.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "code", code, "err", err)
	} else {
		w.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "code", code, "err", err)
	}
	writeJSON(rw, status, api.ErrorBody{Error: err.Error(), Code: code})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", api.ContentTypeJSON)
	rw.WriteHeader(status)
	json.NewEncoder(rw).Encode(v)
}

// decode reads a JSON request body into v. An empty body leaves v as is.
func decode(rw http.ResponseWriter, r *http.Request, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, maxJSONBody)).Decode(v)
	if err != nil && !errors.Is(err, io.EOF) {
		return errorf(api.CodeBadRequest, "worker: bad request body: %w", err)
	}
	return nil
}

// routes builds the API's handler from routeTable.
func (w *Worker) routes() http.Handler {
	mux := http.NewServeMux()
	for _, e := range routeTable {
		mux.Handle(e.Method+" "+e.Path, w.handle(w.guard(e.Access, e.bind(w))))
	}
	// Everything else: JSON 404 or 405 instead of the mux's plain text.
	mux.Handle("/", w.handle(func(rw http.ResponseWriter, r *http.Request) error {
		var allowed []string
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			rw.Header().Set("Allow", strings.Join(allowed, ", "))
			return errorf(api.CodeMethodNotAllowed, "worker: %s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", "))
		}
		return errorf(api.CodeNotFound, "worker: %s %s: no such endpoint", r.Method, r.URL.Path)
	}))
	return w.recordCalls(w.authenticate(mux))
}

// authenticate works out who sent each request. With a token, the bearer
// is either the worker's token (the testbot's admin: the runner hook, the
// CLI) or the id of the live lease, which acts on that lease only; anything
// else is refused. Without a token every caller is the admin: such a worker
// listens on loopback only (see ListenAndServe).
func (w *Worker) authenticate(next http.Handler) http.Handler {
	if w.token == "" {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(rw, r.WithContext(withScope(r.Context(), scope{admin: true})))
		})
	}
	want := []byte("Bearer " + w.token)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) == 1 {
			next.ServeHTTP(rw, r.WithContext(withScope(r.Context(), scope{admin: true})))
			return
		}
		if bearer, ok := strings.CutPrefix(string(got), "Bearer "); ok && bearer != "" {
			if sc, ok := w.leaseScope(bearer); ok {
				next.ServeHTTP(rw, r.WithContext(withScope(r.Context(), sc)))
				return
			}
		}
		rw.Header().Set("WWW-Authenticate", `Bearer realm="leviathan worker"`)
		msg := "worker: this worker needs a token: send Authorization: Bearer <token>, the worker's token or the id of the live lease"
		if len(got) > 0 {
			msg = "worker: wrong token in the Authorization header: neither the worker's token nor the id of the live lease (a lease's id stops working when the lease ends)"
		}
		w.writeError(rw, r, errorf(api.CodeUnauthorized, "%s", msg))
	})
}
