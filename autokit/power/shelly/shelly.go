package shelly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/pduhttp"
)

// Config is the wiring of one Shelly switch. The envconfig tags name the
// variables after the POWER_ prefix.
type Config struct {
	URL      string        `envconfig:"URL" required:"true" desc:"base URL of the device, e.g. http://192.168.1.51"`
	Channel  int           `envconfig:"CHANNEL" default:"0" desc:"switch id, from 0"`
	User     string        `envconfig:"USER" default:"admin" desc:"digest user; Shelly always uses admin"`
	Password string        `envconfig:"PASSWORD" desc:"device password; empty when authentication is off"`
	Timeout  time.Duration `envconfig:"TIMEOUT" default:"5s" desc:"per-request timeout"`
}

// Driver switches one Shelly switch. It implements dut.Power.
type Driver struct {
	c  *pduhttp.Client
	id string
}

var _ dut.Power = (*Driver)(nil)

// New checks cfg and returns a driver; it does not contact the device.
func New(cfg Config, opts ...pduhttp.Option) (*Driver, error) {
	u, err := pduhttp.ParseURL("shelly", cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Channel < 0 {
		return nil, fmt.Errorf("shelly: switch id %d is negative", cfg.Channel)
	}
	if cfg.User == "" {
		cfg.User = "admin"
	}
	base := []pduhttp.Option{pduhttp.WithTimeout(cfg.Timeout)}
	if cfg.Password != "" {
		base = append(base, pduhttp.WithCredentials(pduhttp.AuthDigest, cfg.User, cfg.Password))
	}
	return &Driver{c: pduhttp.New("shelly", u, append(base, opts...)...), id: strconv.Itoa(cfg.Channel)}, nil
}

// On implements dut.Power.
func (d *Driver) On(ctx context.Context) error { return d.set(ctx, true) }

// Off implements dut.Power.
func (d *Driver) Off(ctx context.Context) error { return d.set(ctx, false) }

// State implements dut.Power: it asks the device.
func (d *Driver) State(ctx context.Context) (dut.PowerState, error) {
	var st struct {
		Output *bool `json:"output"`
	}
	if err := d.call(ctx, "Switch.GetStatus", "id="+d.id, &st); err != nil {
		return "", err
	}
	if st.Output == nil {
		return "", fmt.Errorf("shelly: Switch.GetStatus of switch %s has no output field", d.id)
	}
	if *st.Output {
		return dut.PowerOn, nil
	}
	return dut.PowerOff, nil
}

func (d *Driver) set(ctx context.Context, on bool) error {
	var res struct {
		WasOn *bool `json:"was_on"`
	}
	if err := d.call(ctx, "Switch.Set", "id="+d.id+"&on="+strconv.FormatBool(on), &res); err != nil {
		return err
	}
	if res.WasOn == nil {
		return fmt.Errorf("shelly: Switch.Set of switch %s answered without was_on", d.id)
	}
	got, err := d.State(ctx)
	if err != nil {
		return err
	}
	want := dut.PowerOff
	if on {
		want = dut.PowerOn
	}
	if got != want {
		return fmt.Errorf("shelly: switch %s is %s after Switch.Set on=%t", d.id, got, on)
	}
	return nil
}

// RPCError is an error the device reported for a call.
type RPCError struct {
	Method  string
	Code    int
	Message string
	Err     *pduhttp.Error // the HTTP evidence
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("shelly: %s: RPC error %d: %s (%s %s, HTTP %d)", e.Method, e.Code, e.Message, e.Err.Method, e.Err.URL, e.Err.Status)
}

func (e *RPCError) Unwrap() error { return e.Err }

func (d *Driver) call(ctx context.Context, method, query string, out any) error {
	req := pduhttp.Request{Path: "/rpc/" + method, RawQuery: query}
	resp, err := d.c.Do(ctx, req)
	if err != nil {
		var he *pduhttp.Error
		if errors.As(err, &he) && he.Status != 0 {
			var e struct {
				Code    *int   `json:"code"`
				Message string `json:"message"`
			}
			if json.Unmarshal([]byte(he.Body), &e) == nil && e.Code != nil {
				return &RPCError{Method: method, Code: *e.Code, Message: e.Message, Err: he}
			}
		}
		return err
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("shelly: %s: answer is not the expected JSON: %q: %w", d.c.URL(req), pduhttp.Excerpt(resp.Body), err)
	}
	return nil
}
