//go:build unix && !linux

package sealenv

import "syscall"

// pipe makes a pipe with close-on-exec on both ends; the caller holds
// syscall.ForkLock.
func pipe(p []int) error {
	if err := syscall.Pipe(p); err != nil {
		return err
	}
	syscall.CloseOnExec(p[0])
	syscall.CloseOnExec(p[1])
	return nil
}

// growPipe does nothing: there is no portable way to size a pipe, and
// the non-blocking write reports a payload the pipe cannot hold.
func growPipe(fd, n int) {}

// restoreName does nothing: the exec keeps the program's name.
func restoreName() {}
