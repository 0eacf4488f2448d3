package gpiorelay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/relay"
)

// uAPI v2 numbers from include/uapi/linux/gpio.h.
const (
	getLineIoctl   = 0xc250b407 // GPIO_V2_GET_LINE_IOCTL, struct gpio_v2_line_request (592 bytes)
	getValuesIoctl = 0xc010b40e // GPIO_V2_LINE_GET_VALUES_IOCTL, struct gpio_v2_line_values (16 bytes)
	setValuesIoctl = 0xc010b40f // GPIO_V2_LINE_SET_VALUES_IOCTL

	flagActiveLow     = 1 << 1 // GPIO_V2_LINE_FLAG_ACTIVE_LOW
	flagOutput        = 1 << 3 // GPIO_V2_LINE_FLAG_OUTPUT
	attrOutputValues  = 2      // GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES
	requestSize       = 592
	valuesSize        = 16
	offConsumer       = 256 // char consumer[32]
	offConfigFlags    = 288 // config.flags
	offConfigNumAttrs = 296 // config.num_attrs
	offConfigAttrs    = 320 // config.attrs[0]: id u32, pad u32, values u64, mask u64
	offNumLines       = 560
	offFD             = 588

	// Consumer is the label the kernel shows for the requested lines.
	Consumer = "leviathan"
)

// Opener opens the chip and adopts the line file descriptors the kernel
// hands back; devio.Host, a Record or a Playback.
type Opener interface {
	devio.Opener
	devio.FDOpener
}

// Relay is a set of relays on the lines of one GPIO chip.
type Relay struct {
	cfg    Config
	opener Opener
	log    *slog.Logger

	mu    sync.Mutex
	chip  devio.Device
	lines map[int]devio.Device // by channel, once requested
}

var (
	_ dut.Relay        = (*Relay)(nil)
	_ relay.StateRelay = (*Relay)(nil)
)

// Option configures Open.
type Option func(*Relay)

// WithOpener opens the chip through o instead of the real device.
func WithOpener(o Opener) Option { return func(r *Relay) { r.opener = o } }

// WithLogger logs every switch; silent by default.
func WithLogger(l *slog.Logger) Option { return func(r *Relay) { r.log = l } }

// Open opens the chip; no line is requested until it is set.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, opener: devio.Host{}, log: slog.New(slog.DiscardHandler), lines: map[int]devio.Device{}}
	for _, o := range opts {
		o(r)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gpiorelay: %w", err)
	}
	chip, err := r.opener.Open(cfg.Chip, os.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("gpiorelay: opening the GPIO chip: %w", err)
	}
	r.chip = chip
	return r, nil
}

// Channels is the number of configured lines.
func (r *Relay) Channels() int { return len(r.cfg.Lines) }

func (r *Relay) lineName(channel int) string {
	return fmt.Sprintf("%s line %d", r.cfg.Chip, r.cfg.Lines[channel-1])
}

// lineRequest encodes struct gpio_v2_line_request for one output line.
func (r *Relay) lineRequest(channel int, closed bool) []byte {
	b := make([]byte, requestSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(r.cfg.Lines[channel-1]))
	copy(b[offConsumer:offConsumer+31], Consumer)
	flags := uint64(flagOutput)
	if r.cfg.ActiveLow {
		flags |= flagActiveLow
	}
	le.PutUint64(b[offConfigFlags:], flags)
	le.PutUint32(b[offConfigNumAttrs:], 1)
	le.PutUint32(b[offConfigAttrs:], attrOutputValues)
	le.PutUint64(b[offConfigAttrs+8:], bit(closed))
	le.PutUint64(b[offConfigAttrs+16:], 1)
	le.PutUint32(b[offNumLines:], 1)
	return b
}

func bit(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}

// values encodes struct gpio_v2_line_values for line 0 of a request.
func values(v bool) []byte {
	b := make([]byte, valuesSize)
	binary.LittleEndian.PutUint64(b[0:], bit(v))
	binary.LittleEndian.PutUint64(b[8:], 1)
	return b
}

// Set implements dut.Relay: closed drives the line active.
func (r *Relay) Set(ctx context.Context, channel int, closed bool) error {
	if err := relay.CheckChannel("gpiorelay", channel, len(r.cfg.Lines)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gpiorelay: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.chip == nil {
		return errors.New("gpiorelay: the relay is closed")
	}
	name := r.lineName(channel)
	line, ok := r.lines[channel]
	if !ok {
		req := r.lineRequest(channel, closed)
		if err := r.chip.Ioctl(getLineIoctl, req); err != nil {
			return fmt.Errorf("gpiorelay: requesting %s as an output (GPIO_V2_GET_LINE_IOCTL): %w", name, err)
		}
		fd := binary.LittleEndian.Uint32(req[offFD:])
		l, err := r.opener.OpenFD(uintptr(fd), name)
		if err != nil {
			return fmt.Errorf("gpiorelay: %s: adopting line fd %d: %w", name, fd, err)
		}
		r.lines[channel], line = l, l
	} else {
		v := values(closed)
		if err := line.Ioctl(setValuesIoctl, v); err != nil {
			return fmt.Errorf("gpiorelay: %s: GPIO_V2_LINE_SET_VALUES_IOCTL [% x]: %w", name, v, err)
		}
	}
	got, err := r.get(line, name)
	if err != nil {
		return err
	}
	if got != closed {
		return fmt.Errorf("gpiorelay: %s reads back %v after setting it to %v", name, got, closed)
	}
	r.log.Debug("gpiorelay: set", "line", name, "closed", closed)
	return nil
}

func (r *Relay) get(line devio.Device, name string) (bool, error) {
	v := values(false)
	if err := line.Ioctl(getValuesIoctl, v); err != nil {
		return false, fmt.Errorf("gpiorelay: %s: GPIO_V2_LINE_GET_VALUES_IOCTL: %w", name, err)
	}
	return binary.LittleEndian.Uint64(v)&1 != 0, nil
}

// State implements relay.Stater: the line's logical value. It fails for a
// channel not set since Open.
func (r *Relay) State(ctx context.Context, channel int) (bool, error) {
	if err := relay.CheckChannel("gpiorelay", channel, len(r.cfg.Lines)); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("gpiorelay: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	line, ok := r.lines[channel]
	if !ok {
		return false, fmt.Errorf("gpiorelay: the state of channel %d (%s) is unknown: it has not been set since the driver started", channel, r.lineName(channel))
	}
	return r.get(line, r.lineName(channel))
}

// Power is a dut.Power that drives channel active to power the DUT.
func (r *Relay) Power(channel int) relay.Power { return relay.Power{Relay: r, Channel: channel} }

// Close releases the line requests (in channel order) and the chip.
func (r *Relay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.chip == nil {
		return nil
	}
	var errs []error
	for ch := 1; ch <= len(r.cfg.Lines); ch++ {
		if l, ok := r.lines[ch]; ok {
			if err := l.Close(); err != nil {
				errs = append(errs, fmt.Errorf("gpiorelay: releasing %s: %w", r.lineName(ch), err))
			}
		}
	}
	if err := r.chip.Close(); err != nil {
		errs = append(errs, fmt.Errorf("gpiorelay: closing %s: %w", r.cfg.Chip, err))
	}
	r.chip, r.lines = nil, nil
	return errors.Join(errs...)
}
