//go:build unix

package duttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// signalNames maps signals to their SSH names (RFC 4254 section 6.10).
var signalNames = map[syscall.Signal]string{
	syscall.SIGABRT: "ABRT", syscall.SIGALRM: "ALRM", syscall.SIGFPE: "FPE",
	syscall.SIGHUP: "HUP", syscall.SIGILL: "ILL", syscall.SIGINT: "INT",
	syscall.SIGKILL: "KILL", syscall.SIGPIPE: "PIPE", syscall.SIGQUIT: "QUIT",
	syscall.SIGSEGV: "SEGV", syscall.SIGTERM: "TERM", syscall.SIGUSR1: "USR1",
	syscall.SIGUSR2: "USR2",
}

// runShell runs command with sh -c in its own process group, killed as a
// whole when ctx ends. It returns the exit status, or the name of the
// signal that killed the shell.
func runShell(ctx context.Context, command, dir string, stdin io.Reader, stdout, stderr io.Writer) (int, string) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = dir
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintf(stderr, "duttest: %v\n", err)
		return 127, ""
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "duttest: %v\n", err)
		return 127, ""
	}
	go copyStdin(in, stdin)
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			if name, ok := signalNames[ws.Signal()]; ok {
				return -1, name
			}
			return -1, fmt.Sprintf("SIG%d", int(ws.Signal()))
		}
		return ee.ExitCode(), ""
	default:
		fmt.Fprintf(stderr, "duttest: %v\n", err)
		return 255, ""
	}
}
