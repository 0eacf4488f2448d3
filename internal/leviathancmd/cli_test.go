package leviathancmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Env{Stdout: &out, Stderr: &errOut, Args: args}.Execute(ctx)
	t.Logf("leviathan %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

func repoRoot(t *testing.T) string { return testenv.RepoRoot(t) }

func needQEMU(t *testing.T) { testenv.NeedQEMU(t) }

// testImage builds (or reuses) the test OS image.
func testImage(t *testing.T, panicVariant bool) string {
	t.Helper()
	build := filepath.Join(repoRoot(t), "build")
	m, err := testimage.Build(t.Context(), testimage.Options{
		CacheDir: filepath.Join(build, "cache", "debs"),
		OutDir:   filepath.Join(build, "testimage"),
		Panic:    panicVariant,
	})
	if err != nil {
		t.Fatalf("building the test image: %v", err)
	}
	return m.Image
}

func TestUsage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: leviathan <command>"},
		{[]string{"--help"}, 0, "commands:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run", "-h"}, 0, "-suite value"},
		{[]string{"run", "--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"run", "stray"}, 2, "unexpected arguments: stray"},
		{[]string{"flash", "--image", "x"}, 2, "both --image and --target are required"},
	} {
		code, out, errOut := runCLI(t, ctx, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("leviathan %v: exit %d, want %d and %q in the output", tc.args, code, tc.code, tc.want)
		}
	}
}

// TestRunBadInput: each bad input is named in the error, the exit code is
// non-zero and nothing is reported as passed.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	random := filepath.Join(dir, "random.img")
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = byte(i*7 + i/13)
	}
	os.WriteFile(random, b, 0o644)
	notTests := filepath.Join(dir, "notasuite")
	os.MkdirAll(notTests, 0o755)
	os.WriteFile(filepath.Join(notTests, "x.go"), []byte("package x\n"), 0o644)
	disk := make([]byte, 4096)
	disk[510], disk[511] = 0x55, 0xaa
	goodImg := filepath.Join(dir, "tiny.img")
	os.WriteFile(goodImg, disk, 0o644)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing image", []string{"--image", filepath.Join(dir, "nope.img")}, "nope.img: no such file or directory"},
		{"not a disk image", []string{"--image", random}, "not a disk image"},
		{"image is a directory", []string{"--image", dir}, "is a directory"},
		{"suite is not a test package", []string{"--image", goodImg, "--suite", notTests}, "is not a Go test package"},
		{"suite does not exist", []string{"--image", goodImg, "--suite", filepath.Join(dir, "nosuite")}, "no such file or directory"},
		{"unreachable worker", []string{"--image", goodImg, "--worker", "http://127.0.0.1:1", "--suite", filepath.Join(repoRoot(t), "suites", "os")}, "unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reports := t.TempDir()
			args := append([]string{"run", "--build-dir", t.TempDir(), "--reports", reports}, tc.args...)
			code, out, errOut := runCLI(t, t.Context(), args...)
			if code != ExitError {
				t.Fatalf("exit %d on bad input, want %d", code, ExitError)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr does not name the problem (%q)", tc.want)
			}
			if strings.Contains(out, "passed") {
				t.Errorf("something was reported as passed: %s", out)
			}
		})
	}
}

// TestRunFaultsOnQEMU: faults that need a real DUT — a truncated
// compressed image, a kernel that panics, a DUT already leased.
func TestRunFaultsOnQEMU(t *testing.T) {
	needQEMU(t)
	img := testImage(t, false)
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	truncated := filepath.Join(t.TempDir(), "truncated.img.gz")
	os.WriteFile(truncated, gz.Bytes()[:gz.Len()/2], 0o644)
	suite := filepath.Join(repoRoot(t), "suites", "os")

	t.Run("truncated gzip", func(t *testing.T) {
		code, out, errOut := runCLI(t, t.Context(), "run", "--build-dir", t.TempDir(), "--reports", t.TempDir(), "--image", truncated, "--suite", suite)
		if code != ExitError || !strings.Contains(errOut, "gzip stream") || strings.Contains(out, "DUT online") {
			t.Fatalf("exit %d; want a gzip stream error before any boot", code)
		}
	})

	t.Run("kernel panic", func(t *testing.T) {
		panicImg := testImage(t, true)
		start := time.Now()
		code, _, errOut := runCLI(t, t.Context(), "run", "--build-dir", t.TempDir(), "--reports", t.TempDir(), "--image", panicImg, "--suite", suite, "--boot-timeout", "2m")
		if code != ExitError || !strings.Contains(errOut, "Kernel panic") {
			t.Fatalf("exit %d; want a boot failure carrying the panic from the console", code)
		}
		if d := time.Since(start); d > 90*time.Second {
			t.Errorf("the panic took %s to report; it must not wait for the boot timeout", d)
		}
	})

	t.Run("empty disk", func(t *testing.T) {
		// A valid partition table with nothing bootable: the firmware
		// gives up, and so must the run, long before the boot timeout.
		empty := filepath.Join(t.TempDir(), "empty.img")
		os.WriteFile(empty, duttest.GPTImage(8<<20), 0o644)
		reports := t.TempDir()
		start := time.Now()
		code, _, errOut := runCLI(t, t.Context(), "run", "--build-dir", t.TempDir(), "--reports", reports, "--image", empty, "--suite", suite, "--boot-timeout", "3m")
		if code != ExitError || !strings.Contains(errOut, "failed to load") {
			t.Fatalf("exit %d; want %d and the firmware's complaint from the console", code, ExitError)
		}
		if d := time.Since(start); d > 90*time.Second {
			t.Errorf("took %s; it must not wait for the boot timeout", d)
		}
		b, _ := os.ReadFile(filepath.Join(reports, "summary.json"))
		if !strings.Contains(string(b), `"stage": "boot"`) {
			t.Errorf("summary.json does not name the failed stage: %s", b)
		}
		if b, _ := os.ReadFile(filepath.Join(reports, "serial.log")); !bytes.Contains(b, []byte("BdsDxe")) {
			t.Error("serial.log does not hold the firmware's output")
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		build := t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var out, errOut bytes.Buffer
		// Ctrl-C while the DUT boots.
		w := &triggerWriter{w: &out, when: "booting the DUT", then: func() { time.AfterFunc(2*time.Second, cancel) }}
		code := Env{Stdout: w, Stderr: &errOut, Args: []string{"run", "--build-dir", build, "--reports", t.TempDir(), "--image", img, "--suite", suite}}.Execute(ctx)
		t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		if code != ExitInterrupted || !strings.Contains(errOut.String(), "interrupted") {
			t.Fatalf("exit %d, want %d and an interrupted message", code, ExitInterrupted)
		}
		if left, _ := filepath.Glob(filepath.Join(build, "dut-*")); len(left) > 0 {
			t.Errorf("DUT directories left behind: %v", left)
		}
		if out, _ := exec.Command("pgrep", "-f", "qemu-system-x86_64 -name qemu-dut-.*"+build).Output(); len(out) > 0 {
			t.Errorf("QEMU still running: %s", out)
		}
	})

	t.Run("busy DUT", func(t *testing.T) {
		d, err := qemukit.New(qemukit.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		w, err := worker.New(d)
		if err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, w)
		other, _ := client.New(srv)
		if _, err := other.Lease(t.Context(), "another job", time.Minute); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, t.Context(), "run", "--build-dir", t.TempDir(), "--reports", t.TempDir(), "--worker", srv, "--image", img, "--suite", suite)
		if code != ExitError || !strings.Contains(errOut, "another job") || strings.Contains(out, "passed") {
			t.Fatalf("exit %d; want a refusal naming the lease holder", code)
		}
	})
}

// TestRunDemo is `make demo`: the test OS image on a QEMU DUT, suites/os,
// reports.
func TestRunDemo(t *testing.T) {
	needQEMU(t)
	testImage(t, false)
	reports := t.TempDir()
	code, out, _ := runCLI(t, t.Context(), "run", "--build-dir", filepath.Join(repoRoot(t), "build"), "--reports", reports, "--suite", filepath.Join(repoRoot(t), "suites", "os"))
	if code != 0 {
		t.Fatalf("leviathan run exited %d", code)
	}
	m := regexp.MustCompile(`(\d+) passed, (\d+) failed, (\d+) skipped`).FindStringSubmatch(out)
	if m == nil || m[2] != "0" {
		t.Fatalf("no clean result line in the output")
	}
	if n := atoi(m[1]); n < 10 {
		t.Errorf("%d tests passed, want at least 10", n)
	}
	b, err := os.ReadFile(filepath.Join(reports, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || len(doc.Suites) != 1 || doc.Suites[0].Tests < 10 || doc.Suites[0].Failures != 0 {
		t.Fatalf("junit.xml: %+v, %v", doc, err)
	}
	serial, _ := os.ReadFile(filepath.Join(reports, "serial.log"))
	if !bytes.Contains(serial, []byte("Leviathan test OS")) {
		t.Error("reports/serial.log lacks the boot banner")
	}
	if _, err := os.Stat(filepath.Join(reports, "summary.json")); err != nil {
		t.Error(err)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
