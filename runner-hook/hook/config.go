package hook

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Config is the hook's configuration: the runner's environment (its .env
// file) or the process environment, read by Load.
type Config struct {
	// WorkerURL is the worker serving this runner's DUT.
	WorkerURL string `envconfig:"LEVIATHAN_WORKER_URL" default:"http://127.0.0.1:4321" desc:"the worker serving this runner's DUT"`
	// WorkerToken is the worker's bearer token, if it needs one.
	WorkerToken string `envconfig:"LEVIATHAN_WORKER_TOKEN" desc:"the worker's bearer token, if it has one"`
	// Policy is the policy file; empty applies the secure default (pull
	// requests from forks refused, the repository's own events allowed).
	Policy string `envconfig:"LEVIATHAN_POLICY" desc:"policy file; empty: forks refused, the repository's own events allowed"`
	// StateDir keeps the job's lease, the DUT's health record and the
	// collected logs of recent jobs.
	StateDir string `envconfig:"LEVIATHAN_STATE_DIR" default:"/var/lib/leviathan/hook" desc:"lease, health record and recent jobs' logs"`
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

// LoadConfig reads the configuration from the environment. Errors name the
// variable.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return c, fmt.Errorf("hook: configuration: %w", err)
	}
	return c, c.validate()
}

// Usage writes the variables LoadConfig reads, with their defaults and
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
		return fmt.Errorf("hook: LEVIATHAN_STATE_DIR is empty: set it to a directory the runner's user can write")
	case c.LeaseTTL < 5*time.Second:
		return fmt.Errorf("hook: LEVIATHAN_LEASE_TTL=%v: must be at least 5s (heartbeats go out every third of it)", c.LeaseTTL)
	case c.LeaseWait < 0:
		return fmt.Errorf("hook: LEVIATHAN_LEASE_WAIT=%v: must not be negative", c.LeaseWait)
	case c.KeepJobs < 0:
		return fmt.Errorf("hook: LEVIATHAN_KEEP_JOBS=%d: must not be negative", c.KeepJobs)
	}
	return nil
}
