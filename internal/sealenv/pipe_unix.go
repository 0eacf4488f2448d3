//go:build unix

package sealenv

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

func selfExe() (string, error) {
	if runtime.GOOS == "linux" {
		// The running file itself, even when its path was replaced or
		// removed since it started.
		return "/proc/self/exe", nil
	}
	return os.Executable()
}

// reexec writes payload to a new pipe and replaces the process image with
// exe, its environment env plus FDVar naming the pipe's read end. It
// returns only when that failed, with both ends closed.
func reexec(exe string, argv, env []string, payload []byte) error {
	// No process may be started while the descriptors are open without
	// close-on-exec.
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	var p [2]int
	if err := pipe(p[:]); err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	r, w := p[0], p[1]
	defer syscall.Close(r)
	err := fill(w, payload)
	if cerr := syscall.Close(w); err == nil && cerr != nil {
		err = fmt.Errorf("closing the pipe: %w", cerr)
	}
	if err != nil {
		return err
	}
	// A duplicate does not have close-on-exec; r, which has, is closed by
	// the exec or by the deferred Close.
	fd, err := syscall.Dup(r)
	if err != nil {
		return fmt.Errorf("dup: %w", err)
	}
	defer syscall.Close(fd)
	env = append(env, FDVar+"="+strconv.Itoa(fd))
	return syscall.Exec(exe, argv, env)
}

// fill writes b to the pipe's write end without blocking: the reader is
// this process after the exec.
func fill(w int, b []byte) error {
	if err := syscall.SetNonblock(w, true); err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	growPipe(w, len(b))
	for len(b) > 0 {
		n, err := syscall.Write(w, b)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return fmt.Errorf("%w: %d bytes left that the pipe cannot hold", ErrTooLarge, len(b))
		case err != nil:
			return fmt.Errorf("writing the pipe: %w", err)
		}
		b = b[n:]
	}
	return nil
}

// readPipe reads the pipe fd to its end and closes it. The descriptor must
// be a pipe whose writers are all closed; it is read without blocking, so a
// writer left open is an error rather than a hang.
func readPipe(fd int) ([]byte, error) {
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return nil, errors.New("not a pipe")
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	var out []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return nil, errors.New("the pipe still has a writer: it was not made by Seal")
		case err != nil:
			return nil, err
		case n == 0:
			return out, nil
		}
		out = append(out, buf[:n]...)
		if len(out) > MaxSize {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxSize)
		}
	}
}
