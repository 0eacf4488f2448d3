package dli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/pduhttp"
)

// Config is the wiring of one DLI outlet. The envconfig tags name the
// variables after the POWER_ prefix.
type Config struct {
	URL      string        `envconfig:"URL" required:"true" desc:"base URL of the power switch, e.g. http://192.168.0.100"`
	Outlet   int           `envconfig:"OUTLET" default:"0" desc:"outlet number as the REST API counts, from 0"`
	User     string        `envconfig:"USER" default:"admin" desc:"user allowed to use the REST API"`
	Password string        `envconfig:"PASSWORD" required:"true" desc:"that user's password"`
	Timeout  time.Duration `envconfig:"TIMEOUT" default:"5s" desc:"per-request timeout"`
	Settle   time.Duration `envconfig:"SETTLE" default:"3s" desc:"how long the relay may take to follow a command"`
}

// Driver switches one DLI outlet. It implements dut.Power.
type Driver struct {
	c       *pduhttp.Client
	outlet  string
	settle  time.Duration
	noPhysi atomic.Bool // the firmware has no physical_state resource
}

var _ dut.Power = (*Driver)(nil)

// New checks cfg and returns a driver; it does not contact the device.
func New(cfg Config, opts ...pduhttp.Option) (*Driver, error) {
	u, err := pduhttp.ParseURL("dli", cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Outlet < 0 {
		return nil, fmt.Errorf("dli: outlet %d is negative (outlets count from 0)", cfg.Outlet)
	}
	if cfg.User == "" {
		cfg.User = "admin"
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 3 * time.Second
	}
	base := []pduhttp.Option{pduhttp.WithTimeout(cfg.Timeout), pduhttp.WithCredentials(pduhttp.AuthDigest, cfg.User, cfg.Password)}
	return &Driver{c: pduhttp.New("dli", u, append(base, opts...)...), outlet: strconv.Itoa(cfg.Outlet), settle: cfg.Settle}, nil
}

func (d *Driver) path(resource string) string {
	return "/restapi/relay/outlets/" + d.outlet + "/" + resource + "/"
}

// On implements dut.Power.
func (d *Driver) On(ctx context.Context) error { return d.set(ctx, true) }

// Off implements dut.Power.
func (d *Driver) Off(ctx context.Context) error { return d.set(ctx, false) }

// State implements dut.Power: it reads the relay's physical state.
func (d *Driver) State(ctx context.Context) (dut.PowerState, error) {
	if !d.noPhysi.Load() {
		s, err := d.read(ctx, "physical_state")
		var he *pduhttp.Error
		if errors.As(err, &he) && he.Status == http.StatusNotFound {
			// Older firmware: fall back to the state resource, if that
			// one exists (a 404 there too means the outlet does not).
			if s2, err2 := d.read(ctx, "state"); err2 == nil {
				d.noPhysi.Store(true)
				return s2, nil
			}
		}
		return s, err
	}
	return d.read(ctx, "state")
}

func (d *Driver) read(ctx context.Context, resource string) (dut.PowerState, error) {
	req := pduhttp.Request{Path: d.path(resource), Header: http.Header{"Accept": {"application/json"}}}
	resp, err := d.c.Do(ctx, req)
	if err != nil {
		return "", err
	}
	switch strings.TrimSpace(string(resp.Body)) {
	case "true":
		return dut.PowerOn, nil
	case "false":
		return dut.PowerOff, nil
	}
	return "", fmt.Errorf("dli: GET %s: answer is not true or false: %q", d.c.URL(req), pduhttp.Excerpt(resp.Body))
}

func (d *Driver) set(ctx context.Context, on bool) error {
	req := pduhttp.Request{
		Method: http.MethodPut,
		Path:   d.path("state"),
		Header: http.Header{
			"X-Csrf":       {"x"},
			"Accept":       {"application/json"},
			"Content-Type": {"application/x-www-form-urlencoded"},
		},
		Body: []byte("value=" + strconv.FormatBool(on)),
	}
	if _, err := d.c.Do(ctx, req); err != nil {
		return err
	}
	want := dut.PowerOff
	if on {
		want = dut.PowerOn
	}
	deadline := time.Now().Add(d.settle)
	for {
		got, err := d.State(ctx)
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dli: outlet %s is still %s %v after PUT %s value=%t", d.outlet, got, d.settle, d.c.URL(req), on)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("dli: outlet %s: waiting for the relay to follow: %w", d.outlet, ctx.Err())
		case <-t.C:
		}
	}
}
