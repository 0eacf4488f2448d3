// Package supervisortest gives tests what checking a testbot's
// permissions takes: a second local user standing for the runner's user,
// directories only root can change, and a way to run a command as that
// user. Tests that need them skip, saying why, when not run as root or
// when useradd is missing.
package supervisortest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/balena/leviathan-action/runner-hook/supervisor"
)

// NeedRoot skips the test unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates a second user and files owned by root and by that user")
	}
}

// Name returns a fresh name with the given prefix, fit for a user or a
// group.
func Name(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// NewUser creates a local user (and its group) with home as its home
// directory (created, owned by the user, when not empty) and removes it,
// its processes and its group when the test ends.
func NewUser(t testing.TB, home string) supervisor.Identity {
	t.Helper()
	NeedRoot(t)
	for _, tool := range []string{"useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian package passwd) to create a second user: %v", tool, err)
		}
	}
	name := Name("levt")
	args := []string{"--no-create-home", "--user-group", "--shell", "/bin/sh"}
	if home != "" {
		args = append(args, "--home-dir", home)
	}
	RunTool(t, "useradd", append(args, name)...)
	t.Cleanup(func() {
		if id, err := supervisor.LookupUser(name); err == nil {
			supervisor.KillUser(context.Background(), id.UID)
		}
		RunTool(t, "userdel", name)
	})
	id, err := supervisor.LookupUser(name)
	if err != nil {
		t.Fatal(err)
	}
	if home != "" {
		if err := os.MkdirAll(home, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, int(id.UID), int(id.GID)); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// RemoveGroupAtEnd removes the group name when the test ends.
func RemoveGroupAtEnd(t testing.TB, name string) {
	t.Cleanup(func() {
		if _, err := exec.LookPath("groupdel"); err == nil {
			exec.Command("groupdel", name).Run()
		}
	})
}

// RunTool runs a user-administration tool (useradd, gpasswd, …),
// retrying while another process holds the password files' lock.
func RunTool(t testing.TB, tool string, args ...string) {
	t.Helper()
	var out []byte
	var err error
	for range 20 {
		out, err = exec.Command(tool, args...).CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("lock")) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}

// Command returns a command that runs as the user id (its groups, no
// others), with a minimal environment (HOME, USER, PATH) plus env.
func Command(id supervisor.Identity, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: id.Groups}}
	cmd.Env = append([]string{"HOME=" + id.Home, "USER=" + id.Name, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cmd.Dir = "/"
	return cmd
}

// SystemDir returns a new directory owned by root, mode 0755, that only
// root can change and every user can enter (t.TempDir's are 0700), and
// removes it when the test ends.
func SystemDir(t testing.TB) string {
	t.Helper()
	NeedRoot(t)
	d, err := os.MkdirTemp("", "leviathan-sys-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
