package hook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const configSecret = "s3cret-worker-token"

func writeConfig(t *testing.T, dir, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, "hook.env")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFileAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	p := writeConfig(t, dir, "# the testbot\n\nLEVIATHAN_WORKER_URL=http://127.0.0.1:9999\nLEVIATHAN_WORKER_TOKEN="+configSecret+"\nLEVIATHAN_LEASE_TTL=30s\n", 0o640)
	env := map[string]string{"LEVIATHAN_WORKER_URL": "http://job.example:1", "LEVIATHAN_KEEP_JOBS": "3"}
	getenv := func(k string) string { return env[k] }

	// Development: the environment over the file.
	c, err := ConfigSource{File: p, Getenv: getenv}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkerURL != "http://job.example:1" || c.WorkerToken != configSecret || c.LeaseTTL != 30*time.Second || c.KeepJobs != 3 || c.StateDir != "/var/lib/leviathan-hook" {
		t.Errorf("development config = %+v", c)
	}
	if s := c.Secrets(); len(s) != 1 || s[0] != configSecret {
		t.Errorf("Secrets = %q", s)
	}
	// A missing file is no error in development.
	if _, err := (ConfigSource{File: filepath.Join(dir, "none"), Getenv: getenv}).Load(); err != nil {
		t.Errorf("missing development file: %v", err)
	}

	if os.Geteuid() != 0 {
		t.Log("not root: the trusted source's ownership checks are tested as root only")
		return
	}
	// Installed: the file only; the job's environment is not read.
	c, err = ConfigSource{File: p, Getenv: getenv, Trusted: true}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkerURL != "http://127.0.0.1:9999" || c.KeepJobs != 20 {
		t.Errorf("trusted config took the environment: %+v", c)
	}
	if _, err := (ConfigSource{File: filepath.Join(dir, "none"), Trusted: true}).Load(); err == nil {
		t.Error("a trusted source without its file loaded")
	}
}

func TestConfigErrorsKeepSecrets(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{"LEVIATHAN_WORKER_URL=http://x\n" + configSecret + "\n", "line 2: not KEY=VALUE"},
		{"s3cret=" + configSecret + "\n", "line 1: not KEY=VALUE"},
		{"LEVIATHAN_WORKER_TOKEN=" + configSecret + "\nLEVIATHAN_NOPE=1\n", "line 2: unknown setting LEVIATHAN_NOPE"},
		{"LEVIATHAN_WORKER_TOKEN=" + configSecret + "\nLEVIATHAN_LEASE_TTL=soon\n", `LEVIATHAN_LEASE_TTL="soon": not a duration`},
		{"LEVIATHAN_WORKER_TOKEN=" + configSecret + "\nLEVIATHAN_LEASE_TTL=1s\n", "LEVIATHAN_LEASE_TTL=1s: must be at least 5s"},
	} {
		p := writeConfig(t, dir, tc.body, 0o600)
		_, err := ConfigSource{File: p}.Load()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), configSecret) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
	if _, err := ConfigFromValues(map[string]string{"LEVIATHAN_WORKER_TOKN": "x"}); err == nil || !strings.Contains(err.Error(), "unknown setting LEVIATHAN_WORKER_TOKN") {
		t.Errorf("ConfigFromValues with a misspelt key: %v", err)
	}
	if !IsSecretKey("LEVIATHAN_WORKER_TOKEN") || IsSecretKey("LEVIATHAN_WORKER_URL") {
		t.Error("IsSecretKey")
	}
}

func TestCheckRootOwned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check is about files owned by root and by others")
	}
	base := t.TempDir() // root-owned, 0700, under the sticky /tmp
	good := writeConfig(t, base, "LEVIATHAN_WORKER_TOKEN=x\n", 0o640)
	if err := CheckRootOwned(good, true); err != nil {
		t.Errorf("root-owned 0640 file: %v", err)
	}
	if err := CheckRootOwned("relative/hook.env", false); err == nil {
		t.Error("a relative path passed")
	}

	readable := filepath.Join(base, "readable")
	os.WriteFile(readable, nil, 0o644)
	if err := CheckRootOwned(readable, true); err == nil || !strings.Contains(err.Error(), "chmod o-r") {
		t.Errorf("world-readable secret file: %v", err)
	}
	if err := CheckRootOwned(readable, false); err != nil {
		t.Errorf("world-readable policy file: %v", err)
	}

	groupW := filepath.Join(base, "groupw")
	os.WriteFile(groupW, nil, 0o664)
	os.Chmod(groupW, 0o664)
	if err := CheckRootOwned(groupW, false); err == nil || !strings.Contains(err.Error(), "chmod go-w "+groupW) {
		t.Errorf("group-writable file: %v", err)
	}

	owned := filepath.Join(base, "owned")
	os.WriteFile(owned, nil, 0o644)
	os.Chown(owned, 65534, 65534)
	if err := CheckRootOwned(owned, false); err == nil || !strings.Contains(err.Error(), "not root") {
		t.Errorf("file owned by nobody: %v", err)
	}

	// A root-owned file in a directory another user can write can be
	// replaced: refused.
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	inOpen := writeConfig(t, open, "", 0o644)
	if err := CheckRootOwned(inOpen, false); err == nil || !strings.Contains(err.Error(), open+" is writable") {
		t.Errorf("file in a world-writable directory: %v", err)
	}
	// With the sticky bit others cannot replace root's entry.
	os.Chmod(open, os.ModeSticky|0o777)
	if err := CheckRootOwned(inOpen, false); err != nil {
		t.Errorf("file in a sticky directory: %v", err)
	}

	// A link is checked where it is and where it points.
	link := filepath.Join(base, "link")
	os.Symlink(owned, link)
	if err := CheckRootOwned(link, false); err == nil {
		t.Error("a link to a file owned by nobody passed")
	}
	os.Symlink(good, filepath.Join(base, "goodlink"))
	if err := CheckRootOwned(filepath.Join(base, "goodlink"), true); err != nil {
		t.Errorf("a link to a good file: %v", err)
	}
}
