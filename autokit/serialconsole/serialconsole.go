// Package serialconsole reads and writes a DUT's serial console through
// go.bug.st/serial: a USB-serial adapter on a board, or the pty QEMU
// exposes for a virtual DUT. Everything received goes into a dut.Capture.
//
// Limits: 8 data bits, no flow control; a port that goes away ends the
// reader (the caller reopens it).
package serialconsole

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"go.bug.st/serial"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Port is an open serial console.
type Port struct {
	port    serial.Port
	capture *dut.Capture
	mu      sync.Mutex
	closed  bool
	done    chan struct{}
	err     error
}

var _ io.Writer = (*Port)(nil)

// Open opens the serial device at path at baud (115200 when 0) and copies
// what it receives into capture until the port closes.
func Open(path string, baud int, capture *dut.Capture) (*Port, error) {
	if baud == 0 {
		baud = 115200
	}
	sp, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("serialconsole: opening %s: %w", path, err)
	}
	p := &Port{port: sp, capture: capture, done: make(chan struct{})}
	go p.read()
	return p, nil
}

func (p *Port) read() {
	defer close(p.done)
	buf := make([]byte, 4096)
	for {
		n, err := p.port.Read(buf)
		if n > 0 {
			p.capture.Write(buf[:n])
		}
		if err != nil {
			p.err = err
			return
		}
		if n == 0 {
			// go.bug.st/serial returns 0, nil when the port is closed.
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
		}
	}
}

// Write sends p to the console.
func (p *Port) Write(b []byte) (int, error) {
	n, err := p.port.Write(b)
	if err != nil {
		return n, fmt.Errorf("serialconsole: writing: %w", err)
	}
	return n, nil
}

// Done is closed when the reader stops (port closed or gone).
func (p *Port) Done() <-chan struct{} { return p.done }

// Err is why the reader stopped, once Done is closed.
func (p *Port) Err() error {
	<-p.done
	var pe *serial.PortError
	if errors.As(p.err, &pe) && pe.Code() == serial.PortClosed {
		return nil
	}
	return p.err
}

// Close closes the port and waits for the reader to stop.
func (p *Port) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.port.Close()
	<-p.done
	return err
}
