package pdudaemon

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/pduhttp"
)

// ErrUnknown is returned by State before the first On or Off: PDUDaemon
// cannot report a port's state.
var ErrUnknown = errors.New("pdudaemon: power state unknown until the first On or Off (PDUDaemon cannot report it)")

// Config is the wiring of one PDU port behind PDUDaemon. The envconfig tags
// name the variables after the POWER_ prefix. Give Hostname and Port, or
// Alias.
type Config struct {
	URL      string        `envconfig:"URL" required:"true" desc:"PDUDaemon's HTTP listener, e.g. http://localhost:16421"`
	Hostname string        `envconfig:"HOSTNAME" desc:"the PDU's name in PDUDaemon's configuration"`
	Port     string        `envconfig:"PORT" desc:"the PDU port the DUT is on"`
	Alias    string        `envconfig:"ALIAS" desc:"a PDUDaemon alias, instead of HOSTNAME and PORT"`
	Delay    int           `envconfig:"DELAY" default:"0" desc:"seconds PDUDaemon waits before switching"`
	Timeout  time.Duration `envconfig:"TIMEOUT" default:"5s" desc:"per-request timeout"`
}

// Driver switches one PDU port through PDUDaemon. It implements dut.Power.
type Driver struct {
	c     *pduhttp.Client
	query url.Values

	mu    sync.Mutex
	state dut.PowerState // last commanded; "" before the first
}

var _ dut.Power = (*Driver)(nil)

// New checks cfg and returns a driver; it does not contact PDUDaemon.
func New(cfg Config, opts ...pduhttp.Option) (*Driver, error) {
	u, err := pduhttp.ParseURL("pdudaemon", cfg.URL)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	switch {
	case cfg.Alias != "" && (cfg.Hostname != "" || cfg.Port != ""):
		return nil, errors.New("pdudaemon: give either POWER_ALIAS or POWER_HOSTNAME and POWER_PORT, not both")
	case cfg.Alias != "":
		q.Set("alias", cfg.Alias)
	case cfg.Hostname == "" || cfg.Port == "":
		return nil, errors.New("pdudaemon: POWER_HOSTNAME and POWER_PORT (or POWER_ALIAS) are required")
	default:
		q.Set("hostname", cfg.Hostname)
		q.Set("port", cfg.Port)
	}
	if cfg.Delay < 0 {
		return nil, fmt.Errorf("pdudaemon: delay %d is negative", cfg.Delay)
	}
	q.Set("delay", strconv.Itoa(cfg.Delay))
	opts = append([]pduhttp.Option{pduhttp.WithTimeout(cfg.Timeout)}, opts...)
	return &Driver{c: pduhttp.New("pdudaemon", u, opts...), query: q}, nil
}

// On implements dut.Power: PDUDaemon has accepted the request when it
// returns.
func (d *Driver) On(ctx context.Context) error { return d.request(ctx, "on", dut.PowerOn) }

// Off implements dut.Power: PDUDaemon has accepted the request when it
// returns.
func (d *Driver) Off(ctx context.Context) error { return d.request(ctx, "off", dut.PowerOff) }

// State implements dut.Power with the last commanded state: PDUDaemon
// cannot read the port.
func (d *Driver) State(ctx context.Context) (dut.PowerState, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("pdudaemon: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == "" {
		return "", ErrUnknown
	}
	return d.state, nil
}

func (d *Driver) request(ctx context.Context, cmd string, want dut.PowerState) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pdudaemon: %s: %w", cmd, err) // nothing sent
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.c.Do(ctx, pduhttp.Request{Path: "/power/control/" + cmd, RawQuery: d.query.Encode()}); err != nil {
		var he *pduhttp.Error
		if !errors.As(err, &he) || he.Status == 0 {
			// No answer: PDUDaemon may have queued the request, so
			// the state is unknown now. A refusal queued nothing.
			d.state = ""
		}
		return err
	}
	d.state = want
	return nil
}
