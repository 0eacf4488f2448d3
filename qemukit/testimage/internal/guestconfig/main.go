package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultHostname is the hostname when config.json gives none.
const DefaultHostname = "leviathan-testos"

// Config is the part of config.json the test OS reads.
type Config struct {
	Hostname string `json:"hostname"`
	OS       struct {
		SSHKeys []string `json:"sshKeys"`
	} `json:"os"`
}

func main() {
	configPath := flag.String("config", "/mnt/boot/config.json", "config.json to apply")
	root := flag.String("root", "/", "root directory to write /etc and /root under")
	flag.Parse()
	setHostname := func(h string) error { return syscall.Sethostname([]byte(h)) }
	if *root != "/" {
		setHostname = nil
	}
	if err := Apply(*configPath, *root, setHostname, os.Stdout); err != nil {
		fmt.Printf("leviathan: guestconfig: %v\n", err)
		os.Exit(1)
	}
}

// Load reads and checks a config.json.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config.json: %s not found", path)
	}
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("config.json: %s is not valid: %w", path, err)
	}
	if cfg.Hostname != "" && !validHostname(cfg.Hostname) {
		return nil, fmt.Errorf("config.json: hostname %q is not a valid hostname", cfg.Hostname)
	}
	for i, k := range cfg.OS.SSHKeys {
		k = strings.TrimSpace(k)
		if k == "" || strings.ContainsAny(k, "\r\n") {
			return nil, fmt.Errorf("config.json: os.sshKeys[%d] is not a one-line public key", i)
		}
		cfg.OS.SSHKeys[i] = k
	}
	return &cfg, nil
}

func validHostname(h string) bool {
	if len(h) > 64 || h[0] == '-' || h[0] == '.' {
		return false
	}
	for _, c := range h {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// Apply writes the settings of the config at configPath under root and,
// when setHostname is not nil, sets the running hostname. A config that
// cannot be used is reported on out and the defaults are applied; the
// error is only for failures to write.
func Apply(configPath, root string, setHostname func(string) error, out io.Writer) error {
	hostname := DefaultHostname
	var keys []string
	cfg, loadErr := Load(configPath)
	if loadErr != nil {
		fmt.Fprintf(out, "leviathan: %v; keeping the defaults (hostname %s, no ssh keys)\n", loadErr, DefaultHostname)
	} else {
		if cfg.Hostname != "" {
			hostname = cfg.Hostname
		}
		keys = cfg.OS.SSHKeys
	}

	etc := filepath.Join(root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(etc, "hostname"), []byte(hostname+"\n"), 0o644); err != nil {
		return err
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname)
	if err := os.WriteFile(filepath.Join(etc, "hosts"), []byte(hosts), 0o644); err != nil {
		return err
	}
	if setHostname != nil {
		if err := setHostname(hostname); err != nil {
			return fmt.Errorf("sethostname %s: %w", hostname, err)
		}
	}

	home := filepath.Join(root, "root")
	sshDir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return err
	}
	// Dropbear refuses keys in group- or world-writable directories.
	for _, d := range []string{home, sshDir} {
		if err := os.Chmod(d, 0o700); err != nil {
			return err
		}
	}
	var ak bytes.Buffer
	for _, k := range keys {
		ak.WriteString(k + "\n")
	}
	akPath := filepath.Join(sshDir, "authorized_keys")
	if err := os.WriteFile(akPath, ak.Bytes(), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(akPath, 0o600); err != nil {
		return err
	}
	if loadErr == nil {
		fmt.Fprintf(out, "leviathan: config.json applied: hostname %s, %d ssh key(s)\n", hostname, len(keys))
	}
	return nil
}
