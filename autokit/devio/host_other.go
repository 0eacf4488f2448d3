//go:build !linux

package devio

import (
	"errors"
	"os"
)

// Host opens real device nodes; the drivers here are Linux-only, so on
// other systems every Open fails.
type Host struct{}

var errUnsupported = errors.New("devio: device nodes are supported on Linux only")

// Open implements Opener.
func (Host) Open(path string, flag int) (Device, error) {
	return nil, &os.PathError{Op: "open", Path: path, Err: errUnsupported}
}

// OpenFD implements FDOpener.
func (Host) OpenFD(fd uintptr, name string) (Device, error) { return nil, errUnsupported }
