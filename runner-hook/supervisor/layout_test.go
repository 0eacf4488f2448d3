package supervisor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/runner-hook/supervisor"
	"github.com/balena/leviathan-action/runner-hook/supervisor/supervisortest"
)

// runnerUID stands for the runner's user; no such user needs to exist:
// the checks read owners and modes only.
const runnerUID = 4242

var runnerID = supervisor.Identity{Name: "runner", UID: runnerUID, GID: runnerUID, Groups: []uint32{runnerUID}}

// fakeRunner lays out a runner's install as a safe set-up has it: root's,
// but for the work and diagnostics directories and the per-run files.
func fakeRunner(t *testing.T, dir string) {
	t.Helper()
	for p, body := range map[string]string{
		"bin/Runner.Listener":        "#!/bin/sh\n",
		"externals/node20/bin/node":  "#!/bin/sh\n",
		"run.sh":                     "#!/bin/sh\n",
		"run-helper.sh.template":     "#!/bin/sh\n",
		".env":                       "LANG=C.UTF-8\n",
		".runner":                    `{"agentName": "testbot", "disableUpdate": true}`,
		".credentials":               "{}",
		".credentials_rsaparams":     "{}",
		"_work/balena-generic/x.txt": "",
		"_diag/Runner_1.log":         "",
	} {
		p = filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, ".env"), 0o644)
	for _, p := range []string{"_work", "_work/balena-generic", "_work/balena-generic/x.txt", "_diag", "_diag/Runner_1.log", ".runner", ".credentials", ".credentials_rsaparams"} {
		os.Chown(filepath.Join(dir, p), runnerUID, runnerUID)
	}
}

func TestCheckRunner(t *testing.T) {
	supervisortest.NeedRoot(t)
	base := supervisortest.SystemDir(t)
	dir := filepath.Join(base, "actions-runner")
	fakeRunner(t, dir)
	rep, err := supervisor.CheckRunner(dir, runnerID)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Warnings) > 0 {
		t.Fatalf("a safe install: %+v", rep)
	}

	// What a job could use, one at a time.
	user := filepath.Join(base, "users-file")
	os.WriteFile(user, nil, 0o755)
	os.Chown(user, runnerUID, runnerUID)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T)
		undo   func()
		want   string
	}{
		{"a program of the runner owned by its user",
			func(t *testing.T) { os.Chown(filepath.Join(dir, "bin/Runner.Listener"), runnerUID, 0) },
			func() { os.Chown(filepath.Join(dir, "bin/Runner.Listener"), 0, 0) },
			dir + "/bin/Runner.Listener is owned by runner"},
		{".env writable by everyone",
			func(t *testing.T) { os.Chmod(filepath.Join(dir, ".env"), 0o666) },
			func() { os.Chmod(filepath.Join(dir, ".env"), 0o644) },
			dir + "/.env is writable by runner"},
		{"externals writable by the user's group",
			func(t *testing.T) {
				os.Chown(filepath.Join(dir, "externals"), 0, runnerUID)
				os.Chmod(filepath.Join(dir, "externals"), 0o775)
			},
			func() {
				os.Chown(filepath.Join(dir, "externals"), 0, 0)
				os.Chmod(filepath.Join(dir, "externals"), 0o755)
			},
			dir + "/externals is writable by runner"},
		{"a link to the user's file",
			func(t *testing.T) { os.Symlink(user, filepath.Join(dir, "bin", "helper")) },
			func() { os.Remove(filepath.Join(dir, "bin", "helper")) },
			dir + "/bin/helper links to " + user + ": " + user + " is owned by runner"},
		{"the install's directory owned by the user",
			func(t *testing.T) { os.Chown(dir, runnerUID, runnerUID) },
			func() { os.Chown(dir, 0, 0) },
			dir + " is owned by runner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.change(t)
			defer tc.undo()
			rep, err := supervisor.CheckRunner(dir, runnerID)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), tc.want) {
				t.Errorf("problems %q, want %q", rep.Problems, tc.want)
			}
			if rep.Above {
				t.Error("reported a directory above the install")
			}
		})
	}

	// The usual install: in the runner's user's home. It has to move.
	home := filepath.Join(base, "home")
	os.Mkdir(home, 0o755)
	os.Chown(home, runnerUID, runnerUID)
	inHome := filepath.Join(home, "actions-runner")
	fakeRunner(t, inHome)
	os.WriteFile(filepath.Join(inHome, ".runner"), []byte("\xef\xbb\xbf{\"agentName\": \"testbot\"}"), 0o600)
	rep, err = supervisor.CheckRunner(inHome, runnerID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !rep.Above || !strings.Contains(strings.Join(rep.Problems, "\n"), home+" is owned by runner") {
		t.Errorf("an install in the user's home: %+v", rep)
	}
	if fix := strings.Join(rep.Fix(), "\n"); !strings.Contains(fix, "mv "+inHome+" /opt/actions-runner") || !strings.Contains(fix, "chown -R root:root /opt/actions-runner") {
		t.Errorf("fix:\n%s", fix)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "--disableupdate") {
		t.Errorf("warnings %q: want one about --disableupdate", rep.Warnings)
	}

	// A sticky world-writable directory protects root's entries.
	sticky := filepath.Join(base, "sticky")
	os.Mkdir(sticky, 0o777)
	os.Chmod(sticky, os.ModeSticky|0o777)
	fakeRunner(t, filepath.Join(sticky, "actions-runner"))
	if rep, _ := supervisor.CheckRunner(filepath.Join(sticky, "actions-runner"), runnerID); !rep.OK() {
		t.Errorf("an install in a sticky directory: %q", rep.Problems)
	}
	os.Chmod(sticky, 0o777)
	if rep, _ := supervisor.CheckRunner(filepath.Join(sticky, "actions-runner"), runnerID); rep.OK() || !rep.Above {
		t.Errorf("an install in a world-writable directory: %+v", rep)
	}
}

func TestEmptyDirRefusesOthersDirectories(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644)
	if _, err := supervisor.EmptyDir(dir, runnerID); err == nil || !strings.Contains(err.Error(), "not owned by runner") {
		t.Errorf("EmptyDir of a directory the user does not own: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
		t.Error("it removed a file anyway")
	}
}
