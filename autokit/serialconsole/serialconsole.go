package serialconsole

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Port is an open serial console.
type Port struct {
	path      string
	mode      serial.Mode
	capture   *dut.Capture
	log       *slog.Logger
	reconnect bool
	giveUp    time.Duration // 0: wait for the device until Close
	minWait   time.Duration
	maxWait   time.Duration
	logFile   *timeLog // nil without a log file

	mu         sync.Mutex
	port       serial.Port // nil while reconnecting
	closed     bool
	reconnects int
	lastByte   byte
	stop       chan struct{}
	done       chan struct{}
	err        error

	execMu sync.Mutex // one Exec at a time
}

var (
	_ io.Writer   = (*Port)(nil)
	_ dut.Console = (*Port)(nil)
)

// Option configures Connect and OpenEnv.
type Option func(*Port)

// WithLogger logs disconnections and reconnections; silent by default.
func WithLogger(l *slog.Logger) Option { return func(p *Port) { p.log = l } }

// WithBackoff sets the first and the largest wait between attempts to
// reopen an unplugged adapter (50ms and 2s by default).
func WithBackoff(first, max time.Duration) Option {
	return func(p *Port) { p.minWait, p.maxWait = first, max }
}

// Open opens the serial device at path at baud (115200 when 0), 8N1, and
// copies what it receives into capture until the port closes or goes away;
// it does not reconnect (Connect does).
func Open(path string, baud int, capture *dut.Capture) (*Port, error) {
	if baud == 0 {
		baud = 115200
	}
	p := newPort(path, serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}, capture)
	sp, err := serial.Open(path, &p.mode)
	if err != nil {
		return nil, fmt.Errorf("serialconsole: opening %s: %w", path, err)
	}
	p.port = sp
	go p.run()
	return p, nil
}

func newPort(path string, mode serial.Mode, capture *dut.Capture) *Port {
	return &Port{
		path:     path,
		mode:     mode,
		capture:  capture,
		log:      slog.New(slog.DiscardHandler),
		minWait:  50 * time.Millisecond,
		maxWait:  2 * time.Second,
		lastByte: '\n',
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Connect opens the adapter cfg describes and keeps it open: when a read
// fails it waits for the device node to come back and reopens it with the
// same settings (see the package documentation). What it receives goes
// into capture and, when cfg.Log is set, into that file with a timestamp
// per line.
func Connect(cfg Config, capture *dut.Capture, opts ...Option) (*Port, error) {
	mode, err := cfg.mode()
	if err != nil {
		return nil, err
	}
	if cfg.Device == "" {
		return nil, errors.New("serialconsole: no device path given")
	}
	p := newPort(cfg.Device, mode, capture)
	p.reconnect = true
	p.giveUp = cfg.ReconnectTimeout
	for _, o := range opts {
		o(p)
	}
	if p.minWait <= 0 {
		p.minWait = 50 * time.Millisecond
	}
	if p.maxWait < p.minWait {
		p.maxWait = p.minWait
	}
	sp, err := serial.Open(cfg.Device, &p.mode)
	if err != nil {
		return nil, fmt.Errorf("serialconsole: opening %s: %w%s", cfg.Device, err, openHint(cfg.Device, err))
	}
	p.port = sp
	if cfg.Log != "" {
		if p.logFile, err = openTimeLog(cfg.Log); err != nil {
			sp.Close()
			return nil, err
		}
	}
	p.log.Info("serial console open", "device", cfg.Device, "baud", mode.BaudRate, "parity", cfg.Parity, "log", cfg.Log)
	go p.run()
	return p, nil
}

// openHint explains the usual causes of an open failure.
func openHint(path string, err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return " (the device node is missing: is the adapter plugged in? ls /dev/serial/by-id lists the adapters)"
	case errors.Is(err, os.ErrPermission):
		return " (not permitted: run as root or add the user to the dialout group)"
	}
	var pe *serial.PortError
	if errors.As(err, &pe) && pe.Code() == serial.PortNotFound {
		return " (the device node is missing: is the adapter plugged in? ls /dev/serial/by-id lists the adapters)"
	}
	if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
		return " (the device node is missing)"
	}
	return ""
}

// Path is the device path the port was opened with.
func (p *Port) Path() string { return p.path }

// Reconnects is how many times the port was reopened after a failure.
func (p *Port) Reconnects() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reconnects
}

// Log returns the capture everything received goes into. Log implements
// dut.Console.
func (p *Port) Log() *dut.Capture { return p.capture }

func (p *Port) run() {
	defer close(p.done)
	buf := make([]byte, 4096)
	for {
		p.mu.Lock()
		sp, closed := p.port, p.closed
		p.mu.Unlock()
		if closed {
			return
		}
		n, err := sp.Read(buf)
		if n > 0 {
			p.emit(buf[:n])
		}
		if err == nil {
			continue
		}
		// go.bug.st/serial reports both Close and an unplugged adapter as
		// PortClosed; only our own flag tells them apart.
		if p.isClosed() {
			return
		}
		if !p.reconnect {
			p.err = fmt.Errorf("serialconsole: reading %s: %w", p.path, err)
			return
		}
		p.log.Warn("serial console lost", "device", p.path, "err", err)
		p.note(fmt.Sprintf("[serial lost: %v]", err))
		p.mu.Lock()
		p.port = nil
		p.mu.Unlock()
		sp.Close()
		if err := p.reopen(); err != nil {
			if !p.isClosed() {
				p.err = err
				p.note("[serial gave up: " + err.Error() + "]")
			}
			return
		}
	}
}

// reopen waits for the device node and reopens it; it fails when Close is
// called or the reconnect timeout passes.
func (p *Port) reopen() error {
	start := time.Now()
	wait := p.minWait
	var last error
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(wait)
		select {
		case <-p.stop:
			t.Stop()
			return errors.New("serialconsole: closed while reconnecting")
		case <-t.C:
		}
		wait = min(2*wait, p.maxWait)
		if _, err := os.Stat(p.path); err != nil {
			last = err
		} else if sp, err := serial.Open(p.path, &p.mode); err != nil {
			last = err
		} else {
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				sp.Close()
				return errors.New("serialconsole: closed while reconnecting")
			}
			p.port = sp
			p.reconnects++
			p.mu.Unlock()
			p.log.Info("serial console reconnected", "device", p.path, "attempts", attempt, "after", time.Since(start).Round(time.Millisecond))
			p.note("[serial reconnected]")
			return nil
		}
		if p.giveUp > 0 && time.Since(start) >= p.giveUp {
			return fmt.Errorf("serialconsole: %s did not come back within %v: %w", p.path, p.giveUp, last)
		}
	}
}

// emit appends b to the capture and the log file.
func (p *Port) emit(b []byte) {
	p.capture.Write(b)
	if p.logFile != nil {
		p.logFile.Write(b)
	}
	p.mu.Lock()
	p.lastByte = b[len(b)-1]
	p.mu.Unlock()
}

// note adds a line of its own to the capture and the log.
func (p *Port) note(s string) {
	p.mu.Lock()
	nl := p.lastByte != '\n'
	p.mu.Unlock()
	if nl {
		s = "\n" + s
	}
	p.emit([]byte(s + "\n"))
}

func (p *Port) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Write sends b to the console. It fails while an unplugged adapter is
// being waited for. Write implements dut.Console.
func (p *Port) Write(b []byte) (int, error) {
	p.mu.Lock()
	sp := p.port
	p.mu.Unlock()
	if sp == nil {
		return 0, fmt.Errorf("serialconsole: writing to %s: the adapter is disconnected (reconnecting)", p.path)
	}
	n, err := sp.Write(b)
	if err != nil {
		return n, fmt.Errorf("serialconsole: writing to %s: %w", p.path, err)
	}
	return n, nil
}

// Done is closed when the reader stops: after Close, when the port goes
// away (Open), or when reconnecting gives up (Connect).
func (p *Port) Done() <-chan struct{} { return p.done }

// Err is why the reader stopped, once Done is closed; nil after Close.
func (p *Port) Err() error {
	<-p.done
	return p.err
}

// Close closes the port, stops a reconnect in progress, waits for the
// reader to stop and closes the log file.
func (p *Port) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	sp := p.port
	close(p.stop)
	p.mu.Unlock()
	var err error
	if sp != nil {
		err = sp.Close()
	}
	<-p.done
	if p.logFile != nil {
		if cerr := p.logFile.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("serialconsole: closing %s: %w", p.path, err)
	}
	return nil
}
