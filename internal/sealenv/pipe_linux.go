package sealenv

import (
	"os"
	"path/filepath"
	"syscall"
)

func pipe(p []int) error { return syscall.Pipe2(p, syscall.O_CLOEXEC) }

// growPipe asks for a pipe that holds n bytes when n exceeds the one page
// a user over fs.pipe-user-pages-soft gets. A refusal is not reported:
// the non-blocking write then says the secrets did not fit.
func growPipe(fd, n int) {
	if n > 4096 {
		syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETPIPE_SZ, uintptr(n))
	}
}

// restoreName sets the process's name (/proc/PID/comm, what ps and top
// show), which the exec of /proc/self/exe changed to "exe", back to the
// program's base name. It is cosmetic: a failure is ignored.
func restoreName() {
	name := filepath.Base(os.Args[0])
	if len(name) > 15 {
		name = name[:15]
	}
	os.WriteFile("/proc/self/comm", []byte(name), 0)
}
