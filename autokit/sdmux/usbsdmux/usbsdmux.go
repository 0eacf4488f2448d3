package usbsdmux

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/devio"
	"github.com/balena/leviathan-action/autokit/sdmux"
)

// SCSI generic and USB2642 constants.
const (
	sgIO          = 0x2285 // SG_IO
	sgHdrSize     = 88     // sizeof(struct sg_io_hdr) on 64-bit Linux
	sgDxferToDev  = -2
	sgDxferFromDv = -3
	cdbLen        = 16
	senseLen      = 64
	dataLen       = 512
	sgTimeoutMs   = 3000

	opVendor      = 0xcf
	actWrite      = 0x23
	actWriteRead  = 0x22
	pca9536       = 0x41
	regOutput     = 0x01
	regConfig     = 0x03
	dirOutputs    = 0xf0 // gpio 0-3 outputs
	bitDataOff    = 0x01
	bitPowerOff   = 0x02
	bitSelectDUT  = 0x04
	bitCardRemove = 0x08
)

// Mux is the USB-SD-Mux's switch, reached through its /dev/sgN node.
type Mux struct {
	sg     string
	settle time.Duration
	opener devio.Opener
	log    *slog.Logger
	mu     sync.Mutex
}

var _ sdmux.Mux = (*Mux)(nil)

// Option configures New.
type Option func(*options)

type options struct {
	opener devio.Opener
	log    *slog.Logger
}

// WithOpener opens the sg node through o instead of the real one.
func WithOpener(o devio.Opener) Option { return func(op *options) { op.opener = o } }

// WithLogger logs switches; silent by default.
func WithLogger(l *slog.Logger) Option { return func(op *options) { op.log = l } }

// New is the USB-SD-Mux's card as a dut.Storage.
func New(cfg Config, opts ...Option) (*sdmux.Storage, *Mux) {
	o := options{opener: devio.Host{}, log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	m := &Mux{sg: cfg.SG, settle: cfg.Settle, opener: o.opener, log: o.log}
	return &sdmux.Storage{Name: "usbsdmux", Mux: m, Device: cfg.Device, Timeout: cfg.Timeout, Direct: cfg.Direct, Logger: o.log}, m
}

// Switch implements sdmux.Mux.
func (m *Mux) Switch(ctx context.Context, to sdmux.Side) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if to != sdmux.Host && to != sdmux.DUT {
		return fmt.Errorf("usbsdmux: unknown side %q", to)
	}
	dev, err := m.opener.Open(m.sg, os.O_RDWR)
	if err != nil {
		return fmt.Errorf("usbsdmux: opening the mux's SCSI generic node: %w", err)
	}
	err = m.switchOn(ctx, dev, to)
	if cerr := dev.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("usbsdmux: closing %s: %w", m.sg, cerr)
	}
	return err
}

func (m *Mux) switchOn(ctx context.Context, dev devio.Device, to sdmux.Side) error {
	off := byte(bitDataOff | bitPowerOff | bitCardRemove)
	if err := m.write(dev, regOutput, off); err != nil {
		return err
	}
	if err := m.write(dev, regConfig, dirOutputs); err != nil {
		return err
	}
	if m.settle > 0 {
		t := time.NewTimer(m.settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("usbsdmux: %s: switching to the %s, the card is left disconnected: %w", m.sg, to, ctx.Err())
		case <-t.C:
		}
	}
	want := byte(0) // data and supply on, host selected, card inserted
	if to == sdmux.DUT {
		// Select the DUT before connecting, to avoid glitches.
		if err := m.write(dev, regOutput, off|bitSelectDUT); err != nil {
			return err
		}
		want = bitSelectDUT | bitCardRemove
	}
	if err := m.write(dev, regOutput, want); err != nil {
		return err
	}
	got, err := m.read(dev, regOutput)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("usbsdmux: %s: switching to the %s: the expander's output register reads %#02x, want %#02x", m.sg, to, got, want)
	}
	m.log.Debug("usbsdmux: switched", "sg", m.sg, "to", to)
	return nil
}

// write sets a PCA9536 register: I2C write of [reg, val] in the data phase.
func (m *Mux) write(dev devio.Device, reg, val byte) error {
	cdb := make([]byte, cdbLen)
	cdb[0], cdb[1], cdb[2] = opVendor, actWrite, pca9536<<1
	cdb[4], cdb[5] = 0, 2 // data phase length
	data := make([]byte, dataLen)
	data[0], data[1] = reg, val
	if err := m.sgio(dev, sgDxferToDev, cdb, data); err != nil {
		return fmt.Errorf("usbsdmux: %s: writing %#02x to expander register %#02x: %w", m.sg, val, reg, err)
	}
	return nil
}

// read gets a PCA9536 register: I2C write of [reg], then a one-byte read.
func (m *Mux) read(dev devio.Device, reg byte) (byte, error) {
	cdb := make([]byte, cdbLen)
	cdb[0], cdb[1], cdb[2], cdb[3] = opVendor, actWriteRead, pca9536<<1, pca9536<<1|1
	cdb[4], cdb[5], cdb[6], cdb[7] = 0, 1, 1, reg // read length 1, write length 1, payload
	data := make([]byte, dataLen)
	if err := m.sgio(dev, sgDxferFromDv, cdb, data); err != nil {
		return 0, fmt.Errorf("usbsdmux: %s: reading expander register %#02x: %w", m.sg, reg, err)
	}
	return data[0], nil
}

// SCSIError is a command the device or the kernel reported as failed.
type SCSIError struct {
	CDB          []byte
	Status       byte
	HostStatus   uint16
	DriverStatus uint16
	Sense        []byte
}

func (e *SCSIError) Error() string {
	return fmt.Sprintf("SCSI command [% x] failed: status %#02x, host status %#x, driver status %#x, sense [% x]", e.CDB, e.Status, e.HostStatus, e.DriverStatus, e.Sense)
}

// sgio issues one SG_IO with a 64-bit struct sg_io_hdr.
func (m *Mux) sgio(dev devio.Device, dir int32, cdb, data []byte) error {
	hdr := make([]byte, sgHdrSize)
	le := binary.LittleEndian
	le.PutUint32(hdr[0:], 'S')
	le.PutUint32(hdr[4:], uint32(dir))
	hdr[8], hdr[9] = byte(len(cdb)), senseLen
	le.PutUint32(hdr[12:], uint32(len(data)))
	le.PutUint32(hdr[40:], sgTimeoutMs)
	sense := make([]byte, senseLen)
	err := dev.Ioctl(sgIO, hdr,
		devio.Pointer{Offset: 16, Buf: data},
		devio.Pointer{Offset: 24, Buf: cdb},
		devio.Pointer{Offset: 32, Buf: sense})
	if err != nil {
		return fmt.Errorf("SG_IO: %w", err)
	}
	status, hostStatus, driverStatus := hdr[64], le.Uint16(hdr[68:]), le.Uint16(hdr[70:])
	if status != 0 || hostStatus != 0 || driverStatus != 0 {
		n := min(int(hdr[67]), senseLen)
		return &SCSIError{CDB: cdb, Status: status, HostStatus: hostStatus, DriverStatus: driverStatus, Sense: sense[:n]}
	}
	return nil
}

var errNoSG = errors.New("usbsdmux: no SCSI generic node configured")
