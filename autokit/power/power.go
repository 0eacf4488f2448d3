package power

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/button"
	"github.com/balena/leviathan-action/autokit/power/dli"
	"github.com/balena/leviathan-action/autokit/power/dummy"
	"github.com/balena/leviathan-action/autokit/power/pdudaemon"
	"github.com/balena/leviathan-action/autokit/power/pduhttp"
	"github.com/balena/leviathan-action/autokit/power/shelly"
	"github.com/balena/leviathan-action/autokit/power/tasmota"
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

// WithRelay gives the button driver the relay wired across the button.
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

// Driver is one entry of the table: a name, what it drives, and how to
// build it from its configuration.
type Driver struct {
	Name string
	Doc  string
	// Config returns a pointer to a new zero configuration struct with
	// envconfig tags.
	Config func() any
	open   func(cfg any, d deps) (dut.Power, error)
}

func entry[C any](name, doc string, open func(C, deps) (dut.Power, error)) Driver {
	return Driver{
		Name:   name,
		Doc:    doc,
		Config: func() any { return new(C) },
		open:   func(cfg any, d deps) (dut.Power, error) { return open(*cfg.(*C), d) },
	}
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
	entry("shelly", "Shelly Gen2+ switch (RPC over HTTP)", func(c shelly.Config, d deps) (dut.Power, error) {
		return shelly.New(c, d.http()...)
	}),
	entry("tasmota", "Tasmota smart plug or relay board (HTTP commands)", func(c tasmota.Config, d deps) (dut.Power, error) {
		return tasmota.New(c, d.http()...)
	}),
}

// Drivers lists the drivers Open knows, sorted by name.
func Drivers() []Driver { return drivers[:] }

// Names lists the driver names, sorted.
func Names() []string {
	n := make([]string, len(drivers))
	for i, d := range drivers {
		n[i] = d.Name
	}
	return n
}

func lookup(name string) (Driver, bool) {
	for _, d := range drivers {
		if d.Name == name {
			return d, true
		}
	}
	return Driver{}, false
}

// Open builds the driver POWER names, configured from the POWER_*
// variables that getenv returns (os.Getenv for the process environment).
// It fails with ErrNotConfigured when POWER is empty, and with an error
// naming the variable when one is missing or malformed.
func Open(getenv func(string) string, opts ...Option) (dut.Power, error) {
	name := strings.ToLower(strings.TrimSpace(getenv(Prefix)))
	if name == "" {
		return nil, fmt.Errorf("%w; one of: %s", ErrNotConfigured, strings.Join(Names(), ", "))
	}
	drv, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("power: unknown POWER=%q; one of: %s", name, strings.Join(Names(), ", "))
	}
	cfg := drv.Config()
	if err := Load(getenv, Prefix, cfg); err != nil {
		return nil, fmt.Errorf("power: POWER=%s: %w", name, err)
	}
	var d deps
	for _, o := range opts {
		o(&d)
	}
	p, err := drv.open(cfg, d)
	if err != nil {
		return nil, fmt.Errorf("power: POWER=%s: %w", name, err)
	}
	return p, nil
}

// Usage writes, for each driver, the variables it reads with their
// defaults and descriptions, as envconfig formats them.
func Usage(w io.Writer) error {
	for _, d := range drivers {
		fmt.Fprintf(w, "POWER=%s: %s\n", d.Name, d.Doc)
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		if err := envconfig.Usagef(Prefix, d.Config(), tw, "{{range .}}  {{usage_key .}}\t{{usage_type .}}\t{{usage_default .}}\t{{usage_required .}}\t{{usage_description .}}\n{{end}}"); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// Load fills the struct spec points to from getenv, following envconfig's
// rules for the tags this package's drivers use: each field's variable is
// prefix + "_" + its envconfig tag, "default" applies when the variable is
// empty, and "required" makes an empty variable an error. Field types:
// string, int, bool and time.Duration. (envconfig itself reads only the
// process environment; a test checks both agree.)
func Load(getenv func(string) string, prefix string, spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("power: Load needs a pointer to a struct")
	}
	v = v.Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("envconfig")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := strings.ToUpper(prefix + "_" + tag)
		raw := getenv(key)
		if raw == "" {
			if f.Tag.Get("required") == "true" {
				return fmt.Errorf("%s is required", key)
			}
			raw = f.Tag.Get("default")
			if raw == "" {
				continue
			}
		}
		fv := v.Field(i)
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			d, err := time.ParseDuration(raw)
			if err != nil {
				return fmt.Errorf("%s=%q is not a duration such as 500ms or 5s", key, raw)
			}
			fv.SetInt(int64(d))
		case f.Type.Kind() == reflect.String:
			fv.SetString(raw)
		case f.Type.Kind() == reflect.Int:
			n, err := strconv.ParseInt(raw, 0, 64)
			if err != nil {
				return fmt.Errorf("%s=%q is not an integer", key, raw)
			}
			fv.SetInt(n)
		case f.Type.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return fmt.Errorf("%s=%q is not true or false", key, raw)
			}
			fv.SetBool(b)
		default:
			return fmt.Errorf("power: %s: field type %s is not supported", key, f.Type)
		}
	}
	return nil
}
