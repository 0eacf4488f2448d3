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
	cfg, err := hook.LoadConfig()
	if err != nil {
		return err
	}
	h, err := hook.ReadHealth(cfg.StateDir)
	if err != nil {
		return err
	}
	out := map[string]any{"state_dir": cfg.StateDir, "health": h}
	if b, err := os.ReadFile(filepath.Join(cfg.StateDir, "job.json")); err == nil {
		out["job"] = json.RawMessage(b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading the job state: %w", err)
	}
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
