package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests test@host"
	for _, tc := range []struct {
		name     string
		config   *string // nil: no file
		hostname string
		keys     string
		say      string
	}{
		{"full", ptr(`{"hostname":"dut-1","os":{"sshKeys":["` + key + `","  ssh-rsa AAAA second  "]}}`),
			"dut-1", key + "\nssh-rsa AAAA second\n", "config.json applied: hostname dut-1, 2 ssh key(s)"},
		{"default build config", ptr(`{"hostname":"leviathan-testos","os":{"sshKeys":[]}}`),
			"leviathan-testos", "", "applied: hostname leviathan-testos, 0 ssh key(s)"},
		{"no hostname", ptr(`{"os":{"sshKeys":["` + key + `"]}}`), "leviathan-testos", key + "\n", "1 ssh key(s)"},
		{"balena extras", ptr(`{"applicationId":1,"hostname":"x","os":{"sshKeys":[],"network":{}},"persistentLogging":true}`),
			"x", "", "hostname x"},
		{"missing", nil, "leviathan-testos", "", "not found; keeping the defaults"},
		{"not json", ptr(`hostname=foo`), "leviathan-testos", "", "is not valid"},
		{"keys not strings", ptr(`{"os":{"sshKeys":[1,2]}}`), "leviathan-testos", "", "is not valid"},
		{"bad hostname", ptr(`{"hostname":"a b"}`), "leviathan-testos", "", `hostname "a b" is not a valid hostname`},
		{"multi-line key", ptr(`{"os":{"sshKeys":["a\nb"]}}`), "leviathan-testos", "", "os.sshKeys[0] is not a one-line public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			cfg := filepath.Join(root, "boot", "config.json")
			if tc.config != nil {
				if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cfg, []byte(*tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var set string
			var out bytes.Buffer
			if err := Apply(cfg, root, func(h string) error { set = h; return nil }, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.say) || !strings.HasPrefix(out.String(), "leviathan: ") {
				t.Errorf("said %q, want it to contain %q", out.String(), tc.say)
			}
			if strings.Count(out.String(), "\n") != 1 {
				t.Errorf("said %d lines, want one", strings.Count(out.String(), "\n"))
			}
			if set != tc.hostname {
				t.Errorf("sethostname(%q), want %q", set, tc.hostname)
			}
			if b, _ := os.ReadFile(filepath.Join(root, "etc/hostname")); string(b) != tc.hostname+"\n" {
				t.Errorf("/etc/hostname = %q", b)
			}
			if b, _ := os.ReadFile(filepath.Join(root, "etc/hosts")); !strings.Contains(string(b), "127.0.1.1\t"+tc.hostname+"\n") {
				t.Errorf("/etc/hosts = %q", b)
			}
			ak := filepath.Join(root, "root/.ssh/authorized_keys")
			if b, _ := os.ReadFile(ak); string(b) != tc.keys {
				t.Errorf("authorized_keys = %q, want %q", b, tc.keys)
			}
			for p, mode := range map[string]os.FileMode{ak: 0o600, filepath.Dir(ak): 0o700 | os.ModeDir, filepath.Join(root, "root"): 0o700 | os.ModeDir} {
				if fi, err := os.Stat(p); err != nil || fi.Mode() != mode {
					t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, mode)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }
