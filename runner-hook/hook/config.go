package hook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// ConfigFile is the file an installed hook reads its configuration from.
// It is compiled in, never taken from the environment or the command
// line, so a job that runs the setgid hook itself cannot point it at a
// file of its own. Installs under another prefix, and tests, set it when
// building:
//
//	go build -ldflags "-X github.com/balena/leviathan-action/runner-hook/hook.ConfigFile=/opt/leviathan/etc/hook.env"
var ConfigFile = "/etc/leviathan/hook.env"

// ConfigFileEnv names another configuration file for a hook that does not
// run setgid (development); a privileged hook ignores it.
const ConfigFileEnv = "LEVIATHAN_HOOK_CONFIG"

// Config is the hook's configuration, read by LoadConfig. Installed
// (setgid, see Privileged) it comes from ConfigFile only; in development
// it comes from ConfigFile when present, with the environment over it.
type Config struct {
	// WorkerURL is the worker serving this runner's DUT.
	WorkerURL string `envconfig:"LEVIATHAN_WORKER_URL" default:"http://127.0.0.1:4321" desc:"the worker serving this runner's DUT"`
	// WorkerToken is the worker's bearer token, if it needs one. It takes
	// and releases leases: it never reaches a job.
	WorkerToken string `envconfig:"LEVIATHAN_WORKER_TOKEN" secret:"true" desc:"the worker's bearer token, if it has one (never given to jobs)"`
	// Policy is the policy file; empty applies the secure default (pull
	// requests from forks refused, the repository's own events allowed).
	Policy string `envconfig:"LEVIATHAN_POLICY" desc:"policy file; empty: forks refused, the repository's own events allowed"`
	// StateDir keeps the job's lease, the DUT's health record and the
	// collected logs of recent jobs.
	StateDir string `envconfig:"LEVIATHAN_STATE_DIR" default:"/var/lib/leviathan-hook" desc:"lease, health record and recent jobs' logs"`
	// TestrunnerImage is the testrunner image, by digest
	// (registry/repo@sha256:…); empty skips the pull.
	TestrunnerImage string `envconfig:"LEVIATHAN_TESTRUNNER_IMAGE" desc:"testrunner image by digest (…@sha256:…); empty: no pull"`
	// LeaseTTL is how long the DUT stays leased without a heartbeat: how
	// soon the dead-man's switch powers it off after the runner died.
	LeaseTTL time.Duration `envconfig:"LEVIATHAN_LEASE_TTL" default:"60s" desc:"how soon the DUT is powered off after the runner died"`
	// LeaseWait is how long job-started waits for a DUT leased by a live
	// job before failing.
	LeaseWait time.Duration `envconfig:"LEVIATHAN_LEASE_WAIT" default:"15m" desc:"how long to wait for a DUT another job holds"`
	// KeepJobs is how many finished jobs' logs are kept in StateDir/jobs.
	KeepJobs int `envconfig:"LEVIATHAN_KEEP_JOBS" default:"20" desc:"finished jobs whose logs are kept"`
}

// Secrets returns the configured values that must never be printed.
func (c Config) Secrets() []string {
	var s []string
	v := reflect.ValueOf(c)
	for _, f := range reflect.VisibleFields(v.Type()) {
		if val := v.FieldByIndex(f.Index).String(); f.Tag.Get("secret") == "true" && val != "" {
			s = append(s, val)
		}
	}
	return s
}

// ConfigKeys lists the settings a configuration file may hold.
func ConfigKeys() []string {
	var keys []string
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Config]()) {
		keys = append(keys, f.Tag.Get("envconfig"))
	}
	return keys
}

// IsSecretKey reports whether the setting named key holds a credential.
func IsSecretKey(key string) bool {
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Config]()) {
		if f.Tag.Get("envconfig") == key {
			return f.Tag.Get("secret") == "true"
		}
	}
	return false
}

// Privileged reports whether this process runs with another effective
// group (or user) than its real one: the installed setgid hook, run by
// the runner's user — or by a job, which can run it too. A privileged
// hook reads its configuration from ConfigFile only.
func Privileged() bool {
	return os.Getegid() != os.Getgid() || os.Geteuid() != os.Getuid()
}

// ConfigSource says where a configuration comes from.
type ConfigSource struct {
	// File holds KEY=VALUE lines (ConfigFile); "" reads none.
	File string
	// Getenv reads settings from the environment, over the file's; nil
	// reads none.
	Getenv func(string) string
	// Trusted requires File to exist, to be owned by root, writable by
	// no one else and not readable by everyone (CheckRootOwned), and the
	// policy file it names to be root-owned too; Getenv is not consulted.
	// A privileged hook loads a trusted source.
	Trusted bool
}

// DefaultConfigSource is where this process reads its configuration: a
// privileged process reads ConfigFile only, as a trusted source; any other
// reads the file named by LEVIATHAN_HOOK_CONFIG (ConfigFile when unset),
// when it exists, with the environment over it.
func DefaultConfigSource() ConfigSource {
	if Privileged() {
		return ConfigSource{File: ConfigFile, Trusted: true}
	}
	f := ConfigFile
	if v := os.Getenv(ConfigFileEnv); v != "" {
		f = v
	}
	return ConfigSource{File: f, Getenv: os.Getenv}
}

// LoadConfig reads the configuration from DefaultConfigSource. Errors
// name the setting, never a secret's value.
func LoadConfig() (Config, error) { return DefaultConfigSource().Load() }

// Load reads and validates the configuration.
func (s ConfigSource) Load() (Config, error) {
	vals := map[string]string{}
	if s.File != "" {
		if s.Trusted {
			if err := CheckRootOwned(s.File, true); err != nil {
				return Config{}, fmt.Errorf("hook: configuration: %w", err)
			}
		}
		m, err := ReadConfigFile(s.File)
		switch {
		case err == nil:
			vals = m
		case errors.Is(err, fs.ErrNotExist) && !s.Trusted:
		case errors.Is(err, fs.ErrPermission) && s.Trusted:
			return Config{}, fmt.Errorf("%w: is leviathan-hook installed setgid to the group that can read it (sudo leviathan-hook install)?", err)
		default:
			return Config{}, err
		}
	}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	if s.Getenv != nil && !s.Trusted {
		lookup = func(k string) (string, bool) {
			if v := s.Getenv(k); v != "" {
				return v, true
			}
			v, ok := vals[k]
			return v, ok
		}
	}
	c, err := decodeConfig(lookup)
	if err != nil {
		return c, err
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	if s.Trusted && c.Policy != "" {
		if err := CheckRootOwned(c.Policy, false); err != nil {
			return c, fmt.Errorf("hook: LEVIATHAN_POLICY: %w", err)
		}
	}
	return c, nil
}

// ConfigFromValues decodes and validates settings given as KEY=VALUE
// pairs (unset keys take their defaults), as the installer does before
// writing them.
func ConfigFromValues(vals map[string]string) (Config, error) {
	for k := range vals {
		if !slices.Contains(ConfigKeys(), k) {
			return Config{}, fmt.Errorf("hook: unknown setting %s (known: %s)", k, strings.Join(ConfigKeys(), ", "))
		}
	}
	c, err := decodeConfig(func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	if err != nil {
		return c, err
	}
	return c, c.validate()
}

// ReadConfigFile reads a configuration file: KEY=VALUE lines, blank lines
// and # comments; values are taken as they are (no quoting). Errors name
// the line, never its content, which may hold a secret.
func ReadConfigFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hook: configuration: %w", err)
	}
	defer f.Close()
	return parseConfig(path, f)
}

func parseConfig(name string, r io.Reader) (map[string]string, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !isKey(k) {
			return nil, fmt.Errorf("hook: %s line %d: not KEY=VALUE", name, n)
		}
		if !slices.Contains(ConfigKeys(), k) {
			return nil, fmt.Errorf("hook: %s line %d: unknown setting %s (known: %s)", name, n, k, strings.Join(ConfigKeys(), ", "))
		}
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hook: reading %s: %w", name, err)
	}
	return vals, nil
}

// isKey accepts the names settings have: upper-case letters, digits and
// underscores. Anything else is not named in errors.
func isKey(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, r := range k {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// decodeConfig fills a Config from lookup and the fields' defaults, as
// envconfig does for the environment (a key set to "" is set).
func decodeConfig(lookup func(string) (string, bool)) (Config, error) {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for _, f := range reflect.VisibleFields(v.Type()) {
		key := f.Tag.Get("envconfig")
		s, ok := lookup(key)
		if !ok {
			s = f.Tag.Get("default")
		}
		fv := v.FieldByIndex(f.Index)
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			if s == "" {
				continue
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return c, fmt.Errorf("hook: %s=%q: not a duration (like 60s or 15m)", key, s)
			}
			fv.SetInt(int64(d))
		case f.Type.Kind() == reflect.Int:
			if s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return c, fmt.Errorf("hook: %s=%q: not a whole number", key, s)
			}
			fv.SetInt(int64(n))
		case f.Type.Kind() == reflect.String:
			fv.SetString(s)
		default:
			panic("hook: Config field of unsupported type " + f.Type.String())
		}
	}
	return c, nil
}

// Usage writes the settings LoadConfig reads, with their defaults and
// what each is for, as envconfig formats them.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	if err := envconfig.Usagef("", &Config{}, tw, "{{range .}}  {{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"); err != nil {
		return err
	}
	return tw.Flush()
}

func (c Config) validate() error {
	switch {
	case c.WorkerURL == "":
		return fmt.Errorf("hook: LEVIATHAN_WORKER_URL is empty: set it to the worker's URL (leviathan worker prints it)")
	case c.StateDir == "":
		return fmt.Errorf("hook: LEVIATHAN_STATE_DIR is empty: set it to a directory the hook can write")
	case c.LeaseTTL < 5*time.Second:
		return fmt.Errorf("hook: LEVIATHAN_LEASE_TTL=%v: must be at least 5s (heartbeats go out every third of it)", c.LeaseTTL)
	case c.LeaseWait < 0:
		return fmt.Errorf("hook: LEVIATHAN_LEASE_WAIT=%v: must not be negative", c.LeaseWait)
	case c.KeepJobs < 0:
		return fmt.Errorf("hook: LEVIATHAN_KEEP_JOBS=%d: must not be negative", c.KeepJobs)
	}
	return nil
}

// CheckRootOwned checks that only root can change the file at path: the
// file and every directory above it are owned by root and writable by no
// one else (a world-writable directory with the sticky bit, such as /tmp,
// passes: others cannot rename or remove root's entries in it), both
// along path as written and after its symbolic links are resolved. With
// secret, the file must not be readable by everyone either.
func CheckRootOwned(path string, secret bool) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: not an absolute path", path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	for _, p := range slices.Compact([]string{filepath.Clean(path), real}) {
		if err := checkChain(p); err != nil {
			return err
		}
	}
	st, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if secret && st.Mode().Perm()&0o004 != 0 {
		return fmt.Errorf("%s is readable by every user and holds secrets: chmod o-r %s", path, path)
	}
	return nil
}

// checkChain checks p and its ancestors with Lstat, not following links.
func checkChain(p string) error {
	var chain []string
	for q := p; ; q = filepath.Dir(q) {
		chain = append(chain, q)
		if q == filepath.Dir(q) {
			break
		}
	}
	slices.Reverse(chain) // "/" first
	for i, q := range chain {
		st, err := os.Lstat(q)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", q)
		}
		if sys.Uid != 0 {
			return fmt.Errorf("%s is owned by uid %d, not root: chown root %s", q, sys.Uid, q)
		}
		last := i == len(chain)-1
		if st.Mode()&fs.ModeSymlink != 0 {
			continue // its target is checked separately
		}
		if st.Mode().Perm()&0o022 != 0 && (last || st.Mode()&fs.ModeSticky == 0) {
			return fmt.Errorf("%s is writable by users other than root: chmod go-w %s", q, q)
		}
	}
	return nil
}
