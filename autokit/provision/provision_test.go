package provision

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/balena/leviathan-action/autokit/bootpart"
)

// gptDisk makes a 48 MiB GPT disk whose one partition is FAT32 when fat
// is true and left empty otherwise.
func gptDisk(t *testing.T, fat bool) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	f.Truncate(48 << 20)
	d, err := diskfs.OpenBackend(file.New(f, false))
	if err != nil {
		t.Fatal(err)
	}
	typ := gpt.LinuxFilesystem
	if fat {
		typ = gpt.EFISystemPartition
	}
	tb := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true,
		Partitions: []*gpt.Partition{{Index: 1, Start: 2048, End: 2048 + 40<<11 - 1, Type: typ, Name: "boot"}}}
	if err := d.Partition(tb); err != nil {
		t.Fatal(err)
	}
	if fat {
		if _, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 1, FSType: filesystem.TypeFat32}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

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
