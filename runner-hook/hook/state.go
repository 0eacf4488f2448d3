package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
)

// jobState is what job-started leaves for the heartbeat and job-completed.
type jobState struct {
	// Owner is the lease owner: the run, attempt and job.
	Owner     string    `json:"owner"`
	Repo      string    `json:"repository"`
	RunID     string    `json:"run_id"`
	Attempt   string    `json:"run_attempt,omitempty"`
	Job       string    `json:"job"`
	WorkerURL string    `json:"worker_url"`
	LeaseID   string    `json:"lease_id"`
	LeaseTTL  Duration  `json:"lease_ttl"`
	Started   time.Time `json:"started"`
	// Watch is the runner's job process: while it lives the heartbeat
	// renews the lease.
	Watch proc `json:"watch"`
	// Heartbeat is the heartbeat process, once started.
	Heartbeat proc `json:"heartbeat"`
	// Image is the testrunner image pulled for the job.
	Image string `json:"image,omitempty"`
	// SerialStart is the console offset when the job began.
	SerialStart int64 `json:"serial_start"`
	// TempDir is the job's scratch directory, removed by job-completed.
	TempDir string `json:"temp_dir,omitempty"`
}

// Health is the DUT's health record, written by every health check and by
// job-completed, read by the next job-started.
type Health struct {
	Healthy bool      `json:"healthy"`
	Problem string    `json:"problem,omitempty"`
	Checked time.Time `json:"checked"`
	// LastJob names the job that last used the DUT.
	LastJob string `json:"last_job,omitempty"`
	// LastJobResult is "completed", or why the job ended otherwise.
	LastJobResult string `json:"last_job_result,omitempty"`
	// Stats are the worker's figures: flash MB/s, boot time, failures.
	Stats api.Stats `json:"stats"`
}

// Duration is a time.Duration that reads and writes as "1m30s".
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// state is the hook's directory.
type state struct{ dir string }

func (s state) jobPath() string    { return filepath.Join(s.dir, "job.json") }
func (s state) healthPath() string { return filepath.Join(s.dir, "health.json") }
func (s state) jobsDir() string    { return filepath.Join(s.dir, "jobs") }

// lock takes the directory's lock, so two hooks (or a hook and a
// heartbeat) never interleave their updates.
func (s state) lock() (unlock func(), err error) {
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return nil, fmt.Errorf("hook: state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("hook: state directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("hook: locking %s: %w", s.dir, err)
	}
	return func() { f.Close() }, nil
}

// readJob returns the recorded job, or nil when there is none.
func (s state) readJob() (*jobState, error) {
	var j jobState
	ok, err := readJSON(s.jobPath(), &j)
	if !ok {
		return nil, err
	}
	return &j, err
}

func (s state) writeJob(j *jobState) error { return writeJSON(s.jobPath(), j) }

func (s state) removeJob() error {
	if err := os.Remove(s.jobPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("hook: %w", err)
	}
	return nil
}

// ReadHealth returns the DUT's health record from dir (zero when none was
// written yet).
func ReadHealth(dir string) (Health, error) {
	var h Health
	_, err := readJSON(state{dir}.healthPath(), &h)
	return h, err
}

func (s state) writeHealth(h Health) error { return writeJSON(s.healthPath(), h) }

func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hook: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("hook: %s is damaged (%w): remove it and run the job again", path, err)
	}
	return true, nil
}

// writeJSON replaces path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	return nil
}
