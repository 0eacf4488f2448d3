package sealenv

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestEncodeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
	}{
		{"none", map[string]string{}},
		{"one", map[string]string{"INPUT_GITHUB_TOKEN": "ghs_abc"}},
		{"empty value", map[string]string{"A": ""}},
		{"equals in value", map[string]string{"A": "x=y=="}},
		{"hyphenated name", map[string]string{"INPUT_GITHUB-TOKEN": "t"}},
		{"pem", map[string]string{"INPUT_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\r\nabc\n-----END RSA PRIVATE KEY-----\n"}},
		{"not utf-8", map[string]string{"B": "\xff\xfe\x80 tail", "C": "é"}},
		{"large", map[string]string{"D": strings.Repeat("x", 50<<10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encode(tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.vars) {
				t.Errorf("decode(encode(%q)) = %q", tc.vars, got)
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"NUL in value", map[string]string{"TOKEN": "a\x00b"}, "TOKEN holds a NUL"},
		{"= in name", map[string]string{"A=B": "v"}, `variable name "A=B"`},
		{"empty name", map[string]string{"": "v"}, `variable name ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := encode(tc.vars)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrMalformed with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "a\x00b") {
				t.Errorf("the error quotes the value: %v", err)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := encode(map[string]string{"A": "1", "B": "2"})
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(good) {
		if _, err := decode(good[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("decode of the first %d of %d bytes: %v, want ErrMalformed", n, len(good), err)
		}
	}
	for _, tc := range []struct {
		name, payload, want string
	}{
		{"no header", "A=1\x00\x00", "header"},
		{"other version", "sealenv/2\x00A=1\x00\x00", "header"},
		{"after the end", header + "A=1\x00\x00B=2\x00\x00", "after the end"},
		{"no equals", header + "A\x00\x00", "entry 1 is not NAME=VALUE"},
		{"empty name", header + "=v\x00\x00", "entry 1 is not NAME=VALUE"},
		{"twice", header + "A=1\x00A=2\x00\x00", "A given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode([]byte(tc.payload))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want ErrMalformed with %q", err, tc.want)
			}
		})
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	d, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(d)
}

func TestSealRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		exe   string
		is    error
		want  string
	}{
		{"too large", strings.Repeat("k", MaxSize), filepath.Join(t.TempDir(), "never-run"), ErrTooLarge, "at most 61440 pass"},
		{"exec fails", "s3cr3t", filepath.Join(t.TempDir(), "missing"), syscall.ENOENT, "re-executing"},
		{"not executable", "s3cr3t", os.DevNull, syscall.EACCES, "without SEALENV_TEST_SECRET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SEALENV_TEST_SECRET", tc.value)
			before := openFDs(t)
			env, err := Seal(Options{Names: []string{"SEALENV_TEST_SECRET"}, Executable: tc.exe})
			if env != nil || !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Seal = %v, %v; want an error %v with %q", env, err, tc.is, tc.want)
			}
			if strings.Contains(err.Error(), tc.value) {
				t.Errorf("the error quotes the secret: %v", err)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open after the failed Seal, %d before", after, before)
			}
		})
	}
}

func TestSealNothingOrOff(t *testing.T) {
	t.Setenv("SEALENV_TEST_PLAIN", "plain")
	env, err := Seal(Options{Names: []string{"SEALENV_TEST_UNSET"}, Executable: "/nonexistent"})
	if err != nil || len(env.Sealed()) != 0 || env.Getenv("SEALENV_TEST_PLAIN") != "plain" {
		t.Fatalf("nothing to seal: %v, %v", env, err)
	}
	t.Setenv("SEALENV_TEST_SECRET", "s3cr3t")
	t.Setenv(OffVar, "off")
	var log bytes.Buffer
	env, err = Seal(Options{Names: []string{"SEALENV_TEST_SECRET"}, Executable: "/nonexistent", Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil || env.Getenv("SEALENV_TEST_SECRET") != "s3cr3t" {
		t.Fatalf("off: %v, %v", env, err)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "SEALENV_TEST_SECRET") || strings.Contains(log.String(), "s3cr3t") {
		t.Errorf("off: log %q, want a warning naming the variable, not its value", log.String())
	}
}

func TestReceiveRefuses(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	pipeWith := func(t *testing.T, data string, closeWriter bool) string {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(data)
		if closeWriter {
			w.Close()
		} else {
			t.Cleanup(func() { w.Close() })
		}
		// receive closes the descriptor: hand it a duplicate.
		fd, err := syscall.Dup(int(r.Fd()))
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(fd)
	}
	for _, tc := range []struct {
		name string
		fd   func(t *testing.T) string
		is   error
		want string
	}{
		{"not a number", func(*testing.T) string { return "three" }, nil, "want a descriptor number"},
		{"stdin", func(*testing.T) string { return "0" }, nil, "want a descriptor number"},
		{"closed", func(*testing.T) string { return "987" }, syscall.EBADF, "=987"},
		{"a file", func(t *testing.T) string {
			fd, err := syscall.Dup(int(file.Fd()))
			if err != nil {
				t.Fatal(err)
			}
			return strconv.Itoa(fd)
		}, nil, "not a pipe"},
		{"writer left open", func(t *testing.T) string { return pipeWith(t, "sealenv/1\x00", false) }, nil, "still has a writer"},
		{"garbage", func(t *testing.T) string { return pipeWith(t, "A=1\x00\x00", true) }, ErrMalformed, "header"},
		{"too much", func(t *testing.T) string { return pipeWith(t, strings.Repeat("x", MaxSize+1), true) }, ErrTooLarge, "more than"},
		{"still in the environment", func(t *testing.T) string {
			t.Setenv("SEALENV_TEST_SECRET", "s3cr3t")
			return pipeWith(t, header+"SEALENV_TEST_SECRET=s3cr3t\x00\x00", true)
		}, nil, "SEALENV_TEST_SECRET is in the environment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(FDVar, tc.fd(t))
			env, err := Seal(Options{})
			if env != nil || err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("Seal = %v, %v; want an error %v with %q", env, err, tc.is, tc.want)
			}
		})
	}
}

// TestHelperSeal is the process TestReexec starts: it seals, re-executes
// (this test binary, with the same arguments, so this test runs again)
// and reports what the new image sees.
func TestHelperSeal(t *testing.T) {
	if os.Getenv("SEALENV_HELPER") != "1" {
		t.Skip("run by TestReexec")
	}
	fdVar, reexecuted := os.LookupEnv(FDVar)
	if !reexecuted {
		os.Stdout.WriteString("before pid=" + strconv.Itoa(os.Getpid()) + "\n")
	}
	names := []string{"SEALENV_A", "SEALENV_B", "SEALENV_EMPTY", "SEALENV_UNSET"}
	env, err := Seal(Options{Names: names, Log: slog.New(slog.NewTextHandler(os.Stdout, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// The number may have been reused (by the runtime's poller), but not
	// by a pipe.
	fd := "closed"
	if l, err := os.Readlink("/proc/self/fd/" + fdVar); err == nil && strings.HasPrefix(l, "pipe:") {
		fd = "open"
	}
	raw, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	w.WriteString("after pid=" + strconv.Itoa(os.Getpid()) + "\n")
	w.WriteString("sealed=" + strings.Join(env.Sealed(), ",") + "\n")
	for _, n := range names {
		w.WriteString("getenv " + n + "=" + strconv.Quote(env.Getenv(n)) + " os=" + strconv.Quote(os.Getenv(n)) + "\n")
	}
	w.WriteString("environ holds A=" + strconv.FormatBool(bytes.Contains(raw, []byte(os.Getenv("SEALENV_NEEDLE")+"A"))) + "\n")
	w.WriteString("pipe " + fd + "\n")
	comm, _ := os.ReadFile("/proc/self/comm")
	w.WriteString("comm " + string(comm))
	w.WriteString("os.Environ has fd var=" + strconv.FormatBool(strings.Contains(strings.Join(os.Environ(), "\n"), FDVar)) + "\n")
}

func TestReexec(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc:", err)
	}
	// The needle is split so that the helper's own SEALENV_NEEDLE does
	// not match: the secret is needle+"A".
	needle := "sealed-" + strconv.Itoa(os.Getpid()) + "-"
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSeal$", "-test.v")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SEALENV_HELPER=1", "SEALENV_NEEDLE=" + needle,
		"SEALENV_A=" + needle + "A", "SEALENV_B=line1\nline2=\xff", "SEALENV_EMPTY=", "KEEP=kept"}
	out, err := cmd.CombinedOutput()
	t.Logf("helper:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"before pid=" + strconv.Itoa(cmd.Process.Pid) + "\n",
		"after pid=" + strconv.Itoa(cmd.Process.Pid) + "\n",
		"sealed=SEALENV_A,SEALENV_B\n",
		`getenv SEALENV_A="` + needle + `A" os=""` + "\n",
		`getenv SEALENV_B="line1\nline2=\xff" os=""` + "\n",
		`getenv SEALENV_EMPTY="" os=""` + "\n",
		"environ holds A=false\n",
		"os.Environ has fd var=false\n",
		"pipe closed\n",
		"comm " + filepath.Base(os.Args[0]) + "\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("helper output lacks %q", want)
		}
	}
}

func TestWarnPtrace(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		warn          bool
	}{
		{"0", "0\n", true},
		{"1", "1\n", false},
		{"2", "2\n", false},
		{"missing", "", true},
		{"garbage", "x\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if tc.content != "" {
				if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			warnPtrace(slog.New(slog.NewTextHandler(&log, nil)), p)
			if got := strings.Contains(log.String(), "level=WARN"); got != tc.warn {
				t.Errorf("ptrace_scope %q: warned %v, want %v; log %q", tc.content, got, tc.warn, log.String())
			}
		})
	}
}

func TestOffIgnoresDescriptor(t *testing.T) {
	t.Setenv(OffVar, "off")
	t.Setenv(FDVar, "0")
	if env, err := Seal(Options{}); err != nil || env == nil {
		t.Fatalf("Seal = %v, %v: want the environment as it is", env, err)
	}
}
