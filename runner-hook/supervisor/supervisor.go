package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/balena/leviathan-action/internal/ctxtime"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// JITConfigEnv is the variable the runner reads its --jitconfig argument
// from (and removes from its environment).
const JITConfigEnv = "ACTIONS_RUNNER_INPUT_JITCONFIG"

// Config says which runner to run, as whom, and what to clean after it.
type Config struct {
	// RunnerDir is the runner's install (where run.sh is).
	RunnerDir string
	// Command starts the runner; RunnerDir/run.sh when empty. It runs in
	// RunnerDir as User with the configuration in JITConfigEnv.
	Command []string
	// Env is added to the runner's environment (HOME, USER, LOGNAME, PATH
	// and LANG are set for User).
	Env []string
	// User is the runner's user: a user of its own, not root.
	User Identity
	// Labels are the runner's labels (at least one).
	Labels []string
	// NamePrefix starts every runner's name (the host name when empty);
	// a random suffix makes each name fresh.
	NamePrefix string
	// Empty are directories emptied after every job: each must be owned by
	// User. RunnerDir/_work and User's home when nil.
	Empty []string
	// RemoveOwned are directories whose entries owned by User are removed
	// after every job: /tmp, /var/tmp and /dev/shm when nil.
	RemoveOwned []string
	// Runs stops Run after this many runner runs; 0 runs until ctx ends.
	Runs int
	// MinBackoff and MaxBackoff bound the wait after a failure (1s and 5m
	// when zero); the wait doubles with every failure in a row.
	MinBackoff, MaxBackoff time.Duration
	// StopGrace is how long the runner has to stop (SIGTERM) when ctx
	// ends before it is killed (30s when zero).
	StopGrace time.Duration
}

func (c Config) withDefaults() Config {
	if len(c.Command) == 0 {
		c.Command = []string{filepath.Join(c.RunnerDir, "run.sh")}
	}
	if c.Empty == nil {
		c.Empty = []string{filepath.Join(c.RunnerDir, "_work")}
		if c.User.Home != "" && c.User.Home != "/" {
			c.Empty = append(c.Empty, c.User.Home)
		}
	}
	if c.RemoveOwned == nil {
		c.RemoveOwned = []string{"/tmp", "/var/tmp", "/dev/shm"}
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 30 * time.Second
	}
	if c.NamePrefix == "" {
		c.NamePrefix, _ = os.Hostname()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case os.Geteuid() != 0:
		return fmt.Errorf("%w: it runs the runner as another user and kills that user's processes", errNotRoot)
	case c.User.UID == 0:
		return errors.New("supervisor: the runner's user must not be root")
	case len(c.Labels) == 0:
		return errors.New("supervisor: no runner labels: give the labels jobs select this testbot by (runs-on)")
	case !filepath.IsAbs(c.RunnerDir):
		return fmt.Errorf("supervisor: runner directory %q: not an absolute path", c.RunnerDir)
	}
	for _, d := range c.Empty {
		rel, err := filepath.Rel(d, c.RunnerDir)
		if err == nil && !strings.HasPrefix(rel, "..") {
			return fmt.Errorf("supervisor: %s holds the runner's install %s, so it cannot be emptied after each job: move the runner out (e.g. to /opt/actions-runner)", d, c.RunnerDir)
		}
	}
	return nil
}

// Supervisor runs one-job runners over and over. Set Config and Registrar;
// the rest is optional.
type Supervisor struct {
	Config    Config
	Registrar Registrar
	// Log receives what the supervisor does; nil discards it.
	Log *slog.Logger
	// Output receives the runner's output; nil discards it.
	Output io.Writer
	// Sleep waits for d or until ctx ends (a timer when nil).
	Sleep func(ctx context.Context, d time.Duration) error
}

func (s *Supervisor) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Supervisor) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	return ctxtime.Sleep(ctx, d)
}

// Run registers a runner, runs it for one job, cleans up after it and
// starts over, until ctx ends (it then stops the runner, cleans up and
// returns nil) or Config.Runs runs are done. It cleans up before the first
// run too, after a crash or a restart. It returns an error only for a
// configuration it cannot run with.
func (s *Supervisor) Run(ctx context.Context) error {
	cfg := s.Config.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	if s.Registrar == nil {
		return errors.New("supervisor: no registrar")
	}
	log := s.log()
	wait := cfg.MinBackoff
	fail := func(max bool) error {
		d := wait
		if max {
			d = cfg.MaxBackoff
		}
		wait = min(wait*2, cfg.MaxBackoff)
		log.Info("waiting before the next attempt", "wait", d)
		return s.sleep(ctx, d)
	}
	runs := 0
	for {
		// A clean slate: no process and no file of the last job.
		if err := s.clean(context.WithoutCancel(ctx), cfg); err != nil {
			log.Error("cleaning up after the runner failed; no runner starts until it succeeds", "err", err)
			if fail(false) != nil {
				return nil
			}
			continue
		}
		if ctx.Err() != nil || (cfg.Runs > 0 && runs >= cfg.Runs) {
			return nil
		}
		name := runnerName(cfg.NamePrefix)
		reg, err := s.Registrar.Register(ctx, name, cfg.Labels)
		if err != nil {
			var ae *APIError
			temporary := errors.As(err, &ae) && ae.Temporary()
			if ctx.Err() != nil {
				return nil
			}
			if temporary {
				log.Warn("registering a runner failed", "err", err)
			} else {
				log.Error("registering a runner failed", "err", err)
			}
			if fail(!temporary) != nil {
				return nil
			}
			continue
		}
		log.Info("registered a just-in-time runner", "name", reg.Name, "id", reg.RunnerID, "labels", cfg.Labels)
		runs++
		start := time.Now()
		err = s.runOnce(ctx, cfg, reg)
		switch {
		case ctx.Err() != nil:
			log.Info("stopping", "why", context.Cause(ctx))
		case err != nil:
			log.Error("the runner failed", "name", reg.Name, "err", err, "after", time.Since(start).Round(time.Second))
			if fail(false) != nil {
				return nil
			}
			continue
		default:
			log.Info("the runner exited", "name", reg.Name, "after", time.Since(start).Round(time.Second))
		}
		wait = cfg.MinBackoff
	}
}

// runnerName is prefix-<6 random hex digits>, cut to GitHub's 64 bytes.
func runnerName(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	suffix := "-" + hex.EncodeToString(b)
	if len(prefix) > 64-len(suffix) {
		prefix = prefix[:64-len(suffix)]
	}
	return prefix + suffix
}

// runOnce resets the runner's per-run files, runs the runner as the user
// until it exits (or ctx ends: SIGTERM, then SIGKILL after StopGrace) and
// kills what it left.
func (s *Supervisor) runOnce(ctx context.Context, cfg Config, reg *Registration) error {
	if err := resetRunFiles(cfg.RunnerDir, cfg.User); err != nil {
		return err
	}
	u := cfg.User
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Dir = cfg.RunnerDir
	cmd.Env = append([]string{
		"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name, "LANG=C.UTF-8",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}, cfg.Env...)
	cmd.Env = append(cmd.Env, JITConfigEnv+"="+reg.JITConfig)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups},
	}
	// The runner's output through a pipe of our own, so that a process
	// it leaves holding the pipe does not hold up Wait.
	var pr, pw *os.File
	if s.Output != nil {
		var err error
		if pr, pw, err = os.Pipe(); err != nil {
			return fmt.Errorf("supervisor: %w", err)
		}
		cmd.Stdout, cmd.Stderr = pw, pw
	}
	err := cmd.Start()
	if pw != nil {
		pw.Close() // the runner holds its own copy
	}
	if err != nil {
		if pr != nil {
			pr.Close()
		}
		return fmt.Errorf("supervisor: starting the runner %s: %w", cfg.Command[0], err)
	}
	var copied chan struct{}
	if pr != nil {
		copied = make(chan struct{})
		go func() {
			defer close(copied)
			defer pr.Close()
			io.Copy(s.Output, pr)
		}()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err = <-done:
		case <-time.After(cfg.StopGrace):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			err = <-done
		}
	}
	killed, kerr := KillUser(context.WithoutCancel(ctx), u.UID)
	if len(killed) > 0 {
		s.log().Warn("killed the processes the job left running", "user", u.Name, "processes", fmt.Sprint(killed))
	}
	if copied != nil {
		select {
		case <-copied:
		case <-time.After(5 * time.Second):
		}
	}
	if kerr != nil {
		return kerr
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("supervisor: the runner: %w", err)
	}
	return nil
}

// resetRunFiles recreates the files a just-in-time runner writes in its
// install (PerRunFiles) empty and owned by the user, when the user cannot
// create them itself; otherwise it removes them.
func resetRunFiles(dir string, u Identity) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("supervisor: runner directory: %w", err)
	}
	userCanCreate := canWrite(st, u)
	for _, name := range RunnerDirs {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("supervisor: %w", err)
		}
		if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
			return fmt.Errorf("supervisor: %w", err)
		}
	}
	for _, name := range PerRunFiles {
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("supervisor: %w", err)
		}
		if userCanCreate || strings.HasSuffix(name, "_migrated") {
			continue
		}
		mode := os.FileMode(0o600)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
		if err != nil {
			return fmt.Errorf("supervisor: %w", err)
		}
		f.Close()
		if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
			return fmt.Errorf("supervisor: %w", err)
		}
	}
	return nil
}

// clean kills every process of the user, empties cfg.Empty, removes the
// user's entries from cfg.RemoveOwned and the user's crontab and linger
// flag.
func (s *Supervisor) clean(ctx context.Context, cfg Config) error {
	log := s.log()
	u := cfg.User
	killed, err := KillUser(ctx, u.UID)
	if len(killed) > 0 {
		log.Warn("killed processes of the runner's user", "user", u.Name, "processes", fmt.Sprint(killed))
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range cfg.Empty {
		n, err := EmptyDir(d, u)
		if err != nil {
			errs = append(errs, err)
		} else if n > 0 {
			log.Info("emptied", "dir", d, "entries", n)
		}
	}
	for _, d := range cfg.RemoveOwned {
		removed, err := RemoveOwned(d, u.UID)
		if err != nil {
			errs = append(errs, err)
		}
		if len(removed) > 0 {
			log.Info("removed the runner's user's files", "dir", d, "files", len(removed))
		}
	}
	for _, p := range persistence(u.Name) {
		if err := os.Remove(p); err == nil {
			log.Warn("removed what would start processes for the runner's user later", "file", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
