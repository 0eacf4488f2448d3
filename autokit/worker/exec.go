package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/sshexec"
)

// tailLines is how many console lines boot errors carry.
const tailLines = 20

// sshAddress returns the DUT's SSH host:port or an error with a status.
func (w *Worker) sshAddress(ctx context.Context) (string, error) {
	n, ok := dut.As[dut.Network](w.d, dut.CapNetwork)
	if !ok {
		return "", notImplemented(dut.CapNetwork)
	}
	addr, err := n.Address(ctx)
	if err != nil {
		return "", errorf(api.CodeDeviceError, "worker: the DUT's network address: %w", err)
	}
	if addr.SSH == "" {
		return "", errorf(api.CodeDUTUnreachable, "worker: the DUT reports no SSH address")
	}
	return addr.SSH, nil
}

func (w *Worker) postExec(rw http.ResponseWriter, r *http.Request) error {
	if _, ok := dut.As[dut.Network](w.d, dut.CapNetwork); !ok {
		return notImplemented(dut.CapNetwork)
	}
	var req api.ExecRequest
	if err := decode(rw, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Command) == "" {
		return errorf(api.CodeBadRequest, "worker: exec needs a command")
	}
	ctx := r.Context()
	if req.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, api.Duration(req.TimeoutSeconds))
		defer cancel()
	}
	addr, err := w.sshAddress(ctx)
	if err != nil {
		return err
	}
	var stdin io.Reader
	if req.Stdin != "" {
		stdin = strings.NewReader(req.Stdin)
	}
	s := &frameStream{rw: rw, rc: http.NewResponseController(rw)}
	code, err := w.pool.Run(ctx, addr, req.Command, stdin, s.writer(api.StreamStdout), s.writer(api.StreamStderr))
	var de *sshexec.DialError
	if errors.As(err, &de) && !s.started {
		// The command never started: answer with a status, not a stream.
		if ctx.Err() != nil && r.Context().Err() == nil {
			return errorf(api.CodeTimeout, "worker: the DUT did not answer over SSH within the exec timeout: %w", err)
		}
		return errorf(api.CodeDUTUnreachable, "worker: cannot reach the DUT over SSH: %w", err)
	}
	switch {
	case err == nil:
		s.frame(api.ExecFrame{ExitCode: &code})
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		s.frame(api.ExecFrame{Error: fmt.Sprintf("worker: the command timed out after %v: %v", api.Duration(req.TimeoutSeconds), err)})
	default:
		s.frame(api.ExecFrame{Error: "worker: " + err.Error()})
	}
	return nil
}

// frameStream writes frames (ExecFrame, TestrunnerFrame) as NDJSON, flushing each. The 200 header
// goes out with the first frame.
type frameStream struct {
	rw      http.ResponseWriter
	rc      *http.ResponseController
	mu      sync.Mutex
	started bool
	err     error
}

func (s *frameStream) frame(f any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if !s.started {
		s.started = true
		s.rw.Header().Set("Content-Type", api.ContentTypeNDJSON)
		s.rw.Header().Set("X-Content-Type-Options", "nosniff")
		s.rw.WriteHeader(http.StatusOK)
	}
	if s.err = json.NewEncoder(s.rw).Encode(f); s.err == nil {
		s.err = s.rc.Flush()
	}
	return s.err
}

// writer returns an io.Writer that sends what it gets as frames of stream.
func (s *frameStream) writer(stream string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		if err := s.frame(api.ExecFrame{Stream: stream, Data: p}); err != nil {
			return 0, err
		}
		return len(p), nil
	})
}

// recordBoot counts a finished wait for the DUT to come online.
func (w *Worker) recordBoot(err error, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Boots++
	if err != nil {
		w.stats.BootFailures++
		return
	}
	w.stats.LastBootSeconds = d.Seconds()
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (w *Worker) postWaitOnline(rw http.ResponseWriter, r *http.Request) (err error) {
	if _, ok := dut.As[dut.Network](w.d, dut.CapNetwork); !ok {
		return notImplemented(dut.CapNetwork)
	}
	var req api.WaitOnlineRequest
	if err := decode(rw, r, &req); err != nil {
		return err
	}
	timeout := api.Duration(req.TimeoutSeconds)
	if timeout <= 0 {
		timeout = api.DefaultWaitOnlineTimeout
	}
	start := time.Now()
	tctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	state, err := w.d.State(tctx)
	if err != nil {
		return errorf(api.CodeDeviceError, "worker: reading the power state: %w", err)
	}
	if state != dut.PowerOn {
		return errorf(api.CodePoweredOff, "worker: the DUT is powered off; power it on before waiting for it")
	}
	defer func() {
		if r.Context().Err() == nil { // an abandoned wait says nothing of the DUT
			w.recordBoot(err, time.Since(start))
		}
	}()

	// Watch the console for fatal patterns since the last power-on; a
	// match cancels ctx with a *bootError as its cause.
	ctx, stop := context.WithCancelCause(tctx)
	defer stop(nil)
	console, hasConsole := dut.As[dut.Console](w.d, dut.CapConsole)
	tail := func() string {
		if !hasConsole {
			return "(the DUT has no console)"
		}
		return console.Log().Tail(tailLines)
	}
	if hasConsole {
		w.mu.Lock()
		off := w.bootOffset
		w.mu.Unlock()
		if off < 0 || off > console.Log().Len() {
			off = console.Log().Len()
		}
		go func() {
			if _, m, err := console.Log().Expect(ctx, off, w.fatalRE); err == nil {
				stop(&bootError{match: m})
			}
		}()
	}

	// The DUT losing power ends the wait at once: a crash, or an OS that
	// shut down.
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if st, err := w.d.State(ctx); err == nil && st == dut.PowerOff {
				stop(errLostPower)
				return
			}
		}
	}()

	var addr string
	var lastErr error
	for {
		if addr, err = w.sshAddress(ctx); err == nil {
			// Connect keeps connection attempts overlapping, so the DUT's
			// SSH server is found within ~100 ms of it listening, even
			// when an earlier attempt was lost while the DUT's network
			// came up (see sshexec.DialRace). Rounds of 15 s look the
			// address up again, for a DUT whose address changes as it
			// boots.
			cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
			err = w.pool.Connect(cctx, addr, sshexec.Race{})
			ccancel()
			if err == nil {
				actx, acancel := context.WithTimeout(ctx, 10*time.Second)
				var code int
				code, err = w.pool.Run(actx, addr, "true", nil, nil, nil)
				acancel()
				if err == nil && code != 0 {
					err = fmt.Errorf("true exited with status %d", code)
				}
				if err == nil {
					d := time.Since(start)
					w.log.Info("DUT online", "dut", w.d.Name(), "after", d)
					writeJSON(rw, http.StatusOK, api.WaitOnlineResult{Seconds: d.Seconds()})
					return nil
				}
			}
		}
		if ctx.Err() == nil || lastErr == nil {
			lastErr = err
		}
		// The address lookup failing, a round of connection attempts
		// ending or a command on a fresh connection failing brings the
		// loop here.
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
			continue
		}
		var be *bootError
		switch cause := context.Cause(ctx); {
		case errors.As(cause, &be):
			w.log.Warn("DUT failed to boot", "dut", w.d.Name(), "console", be.match)
			return errorf(api.CodeBootFailed, "worker: the DUT's console printed %q while waiting for it to come online; last console lines:\n%s", be.match, tail())
		case errors.Is(cause, errLostPower):
			w.log.Warn("DUT lost power while booting", "dut", w.d.Name())
			return errorf(api.CodeBootFailed, "worker: the DUT powered off while waiting for it to come online (a crash, or the OS shut down); last console lines:\n%s", tail())
		case r.Context().Err() != nil:
			return errorf(api.CodeCanceled, "worker: wait abandoned: %w", r.Context().Err())
		default:
			return errorf(api.CodeTimeout, "worker: the DUT did not answer over SSH at %s within %v (last error: %v); last console lines:\n%s", addr, timeout, lastErr, tail())
		}
	}
}

// errLostPower is the cause of a wait cancelled because the DUT powered
// off.
var errLostPower = errors.New("worker: the DUT powered off")

// bootError is the cause of a wait cancelled by a fatal console line.
type bootError struct{ match string }

func (e *bootError) Error() string { return fmt.Sprintf("worker: the console printed %q", e.match) }
