package sdwire

import (
	"context"
	"encoding/binary"
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
	"github.com/balena/leviathan-action/autokit/sdmux"
)

const (
	usbdevfsControl = 0xc0185500 // USBDEVFS_CONTROL, struct usbdevfs_ctrltransfer (24 bytes)
	ctrlSize        = 24
	reqSetBitmode   = 0x0b
	reqReadPins     = 0x0c
	typeVendorOut   = 0x40
	typeVendorIn    = 0xc0
	bitmodeCBUS     = 0x20
	cbusOutputs     = 0xf0
	interfaceA      = 1
	timeoutMs       = 1000
)

// USB IDs an SDWire shows.
var ids = [][2]string{{"04e8", "6001"}, {"0403", "6015"}}

// Mux is an SDWire's switch.
type Mux struct {
	node   string
	opener devio.Opener
	log    *slog.Logger
	mu     sync.Mutex
}

var _ sdmux.Mux = (*Mux)(nil)

// Option configures New.
type Option func(*options)

type options struct {
	sysfs  fs.FS
	devDir string
	opener devio.Opener
	log    *slog.Logger
}

// WithSysfs scans fsys (the root of sysfs) instead of /sys.
func WithSysfs(fsys fs.FS) Option { return func(o *options) { o.sysfs = fsys } }

// WithOpener opens the usbfs node through op instead of the real one.
func WithOpener(op devio.Opener) Option { return func(o *options) { o.opener = op } }

// WithLogger logs switches; silent by default.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New finds the SDWire with cfg.Serial and returns its card as a
// dut.Storage.
func New(cfg Config, opts ...Option) (*sdmux.Storage, *Mux, error) {
	o := options{sysfs: os.DirFS("/sys"), devDir: "/dev", opener: devio.Host{}, log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	node, err := Find(o.sysfs, o.devDir, cfg.Serial)
	if err != nil {
		return nil, nil, err
	}
	m := &Mux{node: node, opener: o.opener, log: o.log}
	return &sdmux.Storage{Name: "sdwire", Mux: m, Device: cfg.Device, Timeout: cfg.Timeout, Direct: cfg.Direct, Logger: o.log}, m, nil
}

// Find returns the usbfs node (devDir/bus/usb/BBB/DDD) of the SDWire with
// serial; the error lists the SDWires it saw.
func Find(sysfs fs.FS, devDir, serial string) (string, error) {
	dirs, err := fs.Glob(sysfs, "bus/usb/devices/*/serial")
	if err != nil {
		return "", fmt.Errorf("sdwire: scanning sysfs: %w", err)
	}
	sort.Strings(dirs)
	var seen []string
	for _, f := range dirs {
		dir := path.Dir(f)
		attr := func(name string) string {
			b, _ := fs.ReadFile(sysfs, path.Join(dir, name))
			return strings.TrimSpace(string(b))
		}
		vid, pid := attr("idVendor"), attr("idProduct")
		known := false
		for _, id := range ids {
			known = known || (vid == id[0] && pid == id[1])
		}
		if !known {
			continue
		}
		s := attr("serial")
		if s != serial {
			seen = append(seen, fmt.Sprintf("%q (%s:%s at %s)", s, vid, pid, path.Base(dir)))
			continue
		}
		bus, err1 := strconv.Atoi(attr("busnum"))
		dev, err2 := strconv.Atoi(attr("devnum"))
		if err1 != nil || err2 != nil {
			return "", fmt.Errorf("sdwire: %s: unreadable busnum/devnum in sysfs", dir)
		}
		return path.Join(devDir, "bus/usb", fmt.Sprintf("%03d/%03d", bus, dev)), nil
	}
	if len(seen) == 0 {
		return "", fmt.Errorf("sdwire: no SDWire with serial %q: no FTDI 04e8:6001 or 0403:6015 device in sysfs bus/usb/devices", serial)
	}
	return "", fmt.Errorf("sdwire: no SDWire with serial %q; found: %s", serial, strings.Join(seen, "; "))
}

// Node is the usbfs node of the board.
func (m *Mux) Node() string { return m.node }

// Switch implements sdmux.Mux.
func (m *Mux) Switch(ctx context.Context, to sdmux.Side) error {
	var level byte
	switch to {
	case sdmux.Host:
		level = 1
	case sdmux.DUT:
	default:
		return fmt.Errorf("sdwire: unknown side %q", to)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sdwire: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dev, err := m.opener.Open(m.node, os.O_RDWR)
	if err != nil {
		return fmt.Errorf("sdwire: opening the usbfs node: %w", err)
	}
	defer dev.Close()
	value := uint16(bitmodeCBUS)<<8 | cbusOutputs | uint16(level)
	if err := control(dev, typeVendorOut, reqSetBitmode, value, nil); err != nil {
		return fmt.Errorf("sdwire: %s: SET_BITMODE %#04x: %w", m.node, value, err)
	}
	pins := make([]byte, 1)
	if err := control(dev, typeVendorIn, reqReadPins, 0, pins); err != nil {
		return fmt.Errorf("sdwire: %s: READ_PINS: %w", m.node, err)
	}
	if pins[0]&1 != level {
		return fmt.Errorf("sdwire: %s: switching to the %s: CBUS pins read %#02x, CBUS0 should be %d", m.node, to, pins[0], level)
	}
	m.log.Debug("sdwire: switched", "node", m.node, "to", to)
	return nil
}

// control issues one USBDEVFS_CONTROL transfer on interface A.
func control(dev devio.Device, reqType, req uint8, value uint16, data []byte) error {
	b := make([]byte, ctrlSize)
	b[0], b[1] = reqType, req
	binary.LittleEndian.PutUint16(b[2:], value)
	binary.LittleEndian.PutUint16(b[4:], interfaceA)
	binary.LittleEndian.PutUint16(b[6:], uint16(len(data)))
	binary.LittleEndian.PutUint32(b[8:], timeoutMs)
	if err := dev.Ioctl(usbdevfsControl, b, devio.Pointer{Offset: 16, Buf: data}); err != nil {
		return fmt.Errorf("USBDEVFS_CONTROL: %w", err)
	}
	return nil
}
