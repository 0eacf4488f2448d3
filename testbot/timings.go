package testbot

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Timings is where a run's time went, stage by stage. The boot is split
// further by what the console showed: the firmware's first output, the
// kernel's banner, the start of userspace (the kernel running init), and
// the DUT answering SSH. A mark the console never showed stays 0.
type Timings struct {
	// Lease: the worker's health and the lease (or the hook's lease).
	Lease time.Duration
	// Flash: powering off, getting the image and writing it.
	Flash time.Duration
	// Boot: power-on until the DUT runs commands; the Boot* marks are
	// offsets from power-on.
	Boot                                    time.Duration
	BootFirmware, BootKernel, BootUserspace time.Duration
	// Prepare: waiting for the suites to be ready after the boot (their
	// compiling overlaps the flash and the boot).
	Prepare time.Duration
	// Suites: running them and collecting their reports.
	Suites time.Duration
	// Total: the whole run.
	Total time.Duration
}

// String is the one-line split a run prints at its end.
func (t Timings) String() string {
	parts := []string{fmt.Sprintf("lease %s", secs(t.Lease)), fmt.Sprintf("flash %s", secs(t.Flash))}
	boot := "boot " + secs(t.Boot)
	var marks []string
	for _, m := range []struct {
		name string
		at   time.Duration
	}{{"firmware", t.BootFirmware}, {"kernel", t.BootKernel}, {"userspace", t.BootUserspace}} {
		if m.at > 0 {
			marks = append(marks, m.name+" "+secs(m.at))
		}
	}
	if len(marks) > 0 && t.Boot > 0 {
		boot += " (" + strings.Join(append(marks, "SSH "+secs(t.Boot)), " → ") + ")"
	}
	parts = append(parts, boot)
	if t.Prepare >= 50*time.Millisecond { // only when the suites were late
		parts = append(parts, "waiting for the suites "+secs(t.Prepare))
	}
	parts = append(parts, "suites "+secs(t.Suites), "total "+secs(t.Total))
	return strings.Join(parts, ", ")
}

// MarshalJSON writes seconds, as summary.json's other durations are.
func (t Timings) MarshalJSON() ([]byte, error) {
	s := func(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / float64(time.Second) }
	return json.Marshal(map[string]float64{
		"lease": s(t.Lease), "flash": s(t.Flash), "boot": s(t.Boot),
		"boot_firmware": s(t.BootFirmware), "boot_kernel": s(t.BootKernel), "boot_userspace": s(t.BootUserspace),
		"prepare": s(t.Prepare), "suites": s(t.Suites), "total": s(t.Total),
	})
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// Console lines that mark the boot's stages; generic Linux, not one OS's.
var (
	kernelBanner = regexp.MustCompile(`Linux version \d`)
	initStarted  = regexp.MustCompile(`Run \S+ as init process|systemd\[1\]: `)
)

// bootMarks finds the boot's stages in the console output since
// power-on, as it arrives.
type bootMarks struct {
	seen    bool
	partial string // an unfinished last line
	t       *Timings
}

// saw records the console bytes b that arrived by at (since power-on).
func (m *bootMarks) saw(b []byte, at time.Duration) {
	if len(b) == 0 {
		return
	}
	if !m.seen {
		m.seen, m.t.BootFirmware = true, at
	}
	text := m.partial + string(b)
	lines := strings.Split(text, "\n")
	m.partial = lines[len(lines)-1]
	if len(m.partial) > 4096 {
		m.partial = m.partial[len(m.partial)-4096:]
	}
	for _, l := range lines {
		if m.t.BootKernel == 0 && kernelBanner.MatchString(l) {
			m.t.BootKernel = at
		}
		if m.t.BootUserspace == 0 && initStarted.MatchString(l) {
			m.t.BootUserspace = at
		}
	}
}

// addTimings adds the run's timings to summary.json in dir, as the key
// "timings", keeping what is there.
func addTimings(dir string, t Timings) error {
	p := filepath.Join(dir, "summary.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	tj, err := json.Marshal(t)
	if err != nil {
		return err
	}
	m["timings"] = tj
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(p, append(out, '\n'), 0o644)
}
