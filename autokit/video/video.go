package video

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power"
	"github.com/balena/leviathan-action/autokit/video/v4l2"
)

// Prefix is the prefix of every video variable.
const Prefix = "VIDEO"

// ErrNotConfigured is returned by Open when VIDEO is not set.
var ErrNotConfigured = errors.New("video: VIDEO is not set")

// Option passes what a driver needs besides its variables.
type Option func(*deps)

type deps struct{ log *slog.Logger }

// WithLogger gives the driver a logger. It is silent by default.
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.log = l } }

// Driver is one entry of the table.
type Driver struct {
	Name string
	Doc  string
	// Config returns a pointer to a new zero configuration struct with
	// envconfig tags.
	Config func() any
	open   func(cfg any, d deps) (dut.Screen, error)
}

var drivers = [...]Driver{
	{
		Name:   "v4l2",
		Doc:    "a V4L2 capture device (HDMI capture stick or card), one frame per screenshot through ffmpeg",
		Config: func() any { return new(v4l2.Config) },
		open: func(cfg any, d deps) (dut.Screen, error) {
			var o []v4l2.Option
			if d.log != nil {
				o = append(o, v4l2.WithLogger(d.log))
			}
			return v4l2.New(*cfg.(*v4l2.Config), o...)
		},
	},
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

// Open builds the driver VIDEO names, configured from the VIDEO_*
// variables getenv returns (os.Getenv for the process environment). It
// fails with ErrNotConfigured when VIDEO is empty, and with an error naming
// the variable when one is missing or malformed.
func Open(getenv func(string) string, opts ...Option) (dut.Screen, error) {
	name := strings.ToLower(strings.TrimSpace(getenv(Prefix)))
	if name == "" {
		return nil, fmt.Errorf("%w; one of: %s", ErrNotConfigured, strings.Join(Names(), ", "))
	}
	var drv *Driver
	for i := range drivers {
		if drivers[i].Name == name {
			drv = &drivers[i]
		}
	}
	if drv == nil {
		return nil, fmt.Errorf("video: unknown VIDEO=%q; one of: %s", name, strings.Join(Names(), ", "))
	}
	cfg := drv.Config()
	if err := power.Load(getenv, Prefix, cfg); err != nil {
		return nil, fmt.Errorf("video: VIDEO=%s: %w", name, err)
	}
	var d deps
	for _, o := range opts {
		o(&d)
	}
	s, err := drv.open(cfg, d)
	if err != nil {
		return nil, fmt.Errorf("video: VIDEO=%s: %w", name, err)
	}
	return s, nil
}
