package worker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
)

// console returns the DUT's console or a 501 error.
func (w *Worker) console() (dut.Console, error) {
	c, ok := dut.As[dut.Console](w.d, dut.CapConsole)
	if !ok {
		return nil, notImplemented(dut.CapConsole)
	}
	return c, nil
}

func (w *Worker) getSerial(rw http.ResponseWriter, r *http.Request) error {
	c, err := w.console()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var off int64
	if s := q.Get(api.QueryOffset); s != "" {
		if off, err = strconv.ParseInt(s, 10, 64); err != nil || off < 0 {
			return errorf(api.CodeBadRequest, "worker: offset=%q: want a byte offset ≥ 0", s)
		}
	}
	capture := c.Log()
	off = min(max(off, scopeOf(r.Context()).minConsoleOffset()), capture.Len())
	rw.Header().Set("Content-Type", api.ContentTypeText)
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.Header().Set(api.HeaderSerialOffset, strconv.FormatInt(off, 10))
	if f := q.Get(api.QueryFollow); f != "1" && f != "true" {
		p := capture.Since(off)
		rw.Header().Set(api.HeaderSerialEnd, strconv.FormatInt(off+int64(len(p)), 10))
		rw.Write(p)
		return nil
	}
	rc := http.NewResponseController(rw)
	rw.WriteHeader(http.StatusOK)
	rc.Flush()
	// Follow until the client goes away, or its lease ends; the error is
	// of no interest.
	sc := scopeOf(r.Context())
	ctx, cancel := sc.bound(r.Context())
	defer cancel()
	capture.Follow(ctx, off, &consoleWriter{w: flushWriter{rw, rc}, pos: off, scope: sc})
	return nil
}

// flushWriter flushes the response after every write.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

func (w *Worker) postSerialWrite(rw http.ResponseWriter, r *http.Request) error {
	c, err := w.console()
	if err != nil {
		return err
	}
	p, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxJSONBody))
	if err != nil {
		return errorf(api.CodeBadRequest, "worker: reading the console input: %w", err)
	}
	if _, err := c.Write(p); err != nil {
		return errorf(api.CodeDeviceError, "worker: writing to the console: %w", err)
	}
	rw.WriteHeader(http.StatusNoContent)
	return nil
}

func (w *Worker) postExpect(rw http.ResponseWriter, r *http.Request) error {
	c, err := w.console()
	if err != nil {
		return err
	}
	var req api.ExpectRequest
	if err := decode(rw, r, &req); err != nil {
		return err
	}
	if req.Pattern == "" {
		return errorf(api.CodeBadRequest, "worker: expect needs a pattern")
	}
	re, err := regexp.Compile(req.Pattern)
	if err != nil {
		return errorf(api.CodeBadRequest, "worker: pattern %q: %w", req.Pattern, err)
	}
	timeout := api.Duration(req.TimeoutSeconds)
	if timeout <= 0 {
		timeout = api.DefaultExpectTimeout
	}
	ctx, cancel := scopeOf(r.Context()).bound(r.Context())
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	defer cancelT()
	sc := scopeOf(r.Context())
	off, match, err := c.Log().Expect(ctx, max(req.Offset, sc.minConsoleOffset()), re)
	if err == nil && sc.pastEnd(off) {
		err = errLeaseEnded // it matched the next lease's output
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errorf(api.CodeTimeout, "worker: waited %v: %w", timeout, err)
		}
		return errorf(api.CodeCanceled, "worker: expect abandoned: %w", err)
	}
	writeJSON(rw, http.StatusOK, api.ExpectResult{Offset: off, Match: match})
	return nil
}
