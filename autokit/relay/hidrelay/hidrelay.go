package hidrelay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/relay"
)

// USB IDs of the boards.
const (
	VendorID  = 0x16c0
	ProductID = 0x05df
)

// Feature report commands and ioctls.
const (
	reportLen = 9
	cmdOn     = 0xff
	cmdOff    = 0xfd
	// HIDIOCSFEATURE(9) and HIDIOCGFEATURE(9): _IOC(READ|WRITE, 'H', 6/7, 9).
	hidiocSFeature9 = 0xc0094806
	hidiocGFeature9 = 0xc0094807
)

// Board is one opened relay board.
type Board struct {
	path     string
	serial   string
	channels int
	log      *slog.Logger

	mu  sync.Mutex
	dev devio.Device
}

var (
	_ dut.Relay        = (*Board)(nil)
	_ relay.StateRelay = (*Board)(nil)
)

// Option configures Open.
type Option func(*options)

type options struct {
	sysfs  fs.FS
	devDir string
	opener devio.Opener
	log    *slog.Logger
}

// WithSysfs scans fsys (the root of sysfs) instead of /sys.
func WithSysfs(fsys fs.FS) Option { return func(o *options) { o.sysfs = fsys } }

// WithDevDir finds hidraw nodes in dir instead of /dev.
func WithDevDir(dir string) Option { return func(o *options) { o.devDir = dir } }

// WithOpener opens device nodes through o (a recording or a playback)
// instead of the real ones.
func WithOpener(op devio.Opener) Option { return func(o *options) { o.opener = op } }

// WithLogger logs what Open found and every switch; silent by default.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Candidate is a hidraw node whose USB ID is a relay board's.
type Candidate struct {
	Node     string // "hidraw0"
	Name     string // HID_NAME, "www.dcttech.com USBRelay2"
	Channels int    // from the name; 0 when it names none
}

// Scan lists the relay boards' hidraw nodes in sysfs, sorted by node name.
func Scan(sysfs fs.FS) ([]Candidate, error) {
	matches, err := fs.Glob(sysfs, "class/hidraw/*/device/uevent")
	if err != nil {
		return nil, fmt.Errorf("hidrelay: scanning sysfs: %w", err)
	}
	var out []Candidate
	for _, m := range matches {
		b, err := fs.ReadFile(sysfs, m)
		if err != nil {
			return nil, fmt.Errorf("hidrelay: %w", err)
		}
		env := parseUevent(b)
		vid, pid, ok := parseHIDID(env["HID_ID"])
		if !ok || vid != VendorID || pid != ProductID {
			continue
		}
		node := path.Base(path.Dir(path.Dir(m)))
		out = append(out, Candidate{Node: node, Name: env["HID_NAME"], Channels: channelsFromName(env["HID_NAME"])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

func parseUevent(b []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

// parseHIDID reads "0003:000016C0:000005DF" (bus:vendor:product).
func parseHIDID(s string) (vid, pid uint64, ok bool) {
	f := strings.Split(s, ":")
	if len(f) != 3 {
		return 0, 0, false
	}
	v, err1 := strconv.ParseUint(f[1], 16, 32)
	p, err2 := strconv.ParseUint(f[2], 16, 32)
	return v, p, err1 == nil && err2 == nil
}

// channelsFromName reads the trailing digit of "USBRelay2".
func channelsFromName(name string) int {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(name[i:])
	if err != nil || n < 1 || n > 8 {
		return 0
	}
	return n
}

// NotFoundError is returned by Open when no board has the wanted serial.
type NotFoundError struct {
	Serial string
	// Found lists the boards seen: serial and node.
	Found []string
	// Failed lists the candidate nodes that could not be read, with why.
	Failed []string
}

func (e *NotFoundError) Error() string {
	var seen []string
	seen = append(seen, e.Found...)
	seen = append(seen, e.Failed...)
	if len(seen) == 0 {
		return fmt.Sprintf("hidrelay: no USB HID relay board with serial %q: no %04x:%04x board in sysfs class/hidraw (is it plugged in?)", e.Serial, VendorID, ProductID)
	}
	return fmt.Sprintf("hidrelay: no USB HID relay board with serial %q; found: %s", e.Serial, strings.Join(seen, "; "))
}

// Open finds the board whose serial number is cfg.Serial and opens it.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Board, error) {
	o := options{sysfs: os.DirFS("/sys"), devDir: "/dev", opener: devio.Host{}, log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	if cfg.Serial == "" {
		return nil, errors.New("hidrelay: no serial number configured")
	}
	cands, err := Scan(o.sysfs)
	if err != nil {
		return nil, err
	}
	nf := &NotFoundError{Serial: cfg.Serial}
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("hidrelay: %w", err)
		}
		p := path.Join(o.devDir, c.Node)
		dev, err := o.opener.Open(p, os.O_RDWR)
		if err != nil {
			nf.Failed = append(nf.Failed, fmt.Sprintf("%s: %v", p, unwrapPath(err)))
			continue
		}
		rep, err := getFeature(dev)
		if err != nil {
			dev.Close()
			nf.Failed = append(nf.Failed, fmt.Sprintf("%s: reading the feature report: %v", p, err))
			continue
		}
		serial := serialOf(rep)
		o.log.Debug("hidrelay: found a board", "node", p, "serial", serial, "name", c.Name)
		if serial != cfg.Serial {
			dev.Close()
			nf.Found = append(nf.Found, fmt.Sprintf("%q at %s", serial, p))
			continue
		}
		n := cfg.Channels
		if n == 0 {
			n = c.Channels
		}
		if n == 0 {
			dev.Close()
			return nil, fmt.Errorf("hidrelay: board %q at %s: its name %q gives no channel count; configure it", serial, p, c.Name)
		}
		return &Board{path: p, serial: serial, channels: n, log: o.log, dev: dev}, nil
	}
	return nil, nf
}

// unwrapPath drops the path from an *fs.PathError, which the caller
// already prints.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func getFeature(dev devio.Device) ([]byte, error) {
	rep := make([]byte, reportLen)
	rep[0] = 0x01
	if err := dev.Ioctl(hidiocGFeature9, rep); err != nil {
		return nil, fmt.Errorf("HIDIOCGFEATURE: %w", err)
	}
	return rep, nil
}

func serialOf(rep []byte) string { return string(bytes.TrimRight(rep[:5], "\x00")) }

// Serial is the board's serial number.
func (b *Board) Serial() string { return b.serial }

// Channels is the number of channels.
func (b *Board) Channels() int { return b.channels }

// Path is the board's hidraw node.
func (b *Board) Path() string { return b.path }

func (b *Board) String() string {
	return fmt.Sprintf("USB HID relay %q (%d channels) at %s", b.serial, b.channels, b.path)
}

// Set implements dut.Relay: it switches channel and reads the state back.
func (b *Board) Set(ctx context.Context, channel int, closed bool) error {
	if err := relay.CheckChannel("hidrelay", channel, b.channels); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hidrelay: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dev == nil {
		return fmt.Errorf("hidrelay: board %q is closed", b.serial)
	}
	rep := make([]byte, reportLen)
	rep[1], rep[2] = cmdOff, byte(channel)
	if closed {
		rep[1] = cmdOn
	}
	if err := b.dev.Ioctl(hidiocSFeature9, rep); err != nil {
		return fmt.Errorf("hidrelay: board %q at %s: HIDIOCSFEATURE [% x]: %w", b.serial, b.path, rep, err)
	}
	got, err := getFeature(b.dev)
	if err != nil {
		return fmt.Errorf("hidrelay: board %q at %s: reading back: %w", b.serial, b.path, err)
	}
	if isClosed(got, channel) != closed {
		want := "open"
		if closed {
			want = "close"
		}
		return fmt.Errorf("hidrelay: board %q at %s: channel %d did not %s: state byte %#02x after the command (feature report [% x])", b.serial, b.path, channel, want, got[7], got)
	}
	b.log.Debug("hidrelay: set", "serial", b.serial, "channel", channel, "closed", closed)
	return nil
}

func isClosed(rep []byte, channel int) bool { return rep[7]&(1<<(channel-1)) != 0 }

// State implements relay.Stater.
func (b *Board) State(ctx context.Context, channel int) (bool, error) {
	if err := relay.CheckChannel("hidrelay", channel, b.channels); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("hidrelay: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dev == nil {
		return false, fmt.Errorf("hidrelay: board %q is closed", b.serial)
	}
	rep, err := getFeature(b.dev)
	if err != nil {
		return false, fmt.Errorf("hidrelay: board %q at %s: %w", b.serial, b.path, err)
	}
	return isClosed(rep, channel), nil
}

// Power is a dut.Power that closes channel to power the DUT.
func (b *Board) Power(channel int) relay.Power { return relay.Power{Relay: b, Channel: channel} }

// Close releases the hidraw node; the relays keep their state.
func (b *Board) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dev == nil {
		return nil
	}
	err := b.dev.Close()
	b.dev = nil
	if err != nil {
		return fmt.Errorf("hidrelay: closing %s: %w", b.path, err)
	}
	return nil
}
