// Package sealenv takes secrets out of a process's environment block by
// re-executing the process, so that the children it starts cannot read
// them from /proc/PID/environ.
//
// # What it protects against
//
// On Linux, /proc/PID/environ shows the environment a process was given by
// execve, and any process of the same user may read it: the kernel checks
// PTRACE_MODE_READ for that file, which the Yama LSM does not restrict.
// os.Setenv and os.Unsetenv change only the Go runtime's copy, never that
// block. A GitHub Actions step gets its tokens (github-token as
// INPUT_GITHUB_TOKEN, ACTIONS_RUNTIME_TOKEN, …) in its environment, so a
// child it starts — a test suite built from a pull request, running as the
// same user — could read them from its parent even when its own
// environment was scrubbed.
//
// Seal, called first in main, moves the named variables out of the block:
// it writes them to a pipe, clears close-on-exec on the pipe's read end and
// replaces the process image with itself (syscall.Exec of /proc/self/exe:
// same PID, same arguments) with those variables removed and FDVar naming
// the read end. The new image reads the pipe to its end, closes it and
// serves the values through Env.Getenv, an overlay over os.Getenv. It never
// puts them back with os.Setenv: children inherit os.Environ, which then
// holds none of them.
//
// Why a pipe: its data is consumed when read, so nothing of the secrets
// remains in the kernel once the new image has read them, and the read end
// is closed straight after. A memfd or an O_TMPFILE file would stay
// readable, through any descriptor another process had opened on
// /proc/PID/fd/N, after it was closed. The pipe is written before the exec,
// by the only thread that could read it, so the write must not block: the
// write end is non-blocking, the payload is refused above MaxSize (60 KiB,
// under Linux's default pipe capacity of 64 KiB) and, on Linux, the pipe is
// grown with F_SETPIPE_SZ when the payload exceeds one page (a user over
// fs.pipe-user-pages-soft gets smaller pipes). The encoding is
// NUL-separated NAME=VALUE entries after a header and before an empty
// entry that marks the end, so a truncated payload is refused, and values
// (which an environment cannot hold NULs in) come back byte for byte.
//
// A failure to re-execute is an error: the caller must stop rather than
// run on with the secrets in its environment. Setting OffVar to "off" (the
// escape hatch, for systems without /proc/self/exe or for debugging) skips
// the re-execution and logs a warning; the secrets then stay readable.
//
// # What it does not protect against
//
//   - The secrets are still in the process's memory. A process of the same
//     user that may ptrace it can read them through /proc/PID/mem or a
//     debugger. With Yama's kernel.yama.ptrace_scope=1, the default on
//     Ubuntu, Debian and Fedora, a process may trace only its descendants,
//     so a suite (a child) cannot trace the action (its parent); with 0, or
//     without Yama, it can. Seal reads /proc/sys/kernel/yama/ptrace_scope
//     and logs a warning when it is 0 or missing.
//   - Processes that already ran as the same user when the step started (a
//     daemon an earlier step left behind) could read the environment before
//     the re-execution, and can open /proc/PID/fd/N during the instant the
//     pipe is open.
//   - Root, and processes of the same user in the same PID namespace that
//     hold CAP_SYS_PTRACE.
//   - Values the program itself hands to its children on purpose (such as a
//     worker token passed to the suites so that they can drive the worker).
//
// Seal works on Unix systems; elsewhere it fails unless OffVar is "off".
package sealenv
