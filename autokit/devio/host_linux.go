//go:build linux

package devio

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Host opens real device nodes.
type Host struct{}

var (
	_ Opener   = Host{}
	_ FDOpener = Host{}
	_ Device   = (*hostDevice)(nil)
)

// Open implements Opener with os.OpenFile.
func (Host) Open(path string, flag int) (Device, error) {
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	return &hostDevice{f}, nil
}

// OpenFD implements FDOpener with os.NewFile.
func (Host) OpenFD(fd uintptr, name string) (Device, error) {
	f := os.NewFile(fd, name)
	if f == nil {
		return nil, fmt.Errorf("devio: %s: invalid file descriptor %d", name, fd)
	}
	return &hostDevice{f}, nil
}

type hostDevice struct{ f *os.File }

func (d *hostDevice) Read(p []byte) (int, error)  { return d.f.Read(p) }
func (d *hostDevice) Write(p []byte) (int, error) { return d.f.Write(p) }
func (d *hostDevice) Close() error                { return d.f.Close() }

// Ioctl implements Device. The pointed-to buffers are pinned for the
// duration of the call.
func (d *hostDevice) Ioctl(req uint, arg []byte, ptrs ...Pointer) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	for _, p := range ptrs {
		if p.Offset < 0 || p.Offset+8 > len(arg) {
			return fmt.Errorf("devio: ioctl %#x: pointer at offset %d outside the %d-byte argument", req, p.Offset, len(arg))
		}
		var addr uint64
		if len(p.Buf) > 0 {
			pin.Pin(&p.Buf[0])
			addr = uint64(uintptr(unsafe.Pointer(&p.Buf[0])))
		}
		binary.NativeEndian.PutUint64(arg[p.Offset:], addr)
	}
	defer func() {
		for _, p := range ptrs {
			clear(arg[p.Offset : p.Offset+8])
		}
	}()
	var argp unsafe.Pointer
	if len(arg) > 0 {
		pin.Pin(&arg[0])
		argp = unsafe.Pointer(&arg[0])
	}
	rc, err := d.f.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(argp))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
