package worker

import (
	"net/http"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/sshexec"
)

// consoleAlive is implemented by consoles that can tell whether their
// capture is still fed (the serial port or QEMU pty is open).
type consoleAlive interface {
	Alive() bool
}

func (w *Worker) getHealth(rw http.ResponseWriter, r *http.Request) error {
	h := api.Health{OK: true, DUT: w.d.Name(), UptimeSeconds: w.clock.Now().Sub(w.started).Seconds()}
	state, err := w.d.State(r.Context())
	if err != nil {
		h.OK = false
		h.Problem = "reading the power state: " + err.Error()
	}
	h.Power = state
	if c, ok := dut.As[dut.Console](w.d, dut.CapConsole); ok {
		h.Console = c.Log() != nil
		if a, ok := c.(consoleAlive); ok {
			h.Console = a.Alive()
		}
	}
	w.mu.Lock()
	if l := w.liveLease(w.clock.Now()); l != nil {
		exp := l.expires
		h.Leased, h.LeaseOwner, h.LeaseExpires = true, l.owner, &exp
	}
	h.Stats = w.stats
	w.mu.Unlock()
	writeJSON(rw, http.StatusOK, h)
	return nil
}

func (w *Worker) getContract(rw http.ResponseWriter, r *http.Request) error {
	writeJSON(rw, http.StatusOK, api.Contract{
		Name:         w.d.Name(),
		Capabilities: dut.Capabilities(w.d),
		Hostname:     w.hostname,
		SSHUser:      sshexec.User,
	})
	return nil
}

func (w *Worker) getPower(rw http.ResponseWriter, r *http.Request) error {
	state, err := w.d.State(r.Context())
	if err != nil {
		return errorf(api.CodeDeviceError, "worker: reading the power state: %w", err)
	}
	writeJSON(rw, http.StatusOK, api.PowerStatus{State: state})
	return nil
}

func (w *Worker) postPowerOn(rw http.ResponseWriter, r *http.Request) error {
	w.mu.Lock()
	if w.flashing {
		w.mu.Unlock()
		return errorf(api.CodeBusy, "worker: a flash is in progress; power on after it ends")
	}
	off := int64(-1)
	if c, ok := dut.As[dut.Console](w.d, dut.CapConsole); ok {
		off = c.Log().Len()
	}
	w.bootOffset = off
	w.mu.Unlock()
	w.pool.Reset() // connections from a previous boot are dead
	if err := w.d.On(r.Context()); err != nil {
		return errorf(api.CodeDeviceError, "worker: powering the DUT on: %w", err)
	}
	w.recordPower(true)
	w.log.Info("DUT powered on", "dut", w.d.Name())
	writeJSON(rw, http.StatusOK, api.PowerStatus{State: dut.PowerOn})
	return nil
}

func (w *Worker) postPowerOff(rw http.ResponseWriter, r *http.Request) error {
	if err := w.powerOff(r.Context()); err != nil {
		return &statusError{code: api.CodeDeviceError, err: err}
	}
	w.log.Info("DUT powered off", "dut", w.d.Name())
	writeJSON(rw, http.StatusOK, api.PowerStatus{State: dut.PowerOff})
	return nil
}

func (w *Worker) getAddress(rw http.ResponseWriter, r *http.Request) error {
	n, ok := dut.As[dut.Network](w.d, dut.CapNetwork)
	if !ok {
		return notImplemented(dut.CapNetwork)
	}
	addr, err := n.Address(r.Context())
	if err != nil {
		return errorf(api.CodeDeviceError, "worker: the DUT's network address: %w", err)
	}
	writeJSON(rw, http.StatusOK, addr)
	return nil
}

func (w *Worker) getScreen(rw http.ResponseWriter, r *http.Request) error {
	s, ok := dut.As[dut.Screen](w.d, dut.CapScreen)
	if !ok {
		return notImplemented(dut.CapScreen)
	}
	png, err := s.Screenshot(r.Context())
	if err != nil {
		return errorf(api.CodeDeviceError, "worker: taking a screenshot: %w", err)
	}
	rw.Header().Set("Content-Type", api.ContentTypePNG)
	rw.Write(png)
	return nil
}

func (w *Worker) postKeyboard(rw http.ResponseWriter, r *http.Request) error {
	k, ok := dut.As[dut.Keyboard](w.d, dut.CapKeyboard)
	if !ok {
		return notImplemented(dut.CapKeyboard)
	}
	var req api.KeyboardRequest
	if err := decode(rw, r, &req); err != nil {
		return err
	}
	if len(req.Keys) == 0 {
		return errorf(api.CodeBadRequest, "worker: no keys to press")
	}
	if err := k.Press(r.Context(), req.Keys...); err != nil {
		return errorf(api.CodeDeviceError, "worker: pressing %v: %w", req.Keys, err)
	}
	rw.WriteHeader(http.StatusNoContent)
	return nil
}
