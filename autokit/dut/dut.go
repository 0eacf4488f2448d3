package dut

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
)

// ErrPoweredOn is returned by Storage.Open when the DUT is powered: the
// medium belongs to the DUT until it is switched off.
var ErrPoweredOn = errors.New("dut: the DUT is powered on; power it off first")

// PowerState is whether the DUT is powered.
type PowerState string

// Power states.
const (
	PowerOff PowerState = "off"
	PowerOn  PowerState = "on"
)

// DUT is the one thing every device has: a name and power control.
type DUT interface {
	// Name identifies the DUT on its testbot (for logs and leases).
	Name() string
	Power
}

// Power switches the DUT's supply.
type Power interface {
	// On powers the DUT. It returns once power is applied, not once the
	// DUT has booted.
	On(ctx context.Context) error
	// Off cuts power. Off on a DUT that is already off succeeds.
	Off(ctx context.Context) error
	// State reports whether the DUT is powered.
	State(ctx context.Context) (PowerState, error)
}

// Target is an opened flash medium. *os.File satisfies it.
type Target interface {
	fs.File
	io.ReaderAt
	io.WriterAt
	io.Seeker
	Sync() error
}

// Storage is the medium the DUT boots from, switchable between the testbot
// (for flashing) and the DUT.
type Storage interface {
	// Open switches the medium to the testbot and opens it for writing.
	// Closing the target hands the medium back to the DUT. Open fails with
	// ErrPoweredOn while the DUT is powered.
	Open(ctx context.Context) (Target, error)
}

// Zeroed is implemented by a Target that is known to read back zeros
// everywhere when opened (a new file, a device after a zeroing discard), so
// a writer may skip blocks of zeros.
type Zeroed interface {
	Zeroed() bool
}

// Console is the DUT's serial console.
type Console interface {
	// Write sends bytes to the console's input.
	Write(p []byte) (int, error)
	// Log is everything the console printed since the driver started.
	Log() *Capture
}

// Address says how to reach a DUT on its network.
type Address struct {
	// IP is the DUT's own address on the DUT network.
	IP string `json:"ip"`
	// SSH is host:port where the testbot reaches the DUT's SSH server.
	SSH string `json:"ssh"`
	// Gateway is the testbot's address as seen from the DUT.
	Gateway string `json:"gateway"`
}

// Network is the DUT-facing network.
type Network interface {
	// Address reports how to reach the DUT.
	Address(ctx context.Context) (Address, error)
}

// PortDialer is a Network that can connect to a TCP port of the DUT on its
// network address without going through the DUT's SSH server (a QEMU port
// forward, a routed DUT network). The worker's tunnels use it, when the
// port is open on that address, to spare the DUT encrypting every byte
// twice; it is optional.
type PortDialer interface {
	DialPort(ctx context.Context, port int) (net.Conn, error)
}

// Screen captures the DUT's display.
type Screen interface {
	// Screenshot returns the current frame as a PNG.
	Screenshot(ctx context.Context) ([]byte, error)
}

// Keyboard presses keys on the DUT.
type Keyboard interface {
	// Press presses the keys of chord together and releases them. Key
	// names follow QEMU's QKeyCode names ("ctrl", "alt", "delete", "a",
	// "ret", "f12", …).
	Press(ctx context.Context, chord ...string) error
}

// Relay drives digital relays wired to jumpers or boot switches.
type Relay interface {
	// Set closes (true) or opens (false) a relay channel.
	Set(ctx context.Context, channel int, closed bool) error
}
