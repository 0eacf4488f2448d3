package tasmota

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/pduhttp"
)

// Config is the wiring of one Tasmota relay. The envconfig tags name the
// variables after the POWER_ prefix (POWER_URL, POWER_CHANNEL, ...).
type Config struct {
	URL      string        `envconfig:"URL" required:"true" desc:"base URL of the device, e.g. http://192.168.1.50"`
	Channel  int           `envconfig:"CHANNEL" default:"1" desc:"relay number, from 1"`
	User     string        `envconfig:"USER" default:"admin" desc:"web user (sent only with a password)"`
	Password string        `envconfig:"PASSWORD" desc:"web password; empty when none is set"`
	Timeout  time.Duration `envconfig:"TIMEOUT" default:"5s" desc:"per-request timeout"`
}

// Driver switches one Tasmota relay. It implements dut.Power.
type Driver struct {
	c       *pduhttp.Client
	cfg     Config
	channel string
}

var _ dut.Power = (*Driver)(nil)

// New checks cfg and returns a driver; it does not contact the device.
func New(cfg Config, opts ...pduhttp.Option) (*Driver, error) {
	u, err := pduhttp.ParseURL("tasmota", cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Channel < 1 || cfg.Channel > 32 {
		return nil, fmt.Errorf("tasmota: channel %d is not a relay number (1-32)", cfg.Channel)
	}
	opts = append([]pduhttp.Option{pduhttp.WithTimeout(cfg.Timeout), pduhttp.WithRedactedQuery("password")}, opts...)
	return &Driver{c: pduhttp.New("tasmota", u, opts...), cfg: cfg, channel: strconv.Itoa(cfg.Channel)}, nil
}

// On implements dut.Power.
func (d *Driver) On(ctx context.Context) error { return d.set(ctx, dut.PowerOn) }

// Off implements dut.Power.
func (d *Driver) Off(ctx context.Context) error { return d.set(ctx, dut.PowerOff) }

// State implements dut.Power: it asks the device.
func (d *Driver) State(ctx context.Context) (dut.PowerState, error) {
	return d.command(ctx, "")
}

func (d *Driver) set(ctx context.Context, want dut.PowerState) error {
	arg := "On"
	if want == dut.PowerOff {
		arg = "Off"
	}
	got, err := d.command(ctx, arg)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("tasmota: relay %s is %s after Power%s %s", d.channel, got, d.channel, arg)
	}
	return nil
}

// command sends Power<N> [arg] and returns the state in the answer.
func (d *Driver) command(ctx context.Context, arg string) (dut.PowerState, error) {
	cmnd := "Power" + d.channel
	if arg != "" {
		cmnd += " " + arg
	}
	q := ""
	if d.cfg.Password != "" {
		q = "user=" + url.QueryEscape(d.cfg.User) + "&password=" + url.QueryEscape(d.cfg.Password) + "&"
	}
	req := pduhttp.Request{Path: "/cm", RawQuery: q + "cmnd=" + url.PathEscape(cmnd)}
	resp, err := d.c.Do(ctx, req)
	if err != nil {
		return "", err
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		return "", fmt.Errorf("tasmota: %s: answer is not JSON: %q", d.c.URL(req), pduhttp.Excerpt(resp.Body))
	}
	if w, ok := m["WARNING"]; ok {
		return "", fmt.Errorf("tasmota: %s: device refused: %v (check POWER_USER and POWER_PASSWORD)", d.c.URL(req), w)
	}
	if c, ok := m["Command"]; ok && fmt.Sprint(c) == "Unknown" {
		return "", fmt.Errorf("tasmota: %s: device does not know %s; is relay %s configured?", d.c.URL(req), cmnd, d.channel)
	}
	v, ok := m["POWER"+d.channel]
	if !ok && d.channel == "1" {
		v, ok = m["POWER"]
	}
	if !ok {
		return "", fmt.Errorf("tasmota: %s: answer has no POWER%s: %q", d.c.URL(req), d.channel, pduhttp.Excerpt(resp.Body))
	}
	switch strings.ToUpper(fmt.Sprint(v)) {
	case "ON":
		return dut.PowerOn, nil
	case "OFF":
		return dut.PowerOff, nil
	}
	return "", errors.New("tasmota: " + d.c.URL(req) + ": relay state " + fmt.Sprint(v) + " is neither ON nor OFF")
}
