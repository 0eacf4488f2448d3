package serialconsole

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.bug.st/serial"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/envconf"
)

// Prefix is the variable that names the device and the prefix of the
// others.
const Prefix = "SERIAL"

// ErrNotConfigured is returned by OpenEnv when SERIAL is not set.
var ErrNotConfigured = errors.New("serialconsole: SERIAL is not set")

// Parities are the allowed SERIAL_PARITY values.
var Parities = []string{"none", "odd", "even", "mark", "space"}

// Config is the wiring of one serial adapter.
type Config struct {
	// Device is the device path, from SERIAL itself: a stable
	// /dev/serial/by-id/… link.
	Device string `envconfig:"-"`
	// Baud is the line speed (SERIAL_BAUD).
	Baud int `envconfig:"BAUD" default:"115200" desc:"line speed in bits per second"`
	// Parity is one of Parities (SERIAL_PARITY).
	Parity string `envconfig:"PARITY" default:"none" desc:"none, odd, even, mark or space"`
	// Log is a file the timestamped log is appended to (SERIAL_LOG);
	// none when empty.
	Log string `envconfig:"LOG" desc:"file the timestamped console log is appended to"`
	// ReconnectTimeout bounds the wait for an unplugged adapter
	// (SERIAL_RECONNECT_TIMEOUT); 0 waits until Close.
	ReconnectTimeout time.Duration `envconfig:"RECONNECT_TIMEOUT" desc:"how long to wait for an unplugged adapter; 0 waits until closed"`
}

// mode checks c and turns it into a go.bug.st/serial mode.
func (c Config) mode() (serial.Mode, error) {
	m := serial.Mode{BaudRate: c.Baud, DataBits: 8, StopBits: serial.OneStopBit}
	if m.BaudRate == 0 {
		m.BaudRate = 115200
	}
	if m.BaudRate < 0 {
		return m, fmt.Errorf("serialconsole: SERIAL_BAUD=%d: want a positive number of bits per second", c.Baud)
	}
	var err error
	if m.Parity, err = ParseParity(c.Parity); err != nil {
		return m, err
	}
	return m, nil
}

// ParseParity reads one of Parities ("" is none), in any case.
func ParseParity(s string) (serial.Parity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "n":
		return serial.NoParity, nil
	case "odd", "o":
		return serial.OddParity, nil
	case "even", "e":
		return serial.EvenParity, nil
	case "mark", "m":
		return serial.MarkParity, nil
	case "space", "s":
		return serial.SpaceParity, nil
	}
	return 0, fmt.Errorf("serialconsole: SERIAL_PARITY=%q is not one of: %s", s, strings.Join(Parities, ", "))
}

// LoadConfig reads SERIAL and the SERIAL_* variables from getenv
// (os.Getenv for the process environment) and validates them. Errors
// name the variable. The serial console is a family of one driver: SERIAL
// names the device rather than a driver, so it has no envconf.Family.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	c.Device = strings.TrimSpace(getenv(Prefix))
	if c.Device == "" {
		return c, ErrNotConfigured
	}
	if err := envconf.Load(getenv, Prefix, &c); err != nil {
		return c, fmt.Errorf("serialconsole: %w", err)
	}
	if _, err := c.mode(); err != nil {
		return c, err
	}
	return c, nil
}

// OpenEnv connects to the adapter the environment describes (see
// LoadConfig and Connect). It fails with ErrNotConfigured when SERIAL is
// empty.
func OpenEnv(getenv func(string) string, capture *dut.Capture, opts ...Option) (*Port, error) {
	c, err := LoadConfig(getenv)
	if err != nil {
		return nil, err
	}
	p, err := Connect(c, capture, opts...)
	if err != nil {
		return nil, fmt.Errorf("serialconsole: SERIAL=%s: %w", c.Device, err)
	}
	if !strings.HasPrefix(c.Device, "/dev/serial/") {
		p.log.Warn("SERIAL is not a /dev/serial/by-id or by-path link; the name may change when adapters are replugged", "device", c.Device)
	}
	return p, nil
}
