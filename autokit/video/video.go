package video

import (
	"errors"
	"io"
	"log/slog"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/envconf"
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
type Driver = envconf.Driver[dut.Screen, deps]

var family = envconf.Family[dut.Screen, deps]{Package: "video", Prefix: Prefix, NotConfigured: ErrNotConfigured,
	Drivers: []Driver{
		envconf.Entry("v4l2", "a V4L2 capture device (HDMI capture stick or card), one frame per screenshot through ffmpeg",
			func(c v4l2.Config, d deps) (dut.Screen, error) {
				var o []v4l2.Option
				if d.log != nil {
					o = append(o, v4l2.WithLogger(d.log))
				}
				return v4l2.New(c, o...)
			}),
	}}

// Drivers lists the drivers Open knows, sorted by name.
func Drivers() []Driver { return family.Drivers }

// Names lists the driver names, sorted.
func Names() []string { return family.Names() }

// Open builds the driver VIDEO names, configured from the VIDEO_*
// variables getenv returns (os.Getenv for the process environment). It
// fails with ErrNotConfigured when VIDEO is empty, and with an error naming
// the variable when one is missing or malformed.
func Open(getenv func(string) string, opts ...Option) (dut.Screen, error) {
	var d deps
	for _, o := range opts {
		o(&d)
	}
	return family.Open(getenv, d)
}

// Usage writes, for each driver, the variables it reads with their
// defaults and descriptions.
func Usage(w io.Writer) error { return family.Usage(w) }
