// Package provision configures a freshly flashed image before its first
// boot: it merges the worker's hostname and SSH key into the config.json
// on the image's FAT boot partition, the way balenaOS devices are
// provisioned.
//
// Limits: only config.json; the image needs a FAT boot partition.
package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/balena/leviathan-action/autokit/bootpart"
	"github.com/balena/leviathan-action/autokit/dut"
)

// ConfigPath is where config.json lives on the boot partition.
const ConfigPath = "/config.json"

// ConfigJSON returns a provisioning hook that sets hostname (when not
// empty) and adds sshKeys to os.sshKeys in config.json, keeping every other
// field already there. On an image without a FAT boot partition it returns
// an error wrapping errors.ErrUnsupported.
func ConfigJSON(hostname string, sshKeys ...string) func(ctx context.Context, t dut.Target) error {
	return func(ctx context.Context, t dut.Target) error {
		f, ok := t.(interface{ OSFile() *os.File })
		var file *os.File
		if ok {
			file = f.OSFile()
		} else if of, ok := t.(*os.File); ok {
			file = of
		} else {
			return fmt.Errorf("provision: the flash target %T is not a file", t)
		}
		cfg := map[string]any{}
		if b, err := bootpart.ReadFile(file, ConfigPath); err == nil && len(b) > 0 {
			if err := json.Unmarshal(b, &cfg); err != nil {
				return fmt.Errorf("provision: the image's %s is not valid JSON: %w", ConfigPath, err)
			}
		}
		if hostname != "" {
			cfg["hostname"] = hostname
		}
		osCfg, _ := cfg["os"].(map[string]any)
		if osCfg == nil {
			osCfg = map[string]any{}
		}
		var keys []string
		if existing, ok := osCfg["sshKeys"].([]any); ok {
			for _, k := range existing {
				if s, ok := k.(string); ok {
					keys = append(keys, s)
				}
			}
		}
		for _, k := range sshKeys {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		osCfg["sshKeys"] = keys
		cfg["os"] = osCfg
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return fmt.Errorf("provision: %w", err)
		}
		err = bootpart.WriteFile(file, ConfigPath, append(b, '\n'))
		if errors.Is(err, bootpart.ErrNoFATPartition) {
			return fmt.Errorf("provision: the image has no FAT boot partition for %s: %w", ConfigPath, errors.ErrUnsupported)
		}
		if err != nil {
			return fmt.Errorf("provision: writing %s: %w", ConfigPath, err)
		}
		return nil
	}
}
