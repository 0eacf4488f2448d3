package hookcmd

// What changes when leviathan-hook runs installed: setgid to the hook's
// group (hook.Privileged), run by the runner's user — or by a job, which
// can run the program too, with any environment and arguments.
//
//   - The environment is cut down to the job's facts the runner sets
//     (GITHUB_*, RUNNER_*, CI) before anything reads it, so proxies,
//     certificate paths, DOCKER_*, GODEBUG and LEVIATHAN_* settings from a
//     job never take effect; the settings come from hook.ConfigFile only.
//   - The files the job names (GITHUB_EVENT_PATH, GITHUB_ENV, RUNNER_TEMP)
//     are opened with the caller's real group, so a job cannot make the
//     hook read or write the hook's own files through them; the hook then
//     reads and writes them through /proc/self/fd.
//   - What the command prints has the worker's token replaced by ***.
//   - status leaves the lease id out; heartbeat serves the configured
//     state directory only; install and supervise need root.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// keptEnv are the prefixes of the variables a privileged hook keeps.
var keptEnv = []string{"GITHUB_", "RUNNER_"}

// scrubEnv removes every variable but the job's facts and sets a fixed
// PATH.
func scrubEnv() {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		keep := k == "CI"
		for _, p := range keptEnv {
			keep = keep || strings.HasPrefix(k, p)
		}
		if !keep {
			os.Unsetenv(k)
		}
	}
	os.Setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
}

// redactor replaces secrets in what is written through it.
type redactor struct {
	w       io.Writer
	mu      *sync.Mutex
	secrets *[]string
}

func (r redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	out := p
	for _, s := range *r.secrets {
		if s != "" {
			out = bytes.ReplaceAll(out, []byte(s), []byte("***"))
		}
	}
	r.mu.Unlock()
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// secretsList is shared by an Env's redacting writers.
type secretsList struct {
	mu   sync.Mutex
	list []string
}

func (s *secretsList) add(v ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, v...)
}

func (s *secretsList) wrap(w io.Writer) io.Writer {
	return redactor{w: w, mu: &s.mu, secrets: &s.list}
}

// asCaller runs f with the effective group set back to the real one: as
// the user who ran the program, without the hook's group. In Go the
// change applies to every thread of the process, so f must be all that
// runs meanwhile.
func asCaller(f func() error) error {
	hookGID, realGID := os.Getegid(), os.Getgid()
	if hookGID == realGID {
		return f()
	}
	if err := syscall.Setegid(realGID); err != nil {
		return fmt.Errorf("dropping the hook's group: %w", err)
	}
	ferr := f()
	if err := syscall.Setegid(hookGID); err != nil {
		// The saved set-group-id allows this; if it failed the process
		// has less access, not more: stop here.
		panic("leviathan-hook: taking the hook's group back: " + err.Error())
	}
	return ferr
}

// jobFiles are the files a job names, opened as the caller.
type jobFiles struct {
	event, env *os.File
}

// openJobFiles opens GITHUB_EVENT_PATH for reading and GITHUB_ENV for
// appending with the caller's real group.
func openJobFiles() (*jobFiles, error) {
	jf := &jobFiles{}
	err := asCaller(func() error {
		var err error
		if p := os.Getenv("GITHUB_EVENT_PATH"); p != "" {
			if jf.event, err = os.Open(p); err != nil {
				return fmt.Errorf("GITHUB_EVENT_PATH: %w", err)
			}
		}
		if p := os.Getenv("GITHUB_ENV"); p != "" {
			if jf.env, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
				return fmt.Errorf("GITHUB_ENV: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		jf.Close()
		return nil, err
	}
	return jf, nil
}

func (jf *jobFiles) Close() {
	for _, f := range []*os.File{jf.event, jf.env} {
		if f != nil {
			f.Close()
		}
	}
}

func fdPath(f *os.File) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd())
}

// getenv is the job's environment as the hook sees it: the job's facts,
// its files through the descriptors opened as the caller, no RUNNER_TEMP
// (the command makes the job's scratch directory itself, as the caller)
// and no LEVIATHAN_* setting.
func (jf *jobFiles) getenv(k string) string {
	switch {
	case k == "GITHUB_EVENT_PATH":
		return fdPath(jf.event)
	case k == "GITHUB_ENV":
		return fdPath(jf.env)
	case k == "RUNNER_TEMP":
		return ""
	case k == "CI" || strings.HasPrefix(k, "GITHUB_") || strings.HasPrefix(k, "RUNNER_"):
		return os.Getenv(k)
	}
	return ""
}

// jobDir is the job's scratch directory: RUNNER_TEMP/leviathan.
func jobDir() string {
	if t := os.Getenv("RUNNER_TEMP"); t != "" {
		return filepath.Join(t, "leviathan")
	}
	return ""
}

// exportJobDir makes the job's scratch directory as the caller and
// exports it as LEVIATHAN_JOB_DIR, saying so on out.
func (jf *jobFiles) exportJobDir(out io.Writer) error {
	dir := jobDir()
	if dir == "" || jf.env == nil {
		return nil
	}
	if strings.ContainsAny(dir, "\r\n") {
		return errors.New("RUNNER_TEMP holds a line break")
	}
	if err := asCaller(func() error { return os.MkdirAll(dir, 0o750) }); err != nil {
		return fmt.Errorf("the job's scratch directory: %w", err)
	}
	if _, err := fmt.Fprintf(jf.env, "LEVIATHAN_JOB_DIR=%s\n", dir); err != nil {
		return fmt.Errorf("GITHUB_ENV: %w", err)
	}
	fmt.Fprintf(out, "leviathan: exported LEVIATHAN_JOB_DIR to the job's steps\n")
	return nil
}

// removeJobDir removes the job's scratch directory as the caller.
func removeJobDir() error {
	dir := jobDir()
	if dir == "" {
		return nil
	}
	return asCaller(func() error { return os.RemoveAll(dir) })
}
