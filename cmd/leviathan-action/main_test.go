package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/suites/gotest"
)

// secrets are the planted credentials; each holds the marker, but the
// App key, which must be a real key, is found by a line of its body.
type secrets struct {
	marker                                   string
	token, key, runtime, idToken, worker, gh string
	keyLine                                  string
	public                                   *rsa.PublicKey
}

func plant(t *testing.T) secrets {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	m := "planted-" + hex.EncodeToString(b)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"scp":"Actions.GenericRead Actions.Results:run-1:job-2"}`))
	return secrets{
		marker: m, key: key, keyLine: strings.Split(key, "\n")[3], public: &k.PublicKey,
		token:   "ghs_" + m + "_input",
		runtime: "e30." + claims + "." + m + "_runtime",
		idToken: m + "_oidc",
		worker:  m + "_worker",
		gh:      "ghs_" + m + "_env",
	}
}

// build compiles the command with its test hook, and the probe suite
// (testdata/probe) with its needles beside it.
func build(t *testing.T, s secrets) (bin, probe string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin = filepath.Join(dir, "leviathan-action")
	out, err := exec.CommandContext(ctx, "go", "build", "-tags", "leviathan_probe", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	suite, err := gotest.Build(ctx, filepath.Join("testdata", "probe"), dir)
	if err != nil {
		t.Fatal(err)
	}
	needles := s.marker + "\n" + s.keyLine + "\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(suite.Binary), "needles"), []byte(needles), 0o644); err != nil {
		t.Fatal(err)
	}
	return bin, suite.Binary
}

// step is one run of the command as the composite action's last step
// runs it, its environment holding the planted secrets.
type step struct {
	code, pid      int
	stdout, stderr string
	findings       string
	gh             *githubtest.Server
}

func runStep(t *testing.T, bin, probe string, s secrets, extra ...string) step {
	t.Helper()
	gh := githubtest.NewServer(t, githubtest.WithApp(githubtest.App{ID: 7, InstallationID: 70, PublicKey: s.public}))
	dir := t.TempDir()
	os.Remove(filepath.Join(filepath.Dir(probe), "findings"))
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=balena-os/balena-raspberrypi",
		"GITHUB_SHA=0123456789abcdef0123456789abcdef01234567", "GITHUB_REF=refs/heads/main",
		"GITHUB_RUN_ID=4242", "GITHUB_JOB=test", "GITHUB_EVENT_NAME=push",
		"GITHUB_SERVER_URL=https://github.com", "GITHUB_API_URL=" + gh.URL,
		"GITHUB_WORKSPACE=" + dir, "RUNNER_TEMP=" + dir,
		"GITHUB_OUTPUT=" + filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"),
		"INPUT_MODE=test", "INPUT_ARTIFACT=leviathan-image", "INPUT_DEVICE_TYPE=qemu-x86_64",
		"INPUT_WORKER_URL=http://127.0.0.1:9", "INPUT_CHECK_NAME=leviathan / {suite} / {device-type}",
		"INPUT_APP_ID=7", "INPUT_APP_INSTALLATION_ID=70",
		"INPUT_GITHUB_TOKEN=" + s.token, "INPUT_APP_PRIVATE_KEY=" + s.key,
		"ACTIONS_RUNTIME_TOKEN=" + s.runtime, "ACTIONS_RESULTS_URL=http://127.0.0.1:9/",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + s.idToken, "GITHUB_TOKEN=" + s.gh,
		"LEVIATHAN_WORKER_TOKEN=" + s.worker, "LEVIATHAN_ACTION_TEST_PROBE=" + probe,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(env, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	st := step{code: cmd.ProcessState.ExitCode(), pid: cmd.Process.Pid, stdout: stdout.String(), stderr: stderr.String(), gh: gh}
	if err != nil && st.code <= 0 {
		t.Fatal(err)
	}
	f, _ := os.ReadFile(filepath.Join(filepath.Dir(probe), "findings"))
	st.findings = string(f)
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s\nprobe findings:\n%s", st.code, st.stdout, st.stderr, st.findings)
	return st
}

// TestSuiteCannotReadSecrets runs the command in test mode with a probe as
// its suite, started as suites are in direct mode. The probe scans every
// environ and cmdline of its user: with the secrets sealed it finds none,
// while the command still used each (masks, the App's check run, the
// runtime token's scope, the worker token's hash); with sealing off, it
// finds them in the command's environment.
func TestSuiteCannotReadSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped with -short")
	}
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc:", err)
	}
	s := plant(t)
	bin, probe := build(t, s)

	t.Run("sealed", func(t *testing.T) {
		st := runStep(t, bin, probe, s)
		// The probe read the action's environ, and ps still shows the
		// action's name after the re-exec.
		read := fmt.Sprintf("scanned %d (leviathan-actio): environ read true", st.pid)
		if st.code != 0 || strings.Contains(st.findings, "FOUND") || !strings.Contains(st.findings, read) {
			t.Fatalf("exit %d, findings %q: want 0, nothing found and %q", st.code, st.findings, read)
		}
		worker := sha256.Sum256([]byte(s.worker))
		for _, want := range []string{
			"::add-mask::" + s.token, "::add-mask::" + s.worker, "::add-mask::" + s.keyLine,
			fmt.Sprintf("probe: worker token sha256:%x", worker),
			"probe: runtime token scoped to run-1/job-2",
		} {
			if !strings.Contains(st.stdout, want) {
				t.Errorf("stdout lacks %q: the action did not receive the secret", want)
			}
		}
		runs := st.gh.CheckRuns()
		if len(runs) != 1 || runs[0].Conclusion != "success" {
			t.Errorf("check runs %+v: want one, successful, created with the App key", runs)
		}
	})

	t.Run("unsealed", func(t *testing.T) {
		st := runStep(t, bin, probe, s, "LEVIATHAN_SEALENV=off")
		environ := fmt.Sprintf(" in /proc/%d/environ (leviathan-actio)\n", st.pid)
		if st.code != 1 || !strings.Contains(st.findings, "FOUND needle 0"+environ) || !strings.Contains(st.findings, "FOUND needle 1"+environ) {
			t.Fatalf("exit %d, findings %q: want the probe to find the secrets and the tests failed (1)", st.code, st.findings)
		}
		if !strings.Contains(st.stderr, "secrets left in the environment") {
			t.Errorf("no warning that sealing is off")
		}
	})

	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"too large", []string{"GITHUB_TOKEN=" + strings.Repeat(s.marker, 3000)}, "sealenv: secrets too large"},
		{"bogus descriptor", []string{"LEVIATHAN_SEALENV_FD=0"}, "sealenv: LEVIATHAN_SEALENV_FD"},
	} {
		// The command must stop rather than run on with the secrets in
		// its environment.
		t.Run(tc.name, func(t *testing.T) {
			st := runStep(t, bin, probe, s, tc.extra...)
			if st.code != 3 || !strings.Contains(st.stdout, "::error::leviathan-action: "+tc.want) {
				t.Errorf("exit %d: want 3 and an ::error:: with %q", st.code, tc.want)
			}
			if strings.Contains(st.stdout+st.stderr, s.marker) || st.findings != "" {
				t.Errorf("a secret printed, or the probe ran")
			}
		})
	}
}
