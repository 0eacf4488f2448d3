package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// PerRunFiles are the files in a runner's directory that a just-in-time
// runner writes when it starts (its registration, from --jitconfig) and
// that run.sh rewrites (run-helper.sh): its user must be able to write
// them. The supervisor recreates them before every run, so nothing a job
// writes into them reaches the next job.
var PerRunFiles = []string{".runner", ".credentials", ".credentials_rsaparams", ".credentials_migrated", ".runner_migrated", "run-helper.sh"}

// RunnerDirs are the directories of a runner's install its user owns by
// design: the work directory and the runner's diagnostic logs.
var RunnerDirs = []string{"_work", "_diag"}

// maxProblems bounds the problems a RunnerReport lists.
const maxProblems = 20

// ModifiableBy says how the user id can change what path names — it owns
// the path or a directory above it, or can write the path or a directory
// holding it or one above it (a sticky directory protects entries the user
// does not own) — along the path as written and after its symbolic links
// are resolved. It returns nil when the user cannot.
func ModifiableBy(path string, id Identity) ([]string, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("supervisor: %s: not an absolute path", path)
	}
	p := filepath.Clean(path)
	reasons, err := chainReasons(p, id)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(p); err == nil && real != p {
		more, err := chainReasons(real, id)
		if err != nil {
			return nil, err
		}
		reasons = append(reasons, more...)
	}
	return slices.Compact(reasons), nil
}

// chainReasons checks p and the directories above it, not following links.
func chainReasons(p string, id Identity) ([]string, error) {
	var chain []string
	for q := p; ; q = filepath.Dir(q) {
		chain = append(chain, q)
		if q == filepath.Dir(q) {
			break
		}
	}
	slices.Reverse(chain)
	var reasons []string
	var parent fs.FileInfo
	for i, q := range chain {
		fi, err := os.Lstat(q)
		if err != nil {
			return nil, fmt.Errorf("supervisor: %w", err)
		}
		uid, _ := owner(fi)
		switch {
		case uid == id.UID:
			reasons = append(reasons, fmt.Sprintf("%s is owned by %s", q, id.Name))
		case parent != nil && canWrite(parent, id) && parent.Mode()&fs.ModeSticky == 0:
			reasons = append(reasons, fmt.Sprintf("%s is writable by %s, which can replace %s", chain[i-1], id.Name, q))
		case i == len(chain)-1 && fi.Mode()&fs.ModeSymlink == 0 && canWrite(fi, id):
			reasons = append(reasons, fmt.Sprintf("%s is writable by %s", q, id.Name))
		}
		parent = fi
	}
	return reasons, nil
}

// RunnerReport is what CheckRunner found in a runner's install.
type RunnerReport struct {
	Dir  string
	User Identity
	// Problems say what the runner's user can change that a later job,
	// or the runner itself, trusts.
	Problems []string
	// More counts the problems not listed.
	More int
	// Above is set when a directory above Dir is among the problems: the
	// runner has to move.
	Above bool
	// Warnings are advice about the install that is no hole by itself.
	Warnings []string
}

// OK reports whether the runner's user can change nothing that matters.
func (r *RunnerReport) OK() bool { return len(r.Problems) == 0 }

func (r *RunnerReport) problem(s string) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, s)
	} else {
		r.More++
	}
}

// Fix returns the shell commands, run as root, that make the install safe.
func (r *RunnerReport) Fix() []string {
	var cmds []string
	dir, u := r.Dir, r.User.Name
	if r.Above {
		cmds = append(cmds,
			"# the runner's directory sits in a directory "+u+" can change: move it, and the service with it:",
			fmt.Sprintf("(cd %s && ./svc.sh stop && ./svc.sh uninstall)", dir),
			fmt.Sprintf("mv %s /opt/actions-runner", dir),
			"(cd /opt/actions-runner && ./svc.sh install "+u+" && ./svc.sh start)   # or the supervisor's unit",
		)
		dir = "/opt/actions-runner"
	}
	return append(cmds,
		"chown -R root:root "+dir,
		"chmod -R go-w "+dir,
		fmt.Sprintf("mkdir -p %s/_work %s/_diag && chown -R %s: %s/_work %s/_diag", dir, dir, u, dir, dir),
		"# a runner registered with config.sh (not the supervisor's just-in-time runners) reads its registration as "+u+":",
		fmt.Sprintf("chown %s: %s/.runner %s/.credentials %s/.credentials_rsaparams", u, dir, dir, dir),
		"# and must not update itself into a root-owned directory: register it with ./config.sh … --disableupdate",
	)
}

// CheckRunner reports what in the runner's install at dir the user id can
// change: dir and the directories above it, and everything inside apart
// from RunnerDirs and PerRunFiles (a link is followed and its target
// checked too).
func CheckRunner(dir string, id Identity) (*RunnerReport, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &RunnerReport{Dir: dir, User: id}
	reasons, err := ModifiableBy(dir, id)
	if err != nil {
		return nil, err
	}
	for _, why := range reasons {
		r.problem(why)
		if !strings.HasPrefix(why, dir+" ") {
			r.Above = true
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			r.problem(fmt.Sprintf("%s cannot be checked: %v", p, err))
			return nil
		}
		if p == dir {
			return nil
		}
		if rel, _ := filepath.Rel(dir, p); slices.Contains(RunnerDirs, rel) || slices.Contains(PerRunFiles, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		uid, _ := owner(fi)
		switch {
		case uid == id.UID:
			r.problem(fmt.Sprintf("%s is owned by %s", p, id.Name))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil // a dangling link changes nothing
			}
			more, err := ModifiableBy(target, id)
			if err != nil {
				return nil
			}
			for _, why := range more {
				r.problem(fmt.Sprintf("%s links to %s: %s", p, target, why))
			}
		case canWrite(fi, id):
			r.problem(fmt.Sprintf("%s is writable by %s", p, id.Name))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, name := range RunnerDirs {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s does not exist: create it for %s (mkdir %s && chown %s: %s)", p, id.Name, p, id.Name, p))
		} else if uid, _ := owner(fi); uid != id.UID {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s is not owned by %s, which the runner needs to write it (chown -R %s: %s)", p, id.Name, id.Name, p))
		}
	}
	if w := updateWarning(filepath.Join(dir, ".runner")); w != "" {
		r.Warnings = append(r.Warnings, w)
	}
	return r, nil
}

// updateWarning reads a runner's registration (.runner, JSON, maybe with
// a byte-order mark) and warns when the runner may update itself.
func updateWarning(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	var s map[string]any
	if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &s); err != nil {
		return fmt.Sprintf("%s is not the runner's JSON registration: %v", path, err)
	}
	get := func(k string) bool {
		for key, v := range s {
			if strings.EqualFold(key, k) {
				b, _ := v.(bool)
				return b
			}
		}
		return false
	}
	if get("ephemeral") || get("disableUpdate") {
		return ""
	}
	return fmt.Sprintf("%s: the runner was registered without --disableupdate: an update cannot be written into a root-owned install, and the runner stops; register it again with --disableupdate and update it as root", path)
}

// errNotRoot is returned by what only root may do.
var errNotRoot = errors.New("supervisor: must run as root")
