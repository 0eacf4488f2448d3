package hookcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/balena/leviathan-action/runner-hook/hook"
)

func status(ctx context.Context, e Env, args []string) error {
	flags := e.flags("status", "Print the DUT's health record and the job holding it (JSON).")
	if err := parse(flags, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	h, err := hook.ReadHealth(cfg.StateDir)
	if err != nil {
		return err
	}
	out := map[string]any{"state_dir": cfg.StateDir, "health": h}
	if b, err := os.ReadFile(filepath.Join(cfg.StateDir, "job.json")); err == nil {
		var job map[string]any
		if err := json.Unmarshal(b, &job); err != nil {
			return fmt.Errorf("reading the job state: %w", err)
		}
		if hook.Privileged() && os.Getuid() != 0 {
			// The lease's id is the running job's credential: a job (or
			// a process a job left) asking must not learn another's.
			if _, ok := job["lease_id"]; ok {
				job["lease_id"] = "(hidden: run status as root)"
			}
		}
		out["job"] = job
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading the job state: %w", err)
	}
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
