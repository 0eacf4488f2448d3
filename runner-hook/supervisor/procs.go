package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a process of the runner's user.
type Proc struct {
	PID  int
	Comm string
}

func (p Proc) String() string { return fmt.Sprintf("%d (%s)", p.PID, p.Comm) }

// UserProcs lists the live processes (zombies left out) whose real,
// effective, saved or filesystem user id is uid.
func UserProcs(uid uint32) ([]Proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	self := os.Getpid()
	var out []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, ok := procStatus(pid)
		if !ok || st.zombie {
			continue
		}
		for _, u := range st.uids {
			if u == uid {
				out = append(out, Proc{PID: pid, Comm: st.name})
				break
			}
		}
	}
	return out, nil
}

type status struct {
	name   string
	zombie bool
	uids   []uint32
}

// procStatus reads /proc/PID/status; false when the process is gone.
func procStatus(pid int) (status, bool) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return status{}, false
	}
	defer f.Close()
	var st status
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			st.name = v
		case "State":
			st.zombie = strings.HasPrefix(v, "Z") || strings.HasPrefix(v, "X")
		case "Uid":
			for _, f := range strings.Fields(v) {
				if n, err := strconv.ParseUint(f, 10, 32); err == nil {
					st.uids = append(st.uids, uint32(n))
				}
			}
		}
	}
	return st, sc.Err() == nil && st.uids != nil
}

// KillUser kills (SIGKILL) every process of the user uid (UserProcs),
// again until a pass finds none — a process may fork while its siblings
// are killed — and returns those it killed. It fails when processes are
// left after ctx ends or after 100 passes. It refuses uid 0 and its own
// user.
func KillUser(ctx context.Context, uid uint32) ([]Proc, error) {
	if uid == 0 || uid == uint32(os.Getuid()) || uid == uint32(os.Geteuid()) {
		return nil, fmt.Errorf("supervisor: refusing to kill every process of uid %d (root or this program's own user)", uid)
	}
	var killed []Proc
	for pass := 0; pass < 100; pass++ {
		ps, err := UserProcs(uid)
		if err != nil {
			return killed, err
		}
		if len(ps) == 0 {
			return killed, nil
		}
		for _, p := range ps {
			if err := syscall.Kill(p.PID, syscall.SIGKILL); err == nil {
				if pass == 0 || !contains(killed, p) {
					killed = append(killed, p)
				}
			} else if !errors.Is(err, syscall.ESRCH) {
				return killed, fmt.Errorf("supervisor: killing %v: %w", p, err)
			}
		}
		select {
		case <-ctx.Done():
			return killed, fmt.Errorf("supervisor: processes of uid %d left: %w", uid, ctx.Err())
		case <-time.After(time.Duration(pass+1) * 5 * time.Millisecond):
		}
	}
	ps, _ := UserProcs(uid)
	return killed, fmt.Errorf("supervisor: processes of uid %d survive SIGKILL: %v", uid, ps)
}

func contains(ps []Proc, p Proc) bool {
	for _, q := range ps {
		if q.PID == p.PID {
			return true
		}
	}
	return false
}
