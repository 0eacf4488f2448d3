package v4l2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Config is the wiring of one capture device.
type Config struct {
	// Device is the V4L2 capture node (VIDEO_DEVICE), /dev/videoN or a
	// stable /dev/v4l/by-id/… link.
	Device string `envconfig:"DEVICE" required:"true" desc:"the V4L2 capture device"`
	// Size asks the device for a frame size such as 1920x1080
	// (VIDEO_SIZE); the device's current size when empty.
	Size string `envconfig:"SIZE" desc:"frame size, WIDTHxHEIGHT"`
	// Format asks for an input pixel format such as mjpeg or yuyv422
	// (VIDEO_FORMAT); the device's default when empty.
	Format string `envconfig:"FORMAT" desc:"input pixel format (mjpeg, yuyv422, …)"`
	// Timeout bounds one screenshot (VIDEO_TIMEOUT).
	Timeout time.Duration `envconfig:"TIMEOUT" default:"15s" desc:"how long one screenshot may take"`
	// FFmpeg is the ffmpeg program (VIDEO_FFMPEG), looked up in PATH.
	FFmpeg string `envconfig:"FFMPEG" default:"ffmpeg" desc:"the ffmpeg program"`

	// demuxer is ffmpeg's input format: "v4l2", or "lavfi" in tests.
	demuxer string
}

// Camera takes screenshots from a capture device through ffmpeg.
type Camera struct {
	cfg    Config
	ffmpeg string
	log    *slog.Logger
}

var _ dut.Screen = (*Camera)(nil)

// Option configures New.
type Option func(*Camera)

// WithLogger logs every screenshot's command line; silent by default.
func WithLogger(l *slog.Logger) Option { return func(c *Camera) { c.log = l } }

var sizeRE = regexp.MustCompile(`^[1-9][0-9]*x[1-9][0-9]*$`)

// New checks the configuration, the device node (present, readable and
// writable) and ffmpeg (in PATH). It does not capture.
func New(cfg Config, opts ...Option) (*Camera, error) {
	c := &Camera{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(c)
	}
	if c.cfg.demuxer == "" {
		c.cfg.demuxer = "v4l2"
	}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = 15 * time.Second
	}
	if c.cfg.FFmpeg == "" {
		c.cfg.FFmpeg = "ffmpeg"
	}
	if c.cfg.Device == "" {
		return nil, errors.New("v4l2: VIDEO_DEVICE is empty: set it to the capture device (v4l2-ctl --list-devices lists them)")
	}
	if c.cfg.Size != "" && !sizeRE.MatchString(c.cfg.Size) {
		return nil, fmt.Errorf("v4l2: VIDEO_SIZE=%q: want WIDTHxHEIGHT, such as 1920x1080", c.cfg.Size)
	}
	if c.cfg.demuxer == "v4l2" {
		if _, err := os.Stat(c.cfg.Device); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("v4l2: capture device %s does not exist: is the capture card plugged in? (v4l2-ctl --list-devices lists them): %w", c.cfg.Device, err)
			}
			return nil, fmt.Errorf("v4l2: capture device: %w", err)
		}
		if err := unix.Access(c.cfg.Device, unix.R_OK|unix.W_OK); err != nil {
			return nil, fmt.Errorf("v4l2: capture device %s: not permitted (run as root or add the user to the video group): %w", c.cfg.Device, &fs.PathError{Op: "access", Path: c.cfg.Device, Err: err})
		}
	}
	p, err := exec.LookPath(c.cfg.FFmpeg)
	if err != nil {
		return nil, fmt.Errorf("v4l2: screenshots need ffmpeg (apt-get install ffmpeg, or set VIDEO_FFMPEG): %w", err)
	}
	c.ffmpeg = p
	return c, nil
}

// Args is the ffmpeg command line (without the program) one screenshot
// runs: one frame from the device, encoded as PNG on standard output.
func (c *Camera) Args() []string {
	a := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-f", c.cfg.demuxer}
	if c.cfg.Size != "" {
		a = append(a, "-video_size", c.cfg.Size)
	}
	if c.cfg.Format != "" {
		a = append(a, "-input_format", c.cfg.Format)
	}
	return append(a, "-i", c.cfg.Device, "-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-")
}

// CaptureError is a failed screenshot, with what ffmpeg said.
type CaptureError struct {
	Command string // the command line, to reproduce it
	Stderr  string // the end of ffmpeg's standard error
	Err     error
}

func (e *CaptureError) Error() string {
	s := fmt.Sprintf("v4l2: screenshot: %v\ncommand: %s", e.Err, e.Command)
	if e.Stderr != "" {
		s += "\nffmpeg said: " + e.Stderr
	}
	return s
}

func (e *CaptureError) Unwrap() error { return e.Err }

// Screenshot grabs one frame and returns it as a PNG. It fails with a
// *CaptureError holding ffmpeg's standard error when ffmpeg fails, times
// out (Config.Timeout or ctx) or prints something that is not a PNG.
// Screenshot implements dut.Screen.
func (c *Camera) Screenshot(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	args := c.Args()
	cmd := exec.CommandContext(ctx, c.ffmpeg, args...)
	var out bytes.Buffer
	stderr := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = &out, stderr
	cmd.WaitDelay = 2 * time.Second
	line := c.ffmpeg + " " + strings.Join(args, " ")
	c.log.Debug("screenshot", "command", line)
	start := time.Now()
	err := cmd.Run()
	fail := func(err error) error {
		return &CaptureError{Command: line, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	if ctx.Err() != nil {
		return nil, fail(fmt.Errorf("no frame within %v: %w", time.Since(start).Round(time.Millisecond), ctx.Err()))
	}
	if err != nil {
		return nil, fail(fmt.Errorf("ffmpeg failed: %w", err))
	}
	if _, err := png.DecodeConfig(bytes.NewReader(out.Bytes())); err != nil {
		return nil, fail(fmt.Errorf("ffmpeg printed %d bytes that are not a PNG: %w", out.Len(), err))
	}
	return out.Bytes(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
