package actionbintest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// tools are the commands action-bin.sh runs; the test's PATH holds links
// to them only.
var tools = []string{"bash", "awk", "chmod", "curl", "cut", "mkdir", "mktemp", "mv", "rm", "sha256sum", "tr", "uname"}

func script(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "action-bin.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// toolDir links the tools into a new directory, plus a `go` stub when
// withGo.
func toolDir(t testing.TB, withGo bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range tools {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Skipf("%s is not installed; action-bin.sh needs it", n)
		}
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	if withGo {
		if err := os.WriteFile(filepath.Join(dir, "go"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// assetName is the release asset the script asks for on this machine.
func assetName() string { return "leviathan-action_" + runtime.GOOS + "_" + runtime.GOARCH }

// release is a release host: it serves files under prefix and counts
// requests.
type release struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths []string
}

func newRelease(t testing.TB, prefix string, files map[string][]byte) *release {
	r := &release{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.paths = append(r.paths, req.URL.Path)
		r.mu.Unlock()
		b, ok := files[strings.TrimPrefix(req.URL.Path, prefix)]
		if !ok || !strings.HasPrefix(req.URL.Path, prefix) {
			http.NotFound(w, req)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *release) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// actionTree makes an action checkout; with sums non-empty it is a
// released ref (dist/SHA256SUMS, and dist/VERSION unless version is "").
func actionTree(t testing.TB, sums, version string) string {
	t.Helper()
	dir := t.TempDir()
	if sums != "" {
		if err := os.MkdirAll(filepath.Join(dir, "dist"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dist", "SHA256SUMS"), []byte(sums), 0o644); err != nil {
			t.Fatal(err)
		}
		if version != "" {
			if err := os.WriteFile(filepath.Join(dir, "dist", "VERSION"), []byte(version+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// result is one run of the script.
type result struct {
	out     map[string]string // $GITHUB_OUTPUT
	stdout  string
	code    int
	tempDir string // RUNNER_TEMP
}

func runScript(t testing.TB, env map[string]string, withGo bool) result {
	t.Helper()
	r := result{out: map[string]string{}, tempDir: t.TempDir()}
	outFile := filepath.Join(t.TempDir(), "output")
	cmd := exec.Command(filepath.Join(toolDir(t, withGo), "bash"), script(t))
	cmd.Env = []string{"PATH=" + toolDir(t, withGo), "HOME=" + t.TempDir(), "GITHUB_OUTPUT=" + outFile, "RUNNER_TEMP=" + r.tempDir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	r.stdout = buf.String()
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(outFile)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			r.out[k] = v
		}
	}
	return r
}

// executables lists the executable regular files under dir.
func executables(t *testing.T, dir string) []string {
	t.Helper()
	var xs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Mode()&0o111 != 0 {
				xs = append(xs, p)
			}
		}
		return nil
	})
	return xs
}

func TestActionBin(t *testing.T) {
	binary := []byte("\x7fELF the released leviathan-action")
	goodSums := fmt.Sprintf("%s  leviathan-hook_linux_amd64\n%s  %s\n", strings.Repeat("0", 64), sum(binary), assetName())
	prefix := "/balena/leviathan-action/releases/download/v1.2.3/"
	installed := filepath.Join(t.TempDir(), "leviathan-action")
	if err := os.WriteFile(installed, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(t.TempDir(), "leviathan-action")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		sums    string // dist/SHA256SUMS; none when empty
		version string // dist/VERSION
		serve   map[string][]byte
		env     map[string]string // besides GITHUB_ACTION_PATH; {url} is the server's URL
		withGo  bool

		code      int
		build     string // the build output
		setupGo   string
		installed bool   // the verified binary is at path
		path      string // the path output, when not the RUNNER_TEMP one
		stdout    string // in the step's log
		requests  int
	}{
		{name: "released ref: download, verify", sums: goodSums, version: "v1.2.3",
			serve: map[string][]byte{assetName(): binary},
			env:   map[string]string{"SERVER_URL": "{url}", "ACTION_REPOSITORY": "balena/leviathan-action"},
			build: "false", setupGo: "false", installed: true, stdout: "downloaded and verified", requests: 1},
		{name: "download URL from the environment", sums: goodSums, version: "v1.2.3",
			serve: map[string][]byte{assetName(): binary},
			env:   map[string]string{"LEVIATHAN_ACTION_DOWNLOAD_URL": "{url}" + prefix},
			build: "false", setupGo: "false", installed: true, requests: 1},
		{name: "swapped binary fails closed", sums: goodSums, version: "v1.2.3",
			serve: map[string][]byte{assetName(): []byte("\x7fELF something else")},
			env:   map[string]string{"SERVER_URL": "{url}", "ACTION_REPOSITORY": "balena/leviathan-action"},
			code:  1, stdout: "::error::{url}" + prefix + assetName() + " has SHA-256 ", requests: 1},
		{name: "missing asset fails closed", sums: goodSums, version: "v1.2.3",
			serve: map[string][]byte{},
			env:   map[string]string{"SERVER_URL": "{url}", "ACTION_REPOSITORY": "balena/leviathan-action"},
			code:  1, stdout: "::error::could not download {url}" + prefix + assetName(), requests: 1},
		{name: "no sums: build, go present", withGo: true,
			build: "true", setupGo: "false", stdout: "not a released ref"},
		{name: "no sums: build, set up Go",
			build: "true", setupGo: "true", stdout: "not a released ref"},
		{name: "no binary for this platform: build", sums: strings.Repeat("0", 64) + "  leviathan-action_plan9_mips\n", version: "v1.2.3",
			withGo: true, build: "true", setupGo: "false", stdout: "has no " + assetName()},
		{name: "sums without VERSION", sums: goodSums,
			code: 1, stdout: "::error::the action's tree has dist/SHA256SUMS but no dist/VERSION"},
		{name: "LEVIATHAN_ACTION_BIN wins", sums: goodSums, version: "v1.2.3",
			serve: map[string][]byte{assetName(): binary},
			env:   map[string]string{"LEVIATHAN_ACTION_BIN": installed, "SERVER_URL": "{url}", "ACTION_REPOSITORY": "balena/leviathan-action"},
			build: "false", setupGo: "false", path: installed},
		{name: "LEVIATHAN_ACTION_BIN not executable",
			env:  map[string]string{"LEVIATHAN_ACTION_BIN": notExec},
			code: 2, stdout: "::error::LEVIATHAN_ACTION_BIN=" + notExec + " is not an executable file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel := newRelease(t, prefix, tc.serve)
			url := rel.srv.URL
			action := actionTree(t, tc.sums, tc.version)
			env := map[string]string{"GITHUB_ACTION_PATH": action}
			for k, v := range tc.env {
				env[k] = strings.ReplaceAll(v, "{url}", url)
			}
			r := runScript(t, env, tc.withGo)
			t.Logf("log:\n%s", r.stdout)
			if r.code != tc.code {
				t.Fatalf("exit status %d, want %d", r.code, tc.code)
			}
			if want := strings.ReplaceAll(tc.stdout, "{url}", url); !strings.Contains(r.stdout, want) {
				t.Errorf("the log lacks %q", want)
			}
			if n := len(rel.requests()); n < tc.requests || (tc.requests == 0 && n > 0) {
				t.Errorf("%d requests %q, want %d", n, rel.requests(), tc.requests)
			}
			if tc.code != 0 {
				if xs := executables(t, r.tempDir); len(xs) > 0 {
					t.Errorf("a failed step left executables behind: %q", xs)
				}
				if _, ok := r.out["build"]; ok {
					t.Errorf("a failed step set build=%s", r.out["build"])
				}
				return
			}
			if r.out["build"] != tc.build || r.out["setup-go"] != tc.setupGo {
				t.Errorf("build=%q setup-go=%q, want %q %q", r.out["build"], r.out["setup-go"], tc.build, tc.setupGo)
			}
			want := tc.path
			if want == "" {
				if !strings.HasPrefix(r.out["path"], r.tempDir+"/leviathan-action-") || filepath.Base(r.out["path"]) != "leviathan-action" {
					t.Errorf("path=%q, want $RUNNER_TEMP/leviathan-action-*/leviathan-action", r.out["path"])
				}
			} else if r.out["path"] != want {
				t.Errorf("path=%q, want %q", r.out["path"], want)
			}
			fi, err := os.Stat(r.out["path"])
			switch {
			case tc.installed:
				b, _ := os.ReadFile(r.out["path"])
				if err != nil || fi.Mode()&0o111 == 0 || !bytes.Equal(b, binary) {
					t.Errorf("the verified binary is not at %s, executable (%v)", r.out["path"], err)
				}
				if xs := executables(t, r.tempDir); len(xs) != 1 {
					t.Errorf("executables in RUNNER_TEMP: %q, want only the binary", xs)
				}
			case tc.path == "" && err == nil:
				t.Errorf("%s exists before the build", r.out["path"])
			}
		})
	}
}

// TestActionBinReuses runs the script twice in one job: the second run
// takes the verified binary without a request.
func TestActionBinReuses(t *testing.T) {
	binary := []byte("\x7fELF leviathan-action")
	rel := newRelease(t, "/", map[string][]byte{assetName(): binary})
	action := actionTree(t, sum(binary)+"  "+assetName()+"\n", "v1.0.0")
	env := map[string]string{"GITHUB_ACTION_PATH": action, "LEVIATHAN_ACTION_DOWNLOAD_URL": rel.srv.URL}
	first := runScript(t, env, false)
	if first.code != 0 {
		t.Fatalf("first run: exit %d\n%s", first.code, first.stdout)
	}
	env["RUNNER_TEMP"] = first.tempDir
	outFile := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command("bash", script(t))
	cmd.Env = []string{"PATH=" + toolDir(t, false), "GITHUB_OUTPUT=" + outFile}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(outFile)
	if want := "path=" + first.out["path"] + "\nbuild=false\nsetup-go=false\n"; string(b) != want {
		t.Errorf("second run's outputs:\n%s\nwant:\n%s", b, want)
	}
	if n := len(rel.requests()); n != 1 {
		t.Errorf("%d requests for two runs, want 1", n)
	}
}
