package provision

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/balena/leviathan-action/autokit/bootpart"
	"github.com/balena/leviathan-action/autokit/duttest"
)

func gptDisk(t *testing.T, fat bool) *os.File { return duttest.FATDisk(t, fat) }

func TestConfigJSONMergesAndKeepsFields(t *testing.T) {
	f := gptDisk(t, true)
	seed := `{"hostname":"old","applicationId":42,"os":{"sshKeys":["ssh-ed25519 AAAA existing"],"network":{"x":1}}}`
	if err := bootpart.WriteFile(f, ConfigPath, []byte(seed)); err != nil {
		t.Fatal(err)
	}
	hook := ConfigJSON("dut-7", "ssh-ed25519 BBBB worker", "ssh-ed25519 AAAA existing")
	// Twice: provisioning is idempotent.
	for range 2 {
		if err := hook(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	b, err := bootpart.ReadFile(f, ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Hostname      string `json:"hostname"`
		ApplicationID int    `json:"applicationId"`
		OS            struct {
			SSHKeys []string       `json:"sshKeys"`
			Network map[string]any `json:"network"`
		} `json:"os"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config.json %s: %v", b, err)
	}
	if cfg.Hostname != "dut-7" || cfg.ApplicationID != 42 || cfg.OS.Network == nil {
		t.Errorf("fields lost or not set: %s", b)
	}
	if len(cfg.OS.SSHKeys) != 2 || cfg.OS.SSHKeys[0] != "ssh-ed25519 AAAA existing" || cfg.OS.SSHKeys[1] != "ssh-ed25519 BBBB worker" {
		t.Errorf("sshKeys = %q", cfg.OS.SSHKeys)
	}
}

func TestConfigJSONErrors(t *testing.T) {
	hook := ConfigJSON("h", "k")
	if err := hook(context.Background(), gptDisk(t, false)); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("no FAT partition: %v, want errors.ErrUnsupported", err)
	}
	f := gptDisk(t, true)
	bootpart.WriteFile(f, ConfigPath, []byte("{not json"))
	if err := hook(context.Background(), f); err == nil || errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("invalid config.json: %v, want a hard error", err)
	}
}
