package hookcmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

func install(ctx context.Context, e Env, args []string) error {
	flags := e.flags("install --runner-dir DIR [flags]", `Write the job-started and job-completed scripts into DIR/leviathan and point
the runner at them in DIR/.env (ACTIONS_RUNNER_HOOK_JOB_STARTED and
ACTIONS_RUNNER_HOOK_JOB_COMPLETED), keeping the file's other lines. Safe to
run again. Restart the runner service afterwards.`)
	runnerDir := flags.String("runner-dir", "", "the runner's directory (where config.sh and .env are)")
	bin := flags.String("bin", "", "the leviathan-hook program the scripts run (default: this one)")
	var sets multiFlag
	flags.Var(&sets, "set", "also set KEY=VALUE in .env (LEVIATHAN_WORKER_URL=…, LEVIATHAN_POLICY=…); repeatable")
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
	if *bin == "" {
		if *bin, err = os.Executable(); err != nil {
			return fmt.Errorf("finding this program: %w (pass --bin)", err)
		}
	}
	if *bin, err = filepath.Abs(*bin); err != nil {
		return err
	}
	env := map[string]string{}
	var order []string
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(kv, "\r\n") {
			return fmt.Errorf("%w: --set %q: want KEY=VALUE on one line", errUsage, kv)
		}
		env[k] = v
		order = append(order, k)
	}
	hooks := filepath.Join(dir, "leviathan")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"job-started", "job-completed"} {
		path := filepath.Join(hooks, name+".sh")
		script := fmt.Sprintf("#!/bin/bash\n# Leviathan %s hook, written by leviathan-hook install.\n# exec: the hook's parent stays the runner's Runner.Worker process.\nexec %s %s\n", name, shellQuote(*bin), name)
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			return err
		}
		key := "ACTIONS_RUNNER_HOOK_JOB_STARTED"
		if name == "job-completed" {
			key = "ACTIONS_RUNNER_HOOK_JOB_COMPLETED"
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

// setEnvFile sets keys in a KEY=VALUE file, replacing their lines and
// keeping every other line.
func setEnvFile(path string, order []string, vals map[string]string) error {
	var lines []string
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, _, _ := strings.Cut(sc.Text(), "=")
			if _, replaced := vals[strings.TrimSpace(k)]; !replaced {
				lines = append(lines, sc.Text())
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
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
