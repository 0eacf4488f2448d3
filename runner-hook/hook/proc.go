package hook

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// proc names a process so that a recycled pid is not mistaken for it: the
// pid and its start time in clock ticks since boot (/proc/PID/stat field
// 22).
type proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// procOf returns the proc for a live pid.
func procOf(pid int) (proc, error) {
	st, err := readStat(pid)
	if err != nil {
		return proc{}, err
	}
	return proc{PID: pid, Start: st.start}, nil
}

// alive reports whether the process still runs (and is not a zombie).
func (p proc) alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, err := readStat(p.PID)
	return err == nil && st.start == p.Start && st.state != 'Z' && st.state != 'X'
}

type stat struct {
	comm  string
	state byte
	ppid  int
	start uint64
}

// readStat parses /proc/PID/stat. The command name is in parentheses and
// may itself hold spaces and parentheses, so fields are counted from the
// last ')'.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, fmt.Errorf("hook: process %d: %w", pid, err)
	}
	return parseStat(b)
}

func parseStat(b []byte) (stat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return stat{}, fmt.Errorf("hook: malformed /proc stat %q", b)
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, fmt.Errorf("hook: malformed /proc stat %q", b)
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return stat{}, fmt.Errorf("hook: malformed /proc stat %q", b)
	}
	return stat{comm: string(b[open+1 : end]), state: f[0][0], ppid: ppid, start: start}, nil
}

// runnerWorkerName is the comm of the GitHub runner's per-job process.
const runnerWorkerName = "Runner.Worker"

// runnerProcess finds the nearest ancestor of self named Runner.Worker:
// the runner's process for the job, whose life is the job's.
func runnerProcess(self int) (proc, error) {
	pid := self
	for hops := 0; pid > 1 && hops < 64; hops++ {
		s, err := readStat(pid)
		if err != nil {
			break
		}
		if s.comm == runnerWorkerName && pid != self {
			return proc{PID: pid, Start: s.start}, nil
		}
		pid = s.ppid
	}
	return proc{}, fmt.Errorf("hook: no %s process above this one", runnerWorkerName)
}
