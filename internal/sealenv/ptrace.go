package sealenv

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// ptraceScopePath is Yama's setting.
const ptraceScopePath = "/proc/sys/kernel/yama/ptrace_scope"

// PtraceScope reads Yama's kernel.yama.ptrace_scope from path: 0 lets a
// process trace any other of its user, 1 only its descendants, 2 only
// with CAP_SYS_PTRACE, 3 none. An error means Yama is missing or the file
// unreadable.
func PtraceScope(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("sealenv: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("sealenv: %s: %w", path, err)
	}
	return n, nil
}

// warnPtrace logs a warning when processes of this user may trace this one
// and so read the sealed secrets from its memory.
func warnPtrace(log *slog.Logger, path string) {
	if runtime.GOOS != "linux" {
		return
	}
	const risk = "a process of this user, such as a suite, may trace this one and read the secrets from its memory; set kernel.yama.ptrace_scope=1 (sysctl) to allow tracing descendants only"
	n, err := PtraceScope(path)
	switch {
	case err != nil:
		log.Warn("Yama's ptrace_scope is not readable (Yama disabled?): "+risk, "error", err)
	case n == 0:
		log.Warn("kernel.yama.ptrace_scope is 0: "+risk, "path", path)
	default:
		log.Debug("kernel.yama.ptrace_scope restricts tracing", "ptrace_scope", n)
	}
}
