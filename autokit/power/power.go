package power

import (
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/envconf"
	"github.com/balena/leviathan-action/autokit/power/button"
	"github.com/balena/leviathan-action/autokit/power/dli"
	"github.com/balena/leviathan-action/autokit/power/dummy"
	"github.com/balena/leviathan-action/autokit/power/pdudaemon"
	"github.com/balena/leviathan-action/autokit/power/pduhttp"
	"github.com/balena/leviathan-action/autokit/power/shelly"
	"github.com/balena/leviathan-action/autokit/power/tasmota"
	"github.com/balena/leviathan-action/autokit/relay"
)

// Prefix is the prefix of every power variable.
const Prefix = "POWER"

// ErrNotConfigured is returned by Open when POWER is not set.
var ErrNotConfigured = errors.New("power: POWER is not set")

// Option passes what a driver needs besides its variables.
type Option func(*deps)

type deps struct {
	relay dut.Relay
	hc    *http.Client
	log   *slog.Logger
}

// WithRelay gives the relay and button drivers the relay (DIGITAL_RELAY)
// the supply or the button is wired through.
func WithRelay(r dut.Relay) Option { return func(d *deps) { d.relay = r } }

// WithHTTPClient sends the network drivers' requests through hc.
func WithHTTPClient(hc *http.Client) Option { return func(d *deps) { d.hc = hc } }

// WithLogger gives the drivers a logger. They are silent by default.
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.log = l } }

func (d deps) http() []pduhttp.Option {
	var o []pduhttp.Option
	if d.hc != nil {
		o = append(o, pduhttp.WithHTTPClient(d.hc))
	}
	if d.log != nil {
		o = append(o, pduhttp.WithLogger(d.log))
	}
	return o
}

// Driver is one entry of the table.
type Driver = envconf.Driver[dut.Power, deps]

func entry[C any](name, doc string, open func(C, deps) (dut.Power, error)) Driver {
	return envconf.Entry(name, doc, open)
}

// drivers is the fixed table, sorted by name.
var drivers = [...]Driver{
	entry("button", "a relay pressing the board's power button", func(c button.Config, d deps) (dut.Power, error) {
		if d.relay == nil {
			return nil, errors.New("power: POWER=button needs a relay wired across the button (configure DIGITAL_RELAY); none was given")
		}
		var o []button.Option
		if d.log != nil {
			o = append(o, button.WithLogger(d.log))
		}
		return button.New(d.relay, c, o...)
	}),
	entry("dli", "Digital Loggers web power switch (REST API)", func(c dli.Config, d deps) (dut.Power, error) {
		return dli.New(c, d.http()...)
	}),
	entry("dummy", "in-memory, switches nothing (tests, dry runs)", func(c dummy.Config, d deps) (dut.Power, error) {
		return dummy.FromConfig(c)
	}),
	entry("pdudaemon", "a PDU port through a PDUDaemon server", func(c pdudaemon.Config, d deps) (dut.Power, error) {
		return pdudaemon.New(c, d.http()...)
	}),
	entry("relay", "the supply switched by a DIGITAL_RELAY channel (USB HID relay board, GPIO line)", func(c relay.PowerConfig, d deps) (dut.Power, error) {
		return relay.NewPower(d.relay, c)
	}),
	entry("shelly", "Shelly Gen2+ switch (RPC over HTTP)", func(c shelly.Config, d deps) (dut.Power, error) {
		return shelly.New(c, d.http()...)
	}),
	entry("tasmota", "Tasmota smart plug or relay board (HTTP commands)", func(c tasmota.Config, d deps) (dut.Power, error) {
		return tasmota.New(c, d.http()...)
	}),
}

var family = envconf.Family[dut.Power, deps]{Package: "power", Prefix: Prefix,
	NotConfigured: ErrNotConfigured, Drivers: drivers[:]}

// Drivers lists the drivers Open knows, sorted by name.
func Drivers() []Driver { return family.Drivers }

// Names lists the driver names, sorted.
func Names() []string { return family.Names() }

// Open builds the driver POWER names, configured from the POWER_*
// variables that getenv returns (os.Getenv for the process environment).
// It fails with ErrNotConfigured when POWER is empty, and with an error
// naming the variable when one is missing or malformed.
func Open(getenv func(string) string, opts ...Option) (dut.Power, error) {
	var d deps
	for _, o := range opts {
		o(&d)
	}
	return family.Open(getenv, d)
}

// Usage writes, for each driver, the variables it reads with their
// defaults and descriptions, as envconfig formats them.
func Usage(w io.Writer) error { return family.Usage(w) }

// Load fills spec from getenv; see envconf.Load.
func Load(getenv func(string) string, prefix string, spec any) error {
	return envconf.Load(getenv, prefix, spec)
}
