package sdmux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Side is where a mux connects the medium.
type Side string

// Sides of a mux.
const (
	Host Side = "host" // the testbot, for flashing
	DUT  Side = "dut"
)

// Mux switches a medium between the testbot and the DUT.
type Mux interface {
	Switch(ctx context.Context, to Side) error
}

// DefaultTimeout is how long Open waits for the device node.
const DefaultTimeout = 10 * time.Second

// ErrBusy is returned by Open while a target is open.
var ErrBusy = errors.New("the medium is already open; close the target first")

// Storage is a medium behind a mux. It implements dut.Storage.
type Storage struct {
	// Name prefixes errors: the driver's package name.
	Name string
	// Mux switches the medium; nil for a device always on the testbot.
	Mux Mux
	// Device is the block device node, preferably a stable
	// /dev/disk/by-id path.
	Device string
	// Timeout bounds the wait for Device to appear; DefaultTimeout when 0.
	Timeout time.Duration
	// Direct opens Device with O_DIRECT.
	Direct bool
	// Power, when set, makes Open fail with dut.ErrPoweredOn while the DUT
	// is powered.
	Power dut.Power
	// Logger is silent when nil.
	Logger *slog.Logger

	mu   sync.Mutex
	open bool
}

var _ dut.Storage = (*Storage)(nil)

func (s *Storage) errorf(format string, a ...any) error {
	name := s.Name
	if name == "" {
		name = "sdmux"
	}
	return fmt.Errorf(name+": "+format, a...)
}

func (s *Storage) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Open implements dut.Storage.
func (s *Storage) Open(ctx context.Context) (dut.Target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open {
		return nil, s.errorf("%s: %w", s.Device, ErrBusy)
	}
	if s.Device == "" {
		return nil, s.errorf("no device path configured")
	}
	if s.Power != nil {
		st, err := s.Power.State(ctx)
		if err != nil {
			return nil, s.errorf("checking the DUT's power before switching the medium: %w", err)
		}
		if st == dut.PowerOn {
			return nil, dut.ErrPoweredOn
		}
	}
	if s.Mux != nil {
		if err := s.Mux.Switch(ctx, Host); err != nil {
			return nil, s.errorf("switching the medium to the testbot: %w", err)
		}
	}
	f, err := s.waitOpen(ctx)
	if err != nil {
		if s.Mux != nil {
			if err2 := s.Mux.Switch(context.WithoutCancel(ctx), DUT); err2 != nil {
				err = errors.Join(err, s.errorf("switching back to the DUT: %w", err2))
			}
		}
		return nil, err
	}
	size, err := capacity(f)
	if err != nil {
		f.Close()
		return nil, s.errorf("%s: %w", s.Device, err)
	}
	s.open = true
	s.log().Debug("sdmux: opened", "device", s.Device, "bytes", size)
	return &Target{File: f, s: s, capacity: size}, nil
}

// waitOpen waits for the node and opens it; a node that exists but is not
// ready yet (ENXIO, ENOMEDIUM right after the switch) is retried.
func (s *Storage) waitOpen(ctx context.Context) (*os.File, error) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	flag := os.O_RDWR
	if s.Direct {
		flag |= syscall.O_DIRECT
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		f, err := os.OpenFile(s.Device, flag, 0)
		if err == nil {
			return f, nil
		}
		switch {
		case errors.Is(err, fs.ErrPermission):
			return nil, s.errorf("opening %s: %w (the testbot's user needs read-write access, e.g. the disk group)", s.Device, err)
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ENOMEDIUM):
			last = err
		default:
			return nil, s.errorf("opening %s: %w", s.Device, err)
		}
		select {
		case <-ctx.Done():
			if parent.Err() == nil {
				return nil, s.errorf("%s did not appear within %v after switching to the testbot (last error: %v): %w", s.Device, timeout, unwrapPath(last), ctx.Err())
			}
			return nil, s.errorf("waiting for %s: %w", s.Device, ctx.Err())
		case <-tick.C:
		}
	}
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// capacity is a block device's size (BLKGETSIZE64) or a file's.
func capacity(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Mode()&fs.ModeDevice == 0 {
		return fi.Size(), nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var size uint64
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size)))
	}); err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, fmt.Errorf("BLKGETSIZE64: %w", errno)
	}
	return int64(size), nil
}

// Target is an opened medium. Closing it hands the medium back to the DUT.
type Target struct {
	*os.File
	s        *Storage
	capacity int64
	once     sync.Once
}

var (
	_ dut.Target = (*Target)(nil)
	_ dut.Zeroed = (*Target)(nil)
)

// Capacity is the medium's size in bytes.
func (t *Target) Capacity() int64 { return t.capacity }

// Zeroed implements dut.Zeroed: a card's old contents are still there.
func (*Target) Zeroed() bool { return false }

// OSFile is the opened node.
func (t *Target) OSFile() *os.File { return t.File }

// Close syncs and closes the node and switches the medium to the DUT.
func (t *Target) Close() error {
	err := fs.ErrClosed
	t.once.Do(func() {
		var errs []error
		if e := t.File.Sync(); e != nil && !errors.Is(e, syscall.EINVAL) {
			errs = append(errs, t.s.errorf("syncing %s: %w", t.s.Device, e))
		}
		if e := t.File.Close(); e != nil {
			errs = append(errs, t.s.errorf("closing %s: %w", t.s.Device, e))
		}
		if t.s.Mux != nil {
			if e := t.s.Mux.Switch(context.Background(), DUT); e != nil {
				errs = append(errs, t.s.errorf("switching the medium back to the DUT: %w", e))
			}
		}
		t.s.mu.Lock()
		t.s.open = false
		t.s.mu.Unlock()
		err = errors.Join(errs...)
	})
	return err
}
