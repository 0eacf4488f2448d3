package hookcmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/runner-hook/hook"
	"github.com/balena/leviathan-action/runner-hook/supervisor"
)

// Where install puts things unless told otherwise (tests install under a
// temporary directory). The settings file is hook.ConfigFile, compiled in.
const (
	defaultBin      = "/usr/local/bin/leviathan-hook"
	defaultHooksDir = "/usr/local/lib/leviathan/hooks"
	defaultGroup    = "leviathan-hook"
)

const (
	hookStartedKey   = "ACTIONS_RUNNER_HOOK_JOB_STARTED"
	hookCompletedKey = "ACTIONS_RUNNER_HOOK_JOB_COMPLETED"
)

func install(ctx context.Context, e Env, args []string) error {
	flags := e.flags("install --runner-dir DIR --runner-user USER [--set KEY=VALUE …] [flags]", fmt.Sprintf(`Install the hook for the runner in DIR, as root, so that nothing a later job
trusts is under the control of the runner's user (the user its jobs run as):

  - this program, setgid to the group --group (created when missing), at --bin;
  - the settings (--set, and LEVIATHAN_* lines moved out of DIR/.env) in
    %s, readable by that group only: the worker's token
    never reaches a job;
  - the state directory (LEVIATHAN_STATE_DIR), writable by that group only;
  - the job-started and job-completed scripts, owned by root, in --hooks-dir;
  - DIR/.env pointing ACTIONS_RUNNER_HOOK_JOB_STARTED/COMPLETED at them, with
    the worker's token and other secrets removed (every job's steps see .env).

It refuses when the runner's user can change the runner's install (DIR, the
directories above it, .env, bin/, …), printing the commands that fix it;
--force installs anyway. Safe to run again. Restart the runner afterwards.

--insecure-dev installs the old way, for development only: scripts in
DIR/leviathan and settings in DIR/.env, both changeable by the runner's
user and readable by every job. Not safe for public repositories.`, hook.ConfigFile))
	runnerDir := flags.String("runner-dir", "", "the runner's directory (where config.sh and .env are)")
	runnerUser := flags.String("runner-user", "", "the user the runner runs as (default: the owner of DIR/_work)")
	bin := flags.String("bin", defaultBin, "where to install this program, setgid")
	hooksDir := flags.String("hooks-dir", defaultHooksDir, "where to write the hook scripts")
	group := flags.String("group", defaultGroup, "the group that alone reads the settings and writes the state")
	force := flags.Bool("force", false, "install although the runner's user can change the runner's install")
	dev := flags.Bool("insecure-dev", false, "development install without root: NOT SAFE FOR PUBLIC REPOSITORIES")
	var sets multiFlag
	flags.Var(&sets, "set", fmt.Sprintf("a setting KEY=VALUE (%s); KEY= removes it; repeatable", strings.Join(hook.ConfigKeys(), ", ")))
	if err := parse(flags, args); err != nil {
		return err
	}
	if *runnerDir == "" {
		return fmt.Errorf("%w: --runner-dir is required: the directory the runner was configured in", errUsage)
	}
	dir, err := filepath.Abs(*runnerDir)
	if err != nil {
		return err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--runner-dir %s: not a directory (%v)", dir, err)
	}
	var kvs [][2]string
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(kv, "\r\n") {
			return fmt.Errorf("%w: --set %q: want KEY=VALUE on one line", errUsage, strings.SplitN(kv, "=", 2)[0]+"=…")
		}
		kvs = append(kvs, [2]string{k, v})
	}
	if *dev {
		return installDev(e, dir, kvs)
	}
	if os.Geteuid() != 0 {
		return errors.New("install must run as root (sudo leviathan-hook install …), so that the runner's user cannot change the hook, its settings or its state; --insecure-dev installs for development only, not safe for public repositories")
	}
	for _, p := range []*string{bin, hooksDir} {
		if !filepath.IsAbs(*p) {
			return fmt.Errorf("%w: %s: not an absolute path", errUsage, *p)
		}
	}
	name := *runnerUser
	if name == "" {
		if name, err = inferRunnerUser(dir); err != nil {
			return err
		}
	}
	id, err := supervisor.LookupUser(name)
	if err != nil {
		return err
	}
	if id.UID == 0 {
		return errors.New("the runner's user is root: every job would run as root; configure the runner for a user of its own")
	}
	in := &installer{e: e, dir: dir, bin: *bin, hooksDir: *hooksDir, groupName: *group, user: id, force: *force, sets: kvs}
	return in.run(ctx)
}

type installer struct {
	e                        Env
	dir, bin, hooksDir       string
	groupName                string
	gid                      uint32
	user                     supervisor.Identity
	force                    bool
	sets                     [][2]string
	keep, moved, removed     []string // .env lines kept; keys moved to the settings; keys removed
	settings                 map[string]string
	envModifiable, forcedBad bool
}

func (in *installer) printf(format string, args ...any) { fmt.Fprintf(in.e.Stdout, format, args...) }

// run checks the runner's install, the group and the settings, then
// installs the program, settings, state directory and scripts and points
// the runner's .env at the scripts.
func (in *installer) run(ctx context.Context) error {
	// 1. The runner's install: nothing in it may be the user's to change.
	if err := in.checkRunner(); err != nil {
		return err
	}
	// 2. The group.
	if err := in.checkGroup(ctx); err != nil {
		return err
	}
	// 3. The settings: the file's, then what .env held, then --set.
	cfg, err := in.config()
	if err != nil {
		return err
	}
	// 4. Where things go must not be the runner's user's to change.
	for _, d := range []string{filepath.Dir(in.bin), filepath.Dir(hook.ConfigFile), in.hooksDir, filepath.Dir(cfg.StateDir)} {
		if err := in.ensureSystemDir(d); err != nil {
			return err
		}
	}
	// 5. Write.
	started, completed, err := in.write(cfg)
	if err != nil {
		return err
	}
	lines := append(in.keep, hookStartedKey+"="+started, hookCompletedKey+"="+completed)
	if err := writeFileAs(in.envPath(), []byte(strings.Join(lines, "\n")+"\n"), 0, 0, 0o644); err != nil {
		return err
	}
	in.removeOldScripts()
	in.printInstalled(cfg, started, completed)
	return nil
}

// envPath is the runner's .env, which every job's steps see.
func (in *installer) envPath() string { return filepath.Join(in.dir, ".env") }

// checkRunner refuses, unless --force, when the runner's user can change
// the runner's install, printing what it found, and notes whether the
// user could write .env.
func (in *installer) checkRunner() error {
	rep, err := supervisor.CheckRunner(in.dir, in.user)
	if err != nil {
		return err
	}
	printReport(in.e, rep)
	if !rep.OK() {
		if !in.force {
			return fmt.Errorf("refused: %s can change the runner's install, so one job could change what every later job runs; fix it with the commands above, or pass --force to install anyway", in.user.Name)
		}
		in.forcedBad = true
	}
	if why, _ := supervisor.ModifiableBy(in.envPath(), in.user); len(why) > 0 {
		in.envModifiable = true
	}
	return nil
}

// checkGroup finds or creates the hook's group and refuses when the
// runner's user is in it; it warns when the user is in the docker group.
func (in *installer) checkGroup(ctx context.Context) error {
	if err := in.ensureGroup(ctx); err != nil {
		return err
	}
	if in.user.InGroup(in.gid) {
		return fmt.Errorf("%s is a member of the group %s, so every job could read the worker's token: gpasswd -d %s %s", in.user.Name, in.groupName, in.user.Name, in.groupName)
	}
	if g, err := user.LookupGroup("docker"); err == nil {
		if gid, _ := strconv.ParseUint(g.Gid, 10, 32); in.user.InGroup(uint32(gid)) {
			fmt.Fprintf(in.e.Stderr, "warning: %s is in the docker group, which is as good as root: a job could do anything on this machine (gpasswd -d %s docker)\n", in.user.Name, in.user.Name)
		}
	}
	return nil
}

// config merges the settings (see readSettings) into the hook's
// configuration and checks its paths: absolute, and a policy only root
// can change and the group can read.
func (in *installer) config() (hook.Config, error) {
	if err := in.readSettings(in.envPath()); err != nil {
		return hook.Config{}, err
	}
	cfg, err := hook.ConfigFromValues(in.settings)
	if err != nil {
		return hook.Config{}, err
	}
	for _, p := range []string{cfg.StateDir, cfg.Policy} {
		if p != "" && !filepath.IsAbs(p) {
			return hook.Config{}, fmt.Errorf("%s: not an absolute path", p)
		}
	}
	if cfg.Policy != "" {
		if err := hook.CheckRootOwned(cfg.Policy, false); err != nil {
			return hook.Config{}, fmt.Errorf("LEVIATHAN_POLICY: %w (the policy decides which jobs reach the DUT: only root may change it)", err)
		}
		if err := canReach(cfg.Policy, in.gid, 0o4); err != nil {
			return hook.Config{}, fmt.Errorf("LEVIATHAN_POLICY: %w", err)
		}
	}
	return cfg, nil
}

// write installs the program, the settings, the state directory and the
// hook scripts, returns the scripts' paths, and checks that the group and
// the runner's user can reach what each needs.
func (in *installer) write(cfg hook.Config) (started, completed string, err error) {
	if err := in.installBinary(); err != nil {
		return "", "", err
	}
	if err := in.writeSettings(); err != nil {
		return "", "", err
	}
	if err := in.stateDir(cfg.StateDir); err != nil {
		return "", "", err
	}
	if started, completed, err = in.writeScripts(); err != nil {
		return "", "", err
	}
	// What each must reach, through directories that existed before.
	for _, c := range []struct {
		path string
		gid  uint32
		need os.FileMode
	}{
		{hook.ConfigFile, in.gid, 0o4}, {cfg.StateDir, in.gid, 0o4},
		{in.bin, in.user.GID, 0o1}, {started, in.user.GID, 0o4}, {completed, in.user.GID, 0o4},
	} {
		if err := canReach(c.path, c.gid, c.need); err != nil {
			return "", "", err
		}
	}
	return started, completed, nil
}

// printInstalled tells what was installed where, what moved out of .env
// and what the owner still has to do.
func (in *installer) printInstalled(cfg hook.Config, started, completed string) {
	envPath := in.envPath()
	in.printf("installed leviathan-hook for the runner in %s (jobs run as %s):\n", in.dir, in.user.Name)
	in.printf("  program       %s (root:%s, setgid)\n", in.bin, in.groupName)
	in.printf("  settings      %s (root:%s 0640: %s cannot read it)\n", hook.ConfigFile, in.groupName, in.user.Name)
	in.printf("  state         %s (root:%s 2770)\n", cfg.StateDir, in.groupName)
	in.printf("  hook scripts  %s, %s (root, 0755)\n", started, completed)
	in.printf("  runner        %s points %s and %s at them\n", envPath, hookStartedKey, hookCompletedKey)
	if len(in.moved) > 0 {
		in.printf("moved from %s to %s: %s\n", envPath, hook.ConfigFile, strings.Join(in.moved, ", "))
		if in.envModifiable {
			fmt.Fprintf(in.e.Stderr, "warning: %s could write %s: check the moved settings in %s before you restart the runner\n", in.user.Name, envPath, hook.ConfigFile)
		}
	}
	if len(in.removed) > 0 {
		in.printf("removed from %s, where every job's steps could read them: %s\n", envPath, strings.Join(in.removed, ", "))
		in.printf("  (a secret that was there may have been read by earlier jobs: rotate it)\n")
	}
	if in.forcedBad {
		fmt.Fprintf(in.e.Stderr, "WARNING: installed with --force: %s can still change the runner's install (see above); NOT SAFE FOR PUBLIC REPOSITORIES\n", in.user.Name)
	}
	in.printf("restart the runner for the hooks to take effect (./svc.sh stop && ./svc.sh start, or systemctl restart leviathan-runner-supervisor)\n")
}

// ensureGroup finds the group, creating it as a system group when missing.
func (in *installer) ensureGroup(ctx context.Context) error {
	g, err := user.LookupGroup(in.groupName)
	if err != nil {
		var unknown user.UnknownGroupError
		if !errors.As(err, &unknown) {
			return err
		}
		out, err := exec.CommandContext(ctx, "groupadd", "--system", in.groupName).CombinedOutput()
		if err != nil {
			return fmt.Errorf("creating the group %s: groupadd: %v: %s", in.groupName, err, strings.TrimSpace(string(out)))
		}
		in.printf("created the system group %s\n", in.groupName)
		if g, err = user.LookupGroup(in.groupName); err != nil {
			return err
		}
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return fmt.Errorf("group %s: %w", in.groupName, err)
	}
	in.gid = uint32(gid)
	return nil
}

// secretName reports whether a variable's name says it holds a secret.
func secretName(k string) bool {
	k = strings.ToUpper(k)
	for _, w := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return strings.HasSuffix(k, "_KEY") || strings.HasSuffix(k, "_PAT")
}

// readSettings merges the settings file, the LEVIATHAN_* lines of the
// runner's .env (for keys the file lacks) and --set, and sorts .env's
// lines into kept and removed.
func (in *installer) readSettings(envPath string) error {
	in.settings = map[string]string{}
	if m, err := hook.ReadConfigFile(hook.ConfigFile); err == nil {
		in.settings = m
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (fix or remove it)", err)
	}
	lines, err := readLines(envPath)
	if err != nil {
		return err
	}
	fromFile := maps.Clone(in.settings)
	for _, line := range lines {
		k, v, _ := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		switch {
		case k == hookStartedKey || k == hookCompletedKey:
		case strings.HasPrefix(k, api.EnvPrefix) && slices.Contains(hook.ConfigKeys(), k):
			if _, ok := fromFile[k]; !ok {
				in.settings[k] = v
				in.moved = append(in.moved, k)
			} else {
				in.removed = append(in.removed, k)
			}
		case strings.HasPrefix(k, api.EnvPrefix) || secretName(k):
			in.removed = append(in.removed, k)
		default:
			in.keep = append(in.keep, line)
		}
	}
	for _, kv := range in.sets {
		if !slices.Contains(hook.ConfigKeys(), kv[0]) {
			return fmt.Errorf("%w: --set %s: unknown setting (known: %s)", errUsage, kv[0], strings.Join(hook.ConfigKeys(), ", "))
		}
		if kv[1] == "" {
			delete(in.settings, kv[0])
		} else {
			in.settings[kv[0]] = kv[1]
		}
	}
	return nil
}

// ensureSystemDir makes a directory of the install (root, 0755, whatever
// root's umask) when missing and checks that the runner's user cannot
// change it.
func (in *installer) ensureSystemDir(d string) error {
	var missing []string
	for q := d; ; q = filepath.Dir(q) {
		if _, err := os.Stat(q); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, q)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	for _, q := range missing {
		if err := setOwnerMode(q, 0, 0, os.ModeDir|0o755); err != nil {
			return err
		}
	}
	why, err := supervisor.ModifiableBy(d, in.user)
	if err != nil {
		return err
	}
	if len(why) > 0 {
		return fmt.Errorf("refused: %s can change %s (%s): install the hook where only root can", in.user.Name, d, strings.Join(why, "; "))
	}
	return nil
}

// installBinary copies this program to in.bin, root:group, setgid.
func (in *installer) installBinary() error {
	src, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program: %w", err)
	}
	if src, err = filepath.EvalSymlinks(src); err != nil {
		return err
	}
	sst, err := os.Stat(src)
	if err != nil {
		return err
	}
	if dst, err := os.Stat(in.bin); err == nil && os.SameFile(sst, dst) {
		return setOwnerMode(in.bin, 0, int(in.gid), os.ModeSetgid|0o755)
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp, err := os.CreateTemp(filepath.Dir(in.bin), ".leviathan-hook-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, f); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := setOwnerMode(tmp.Name(), 0, int(in.gid), os.ModeSetgid|0o755); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), in.bin)
}

// setOwnerMode sets owner and group first: chown clears the setgid bit.
func setOwnerMode(p string, uid, gid int, mode os.FileMode) error {
	if err := os.Lchown(p, uid, gid); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

// writeFileAs replaces path atomically with data, owned by uid:gid.
func writeFileAs(path string, data []byte, uid, gid int, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := setOwnerMode(tmp.Name(), uid, gid, mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeSettings writes the settings file, root:group 0640.
func (in *installer) writeSettings() error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Leviathan hook settings, written by leviathan-hook install.\n# Readable by root and the group %s only: it holds the worker's token.\n# KEY=VALUE, no quoting. Keys: %s\n", in.groupName, strings.Join(hook.ConfigKeys(), ", "))
	for _, k := range hook.ConfigKeys() {
		if v, ok := in.settings[k]; ok {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
	}
	return writeFileAs(hook.ConfigFile, []byte(b.String()), 0, int(in.gid), 0o640)
}

// stateDir makes the state directory root:group 2770 and gives what an
// earlier install left in it to the group.
func (in *installer) stateDir(dir string) error {
	if err := os.Mkdir(dir, 0o770); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("state directory %s: not a directory", dir)
	}
	if err := setOwnerMode(dir, 0, int(in.gid), os.ModeDir|os.ModeSetgid|0o770); err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		if d.IsDir() {
			if err := os.Chmod(p, os.ModeSetgid|0o770); err != nil {
				return err
			}
		}
		return os.Lchown(p, -1, int(in.gid))
	})
}

// writeScripts writes the hook scripts, root 0755.
func (in *installer) writeScripts() (started, completed string, err error) {
	for _, name := range []string{"job-started", "job-completed"} {
		path := filepath.Join(in.hooksDir, name+".sh")
		script := fmt.Sprintf("#!/bin/bash\n# Leviathan %s hook, written by leviathan-hook install. Owned by root:\n# the runner's user cannot change it.\n# exec: the hook's parent stays the runner's Runner.Worker process.\nexec %s %s\n", name, shellQuote(in.bin), name)
		if err := writeFileAs(path, []byte(script), 0, 0, 0o755); err != nil {
			return "", "", err
		}
		if name == "job-started" {
			started = path
		} else {
			completed = path
		}
	}
	return started, completed, nil
}

// removeOldScripts removes the scripts an install before this one wrote
// into the runner's directory.
func (in *installer) removeOldScripts() {
	old := filepath.Join(in.dir, "leviathan")
	for _, name := range []string{"job-started.sh", "job-completed.sh"} {
		if err := os.Remove(filepath.Join(old, name)); err == nil {
			in.printf("removed the old %s\n", filepath.Join(old, name))
		}
	}
	os.Remove(old) // when empty
}

// canReach checks that a process of the group gid that is not root and
// owns nothing here can use path: search every directory above it and
// have the permission need (0o4 read, 0o1 execute) on it.
func canReach(path string, gid uint32, need os.FileMode) error {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	for q := p; ; q = filepath.Dir(q) {
		st, err := os.Stat(q)
		if err != nil {
			return err
		}
		_, g := ownerOf(st)
		perm := st.Mode().Perm()
		if perm&need == 0 && !(g == gid && perm&(need<<3) != 0) {
			what := map[os.FileMode]string{0o4: "read", 0o1: "enter or run"}[need]
			return fmt.Errorf("group %d cannot %s %s, on the way to %s: chmod o+%s %s", gid, what, q, path, map[os.FileMode]string{0o4: "r", 0o1: "x"}[need], q)
		}
		if q == filepath.Dir(q) {
			return nil
		}
		need = 0o1
	}
}

func ownerOf(fi fs.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}

// inferRunnerUser names the owner of the runner's work directory (or its
// logs, registration or directory) when it is not root.
func inferRunnerUser(dir string) (string, error) {
	for _, p := range []string{"_work", "_diag", ".runner", "."} {
		st, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			continue
		}
		if uid, _ := ownerOf(st); uid != 0 {
			u, err := user.LookupId(strconv.Itoa(int(uid)))
			if err != nil {
				return "", fmt.Errorf("the owner of %s, uid %d: %w", filepath.Join(dir, p), uid, err)
			}
			return u.Username, nil
		}
	}
	return "", fmt.Errorf("%w: --runner-user is required: the user the runner runs as (its service's User=)", errUsage)
}

// installDev is the development install: scripts in DIR/leviathan, the
// settings in DIR/.env.
func installDev(e Env, dir string, kvs [][2]string) error {
	fmt.Fprintf(e.Stderr, `
WARNING: development install — NOT SAFE FOR PUBLIC REPOSITORIES.
The hook scripts and the settings go where the runner's user can change
them, and every job's steps can read .env: one job can change what every
later job runs, and read the worker's token. Use "sudo leviathan-hook
install" on a testbot that runs other people's code.

`)
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program: %w", err)
	}
	env := map[string]string{}
	var order []string
	for _, kv := range kvs {
		env[kv[0]] = kv[1]
		order = append(order, kv[0])
	}
	hooks := filepath.Join(dir, "leviathan")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"job-started", "job-completed"} {
		path := filepath.Join(hooks, name+".sh")
		script := fmt.Sprintf("#!/bin/bash\n# Leviathan %s hook, written by leviathan-hook install --insecure-dev.\n# exec: the hook's parent stays the runner's Runner.Worker process.\nexec %s %s\n", name, shellQuote(bin), name)
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			return err
		}
		key := hookStartedKey
		if name == "job-completed" {
			key = hookCompletedKey
		}
		env[key] = path
		order = append(order, key)
	}
	envPath := filepath.Join(dir, ".env")
	if err := setEnvFile(envPath, order, env); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "wrote %s/job-started.sh and job-completed.sh\nupdated %s (%s)\nrestart the runner service for the hooks to take effect\n", hooks, envPath, strings.Join(order, ", "))
	return nil
}

// readLines reads a file's lines; none when it does not exist.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return lines, nil
}

// setEnvFile sets keys in a KEY=VALUE file, replacing their lines and
// keeping every other line.
func setEnvFile(path string, order []string, vals map[string]string) error {
	all, err := readLines(path)
	if err != nil {
		return err
	}
	var lines []string
	for _, l := range all {
		k, _, _ := strings.Cut(l, "=")
		if _, replaced := vals[strings.TrimSpace(k)]; !replaced {
			lines = append(lines, l)
		}
	}
	seen := map[string]bool{}
	for _, k := range order {
		if !seen[k] {
			lines = append(lines, k+"="+vals[k])
			seen[k] = true
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
