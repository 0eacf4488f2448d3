package testrunner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/internal/syncio"
)

// TestUserSuitesDirChecked: a directory of user suites is refused before
// the engine is asked for anything unless nobody, the container's user,
// can list it and run every file in it, and it holds nothing else.
func TestUserSuitesDirChecked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the Spec's directory
		want  string
	}{
		{"relative", func(t *testing.T, dir string) string { return "suites" }, "not an absolute path"},
		{"missing", func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") }, "no such file"},
		{"a file", func(t *testing.T, dir string) string { return mkfile(t, dir, "os.test", 0o755) }, "is not a directory"},
		{"private directory", func(t *testing.T, dir string) string {
			d := mkdir(t, dir, "bin", 0o700)
			mkfile(t, d, "os.test", 0o755)
			return d
		}, "cannot list it"},
		{"private file", func(t *testing.T, dir string) string {
			d := mkdir(t, dir, "bin", 0o755)
			mkfile(t, d, "os.test", 0o700)
			return d
		}, "os.test has mode -rwx------: the container's user (nobody) cannot run it"},
		{"readable, not executable", func(t *testing.T, dir string) string {
			d := mkdir(t, dir, "bin", 0o755)
			mkfile(t, d, "os.test", 0o644)
			return d
		}, "cannot run it"},
		{"set-user-ID", func(t *testing.T, dir string) string {
			d := mkdir(t, dir, "bin", 0o755)
			p := mkfile(t, d, "os.test", 0o755)
			if err := os.Chmod(p, 0o755|os.ModeSetuid); err != nil {
				t.Fatal(err)
			}
			return d
		}, "set-user-ID"},
		{"subdirectory", func(t *testing.T, dir string) string {
			d := mkdir(t, dir, "bin", 0o755)
			mkdir(t, d, "more", 0o755)
			return d
		}, "more is not a regular file"},
		{"symlink", func(t *testing.T, dir string) string {
			d := mkdir(t, dir, "bin", 0o755)
			if err := os.Symlink("/etc/shadow", filepath.Join(d, "os.test")); err != nil {
				t.Fatal(err)
			}
			return d
		}, "os.test is not a regular file"},
		{"symlinked directory", func(t *testing.T, dir string) string {
			d := mkdir(t, dir, "bin", 0o755)
			l := filepath.Join(dir, "link")
			if err := os.Symlink(d, l); err != nil {
				t.Fatal(err)
			}
			return l
		}, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Image: "img", RunID: "r", ReportsDir: t.TempDir(), UserSuitesDir: tc.setup(t, t.TempDir())}
			// A nil engine: the check comes before any engine call.
			_, err := Run(t.Context(), nil, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "testrunner: user suites directory") {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
		})
	}
}

func mkdir(t *testing.T, parent, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return p
}

func mkfile(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("x"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunUserSuites runs a binary from a user suites directory inside a
// private (0700) directory: nobody, the container's user, runs it from the
// read-only mount and cannot write there.
func TestRunUserSuites(t *testing.T) {
	cli := engine(t)
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	bin := mkdir(t, private, "bin", 0o755)
	prog, err := buildProg(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "user.test"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	s := runSpec(t, cli, "exec", UserSuitesPath+"/user.test", "report", "0")
	s.UserSuitesDir = bin
	var out syncio.Buffer
	s.Stdout = &out
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, cli, s)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	t.Logf("stdout:\n%s", got)
	if !res.Passed() {
		t.Fatalf("result %+v (infra %v): the user's binary did not run as nobody", res, res.InfraError)
	}
	for _, want := range []string{
		"suites dir write: fail: open /user-suites/x: read-only file system\n",
		"uid 65534 gid 65534\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if entries, _ := os.ReadDir(bin); len(entries) != 1 {
		t.Errorf("the suites directory holds %d files after the run", len(entries))
	}
	if n := leftovers(t, cli, s.RunID); n != 0 {
		t.Errorf("%d containers, networks or volumes left behind", n)
	}
}
