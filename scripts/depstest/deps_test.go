package depstest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// stubs are the commands deps.sh may run, as bash scripts using builtins
// only. Each logs its call to $STUB_LOG.
var stubs = map[string]string{
	// dpkg-query -W -f=FORMAT PKG…: "PKG ii " for $STUB_INSTALLED, "PKG rc "
	// (removed, configuration left) for $STUB_REMOVED, and for the rest
	// dpkg-query's complaint on stderr and exit status 1.
	"dpkg-query": `echo "dpkg-query $*" >>"$STUB_LOG"
rc=0
for a in "$@"; do
	case "$a" in -*) continue ;; esac
	if [[ " $STUB_INSTALLED " == *" $a "* ]]; then
		echo "$a ii "
	elif [[ " $STUB_REMOVED " == *" $a "* ]]; then
		echo "$a rc "
	else
		echo "dpkg-query: no packages found matching $a" >&2
		rc=1
	fi
done
exit $rc
`,
	// apt-get: logs its arguments and DEBIAN_FRONTEND; with $STUB_APT_FAIL
	// set, "install" prints an error and fails as apt-get does.
	"apt-get": `echo "apt-get $* (DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-})" >>"$STUB_LOG"
if [ -n "${STUB_APT_FAIL:-}" ] && [ "$1" = install ]; then
	echo "E: Unable to locate package $STUB_APT_FAIL"
	exit 100
fi
`,
	// sudo -n true succeeds when $STUB_SUDO is "ok"; sudo -n env VAR=… CMD
	// runs CMD with VAR set, as root would.
	"sudo": `echo "sudo $*" >>"$STUB_LOG"
[ "$1" = -n ] && shift
if [ "$1" = true ]; then
	[ "${STUB_SUDO:-}" = ok ] && exit 0
	echo "sudo: a password is required" >&2
	exit 1
fi
[ "${STUB_SUDO:-}" = ok ] || exit 1
if [ "$1" = env ]; then
	shift
	while [[ "$1" == *=* ]]; do export "$1"; shift; done
fi
exec "$@"
`,
	// id -u prints $STUB_UID.
	"id": `echo "id $*" >>"$STUB_LOG"
echo "$STUB_UID"
`,
}

// Package sets as deps.sh names them.
const (
	demoPkgs = "qemu-system-x86 ovmf ca-certificates"
	testPkgs = demoPkgs + " openssh-client dosfstools cpio bmap-tools xz-utils dnsmasq-base busybox iproute2 nftables iptables ffmpeg avahi-daemon passwd chromium"
)

func TestDeps(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("deps.sh is a bash script and there is no bash here:", err)
	}
	script, err := filepath.Abs(filepath.Join("..", "deps.sh"))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"dpkg-query", "apt-get", "sudo", "id"}
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string // STUB_* and others
		stubs []string          // commands present; all four when nil
		exit  int
		// calls: the apt-get calls expected, in order ("" for none).
		calls string
		// stderr: a line the error output must hold.
		stderr string
	}{
		{name: "demo-nothing-missing", args: []string{"demo"},
			env: map[string]string{"STUB_INSTALLED": demoPkgs, "STUB_UID": "0"}},
		{name: "test-nothing-missing-user", args: []string{"test"},
			env: map[string]string{"STUB_INSTALLED": testPkgs, "STUB_UID": "1000"}},
		{name: "demo-missing-root", args: []string{"demo"},
			env: map[string]string{"STUB_INSTALLED": "ca-certificates", "STUB_REMOVED": "ovmf", "STUB_UID": "0"},
			calls: "apt-get update -qq (DEBIAN_FRONTEND=noninteractive)\n" +
				"apt-get install -y -qq --no-install-recommends qemu-system-x86 ovmf (DEBIAN_FRONTEND=noninteractive)"},
		{name: "test-missing-sudo", args: []string{"test"},
			env: map[string]string{"STUB_INSTALLED": demoPkgs + " openssh-client cpio busybox passwd", "STUB_UID": "1000", "STUB_SUDO": "ok"},
			calls: "apt-get update -qq (DEBIAN_FRONTEND=noninteractive)\n" +
				"apt-get install -y -qq --no-install-recommends dosfstools bmap-tools xz-utils dnsmasq-base iproute2 nftables iptables ffmpeg avahi-daemon chromium (DEBIAN_FRONTEND=noninteractive)"},
		{name: "demo-missing-no-sudo", args: []string{"demo"}, exit: 1,
			env:    map[string]string{"STUB_INSTALLED": "ca-certificates", "STUB_UID": "1000", "STUB_SUDO": "password"},
			stderr: "  sudo apt-get install -y qemu-system-x86 ovmf\n"},
		{name: "demo-missing-sudo-absent", args: []string{"demo"}, exit: 1,
			stubs:  []string{"dpkg-query", "apt-get", "id"},
			env:    map[string]string{"STUB_INSTALLED": "ovmf", "STUB_UID": "1000"},
			stderr: "  sudo apt-get install -y qemu-system-x86 ca-certificates\n"},
		{name: "test-no-apt-get", args: []string{"test"}, exit: 1,
			stubs:  []string{"sudo", "id"},
			env:    map[string]string{"STUB_UID": "0"},
			stderr: "no apt-get"},
		{name: "demo-install-fails", args: []string{"demo"}, exit: 1,
			env: map[string]string{"STUB_INSTALLED": "ca-certificates ovmf", "STUB_UID": "0", "STUB_APT_FAIL": "qemu-system-x86"},
			calls: "apt-get update -qq (DEBIAN_FRONTEND=noninteractive)\n" +
				"apt-get install -y -qq --no-install-recommends qemu-system-x86 (DEBIAN_FRONTEND=noninteractive)",
			stderr: "E: Unable to locate package qemu-system-x86"},
		{name: "skip", args: []string{"test"},
			env: map[string]string{"LEVIATHAN_SKIP_DEPS": "1", "STUB_UID": "0"}},
		{name: "unknown-set", args: []string{"bench"}, exit: 2, stderr: `unknown set "bench"`},
		{name: "no-set", exit: 2, stderr: "usage: scripts/deps.sh demo|test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			present := tc.stubs
			if present == nil {
				present = all
			}
			for _, name := range present {
				body := "#!" + bash + "\n" + stubs[name]
				if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			log := filepath.Join(dir, "calls.log")
			if err := os.WriteFile(log, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bash, append([]string{script}, tc.args...)...)
			// Nothing from the test's own environment: PATH holds the
			// stubs alone.
			cmd.Env = []string{"PATH=" + bin, "STUB_LOG=" + log, "LANG=C"}
			for k, v := range tc.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			exit := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("running %s: %v", script, err)
			}
			logged, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			calls := string(logged)

			if exit != tc.exit {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", exit, tc.exit, stderr.String())
			}
			var aptCalls []string
			for line := range strings.Lines(calls) {
				if strings.HasPrefix(line, "apt-get ") {
					aptCalls = append(aptCalls, strings.TrimSuffix(line, "\n"))
				}
			}
			if got := strings.Join(aptCalls, "\n"); got != tc.calls {
				t.Errorf("apt-get calls:\n%s\nwant:\n%s", got, tc.calls)
			}
			if tc.calls == "" && stdout.Len() > 0 {
				t.Errorf("printed %q though it installed nothing", stdout.String())
			}
			if tc.calls != "" && tc.exit == 0 && strings.Count(stdout.String(), "\n") != 1 {
				t.Errorf("printed %q; want one line saying what it installed", stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr does not hold %q:\n%s", tc.stderr, stderr.String())
			}
			if tc.exit == 0 && stderr.Len() > 0 {
				t.Errorf("stderr on success: %s", stderr.String())
			}

			got := fmt.Sprintf("$ scripts/deps.sh %s\nexit status %d\n-- calls --\n%s-- stdout --\n%s-- stderr --\n%s",
				strings.Join(tc.args, " "), exit, calls, stdout.String(), stderr.String())
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update ./scripts/depstest writes it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (go test -update ./scripts/depstest rewrites it):\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestMakefile checks that `make demo` and `make test` run the deps step
// first, and that make's help names the escape hatch.
func TestMakefile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := string(b)
	for _, tc := range []struct{ target, dep string }{
		{"demo", "deps-demo"},
		{"test", "deps-test"},
	} {
		re := regexp.MustCompile(`(?m)^` + tc.target + `:[^#\n]*\b` + tc.dep + `\b`)
		if !re.MatchString(mk) {
			t.Errorf("Makefile: %s does not depend on %s, so it does not install what it needs on a fresh machine", tc.target, tc.dep)
		}
	}
	for _, want := range []string{"scripts/deps.sh demo", "scripts/deps.sh test", "LEVIATHAN_SKIP_DEPS=1"} {
		if !strings.Contains(mk, want) {
			t.Errorf("Makefile does not mention %q", want)
		}
	}
}
