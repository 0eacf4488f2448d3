package procedure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/hostcmd"
	"github.com/balena/leviathan-action/autokit/sdmux"
)

// FlashFunc writes the image to an opened target (the worker's flash
// pipeline). It does not close the target.
type FlashFunc func(ctx context.Context, t dut.Target) error

// Devices is what a procedure runs against. Only Power and Flash are
// always needed; each step checks for the capability it uses.
type Devices struct {
	Power   dut.Power
	Storage dut.Storage // flash through the mux
	Console dut.Console // wait-power-down.serial
	Mux     sdmux.Mux   // mux-host, mux-dut
	Relay   dut.Relay   // relay
	Flash   FlashFunc
	// Carrier reports an interface's carrier; it reads
	// /sys/class/net/<iface>/carrier when nil.
	Carrier func(iface string) (bool, error)
	// Run runs the usb-boot tool; hostcmd.Exec when nil.
	Run hostcmd.Runner
	// OpenDevice opens the block device usb-boot exposed; os.OpenFile
	// read-write when nil.
	OpenDevice func(path string) (dut.Target, error)
	// Logger logs each step; silent when nil.
	Logger *slog.Logger
}

// StepError is a step that failed, with the state it started from.
type StepError struct {
	File  string
	Index int // 1-based
	Step  Step
	State State
	Err   error
	// PowerOffErr is set when powering the DUT off after the failure
	// failed too.
	PowerOffErr error
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("procedure: %s step %d (%s, from state %s): %v", e.File, e.Index, e.Step.Action, e.State, e.Err)
	if e.PowerOffErr != nil {
		s += fmt.Sprintf("; powering the DUT off afterwards failed too: %v", e.PowerOffErr)
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// pollInterval is how often carrier and device nodes are checked.
const pollInterval = 100 * time.Millisecond

// Run executes the procedure's steps in order. On failure the DUT is
// powered off (with a context of its own, so a cancelled ctx still
// switches it off) and the error is a *StepError.
func (p *Procedure) Run(ctx context.Context, d Devices) error {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if d.Power == nil {
		return errors.New("procedure: no power control: every procedure needs Devices.Power")
	}
	r := &run{d: d, log: log, state: Unknown}
	for i, s := range p.Steps {
		next, ok := Next(r.state, s.Action)
		if !ok {
			return r.fail(p, i, s, fmt.Errorf("no transition from state %s", r.state))
		}
		log.Info("procedure step", "procedure", p.Name, "step", i+1, "action", s.Action, "from", r.state, "to", next)
		start := time.Now()
		if err := r.do(ctx, s); err != nil {
			return r.fail(p, i, s, err)
		}
		log.Info("procedure step done", "procedure", p.Name, "step", i+1, "action", s.Action, "took", time.Since(start).Round(time.Millisecond))
		r.state = next
	}
	log.Info("procedure done", "procedure", p.Name, "state", r.state)
	return nil
}

type run struct {
	d       Devices
	log     *slog.Logger
	state   State
	device  string // exposed by usb-boot
	console int64  // console offset at the last power-on
}

func (r *run) fail(p *Procedure, i int, s Step, err error) error {
	e := &StepError{File: p.File, Index: i + 1, Step: s, State: r.state, Err: err}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.log.Warn("procedure failed; powering the DUT off", "step", i+1, "action", s.Action, "err", err)
	e.PowerOffErr = r.d.Power.Off(ctx)
	return e
}

func (r *run) do(ctx context.Context, s Step) error {
	switch s.Action {
	case PowerOff:
		return r.d.Power.Off(ctx)
	case PowerOn:
		if r.d.Console != nil {
			r.console = r.d.Console.Log().Len()
		}
		return r.d.Power.On(ctx)
	case Flash:
		return r.flash(ctx)
	case WaitPowerDown:
		return r.waitPowerDown(ctx, s)
	case MuxHost, MuxDUT:
		if r.d.Mux == nil {
			return fmt.Errorf("%s needs a storage mux; none is configured", s.Action)
		}
		side := sdmux.Host
		if s.Action == MuxDUT {
			side = sdmux.DUT
		}
		return r.d.Mux.Switch(ctx, side)
	case USBBoot:
		return r.usbBoot(ctx, s)
	case Relay:
		if r.d.Relay == nil {
			return errors.New("relay needs a digital relay; none is configured")
		}
		return r.d.Relay.Set(ctx, s.Channel, s.Closed)
	case Sleep:
		t := time.NewTimer(s.Timeout)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", s.Action)
}

func (r *run) flash(ctx context.Context) error {
	if r.d.Flash == nil {
		return errors.New("flash needs a flash function; none was given")
	}
	var t dut.Target
	var err error
	if r.state == USB {
		open := r.d.OpenDevice
		if open == nil {
			open = func(path string) (dut.Target, error) { return os.OpenFile(path, os.O_RDWR, 0) }
		}
		t, err = open(r.device)
	} else {
		if r.d.Storage == nil {
			return errors.New("flash needs the DUT's storage (a mux); none is configured")
		}
		t, err = r.d.Storage.Open(ctx)
	}
	if err != nil {
		return fmt.Errorf("opening the medium: %w", err)
	}
	err = r.d.Flash(ctx, t)
	if err == nil {
		err = t.Sync()
	}
	// Closing hands the medium back to the DUT.
	if cerr := t.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing the medium: %w", cerr)
	}
	return err
}

// PowerDownError is returned when the flasher image did not shut the DUT
// down in time, with the console's last lines.
type PowerDownError struct {
	Serial  string
	Carrier string
	Timeout time.Duration
	Tail    string
	Err     error
}

func (e *PowerDownError) Error() string {
	var how []string
	if e.Serial != "" {
		how = append(how, fmt.Sprintf("console message %q", e.Serial))
	}
	if e.Carrier != "" {
		how = append(how, fmt.Sprintf("carrier loss on %s", e.Carrier))
	}
	s := fmt.Sprintf("the DUT did not power down within %s (waited for %s): %v", e.Timeout, strings.Join(how, " or "), e.Err)
	if e.Tail != "" {
		s += "; last console lines:\n" + e.Tail
	}
	return s
}

func (e *PowerDownError) Unwrap() error { return e.Err }

func (r *run) waitPowerDown(ctx context.Context, s Step) error {
	if s.Serial != nil && r.d.Console == nil {
		return errors.New("wait-power-down.serial needs a serial console; none is configured")
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	done := make(chan error, 2)
	waiting := 0
	if s.Serial != nil {
		waiting++
		go func() {
			_, msg, err := r.d.Console.Log().Expect(ctx, r.console, s.Serial)
			if err == nil {
				r.log.Info("flasher powered down", "message", msg)
			}
			done <- err
		}()
	}
	if s.Carrier != "" {
		waiting++
		go func() { done <- r.carrierLoss(ctx, s.Carrier) }()
	}
	var first error
	for range waiting {
		err := <-done
		if err == nil {
			return nil
		}
		if first == nil || ctx.Err() == nil {
			first = err
		}
		if ctx.Err() == nil {
			// A reader failed for a reason of its own; give up.
			break
		}
	}
	pe := &PowerDownError{Carrier: s.Carrier, Timeout: s.Timeout, Err: first}
	if s.Serial != nil {
		pe.Serial = s.Serial.String()
	}
	if r.d.Console != nil {
		pe.Tail = r.d.Console.Log().Tail(20)
	}
	return pe
}

// carrierLoss waits until iface's carrier, once up, goes down.
func (r *run) carrierLoss(ctx context.Context, iface string) error {
	read := r.d.Carrier
	if read == nil {
		read = sysCarrier
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	seenUp := false
	for {
		up, err := read(iface)
		if err != nil {
			return fmt.Errorf("reading %s's carrier: %w", iface, err)
		}
		if up {
			seenUp = true
		} else if seenUp {
			r.log.Info("flasher powered down", "carrier", iface)
			return nil
		}
		select {
		case <-ctx.Done():
			if !seenUp {
				return fmt.Errorf("the carrier on %s never came up: %w", iface, ctx.Err())
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// sysCarrier reads /sys/class/net/<iface>/carrier. A link that is down
// administratively reads as an error (EINVAL); that is reported.
func sysCarrier(iface string) (bool, error) {
	b, err := os.ReadFile("/sys/class/net/" + iface + "/carrier")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(b)) == "1", nil
}

func (r *run) usbBoot(ctx context.Context, s Step) error {
	run := r.d.Run
	if run == nil {
		run = hostcmd.Exec
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	r.log.Info("running the USB boot tool", "command", strings.Join(s.Command, " "))
	if out, err := run(ctx, nil, s.Command[0], s.Command[1:]...); err != nil {
		return fmt.Errorf("usb-boot tool: %w", err)
	} else if len(out) > 0 {
		r.log.Debug("USB boot tool output", "output", string(out))
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if _, err := os.Stat(s.Device); err == nil {
			r.device = s.Device
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the USB boot tool ran but %s did not appear within %s: %w", s.Device, s.Timeout, ctx.Err())
		case <-t.C:
		}
	}
}
