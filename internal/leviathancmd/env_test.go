package leviathancmd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/api"
)

// runWithEnv runs the CLI in-process with env as its whole environment.
func runWithEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Env{Stdout: &out, Stderr: &errOut, Args: args, Getenv: func(k string) string { return env[k] }}.Execute(context.Background())
	t.Logf("leviathan %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// TestWorkerInjectedEnvironment: the board and the flags read the
// environment Env.Getenv gives, not the process's.
func TestWorkerInjectedEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		out  string // in stdout
		errs string // in stderr
	}{
		{"a board", map[string]string{"POWER": "dummy"}, nil, 0, "POWER=dummy (state off)", ""},
		{"a board missing a variable", map[string]string{"POWER": "tasmota"}, nil, ExitError, "", "POWER_URL is required"},
		{"a board with a bad value", map[string]string{"POWER": "dummy", "SD_MUX": "blockdev", "SD_MUX_DEVICE": "/dev/x", "SD_MUX_TIMEOUT": "soon"}, nil, ExitError, "", `SD_MUX_TIMEOUT="soon" is not a duration`},
		{"a bad flag variable", map[string]string{"POWER": "dummy", envQEMUMemory: "lots"}, nil, ExitUsage, "", `QEMU_MEMORY="lots" (for --memory) is not an integer`},
		{"a flag beats its variable", map[string]string{"POWER": "dummy", envQEMUMemory: "lots"}, []string{"--memory", "256"}, 0, "POWER=dummy", ""},
		{"a procedure from its variable", map[string]string{"POWER": "dummy", "DEVICE_TYPE": "intel-nuc"}, nil, ExitUsage, "", "--device-type intel-nuc: without --procedure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"worker", "--check", "--state-dir", t.TempDir()}, tc.args...)
			code, out, errs := runWithEnv(t, tc.env, args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.errs) {
				t.Errorf("exit %d, want %d; stdout %q, want %q; stderr %q, want %q", code, tc.code, out, tc.out, errs, tc.errs)
			}
		})
	}
}

// TestFlagsNameTheirVariables: --help names each flag's variable and never
// prints its value (the token).
func TestFlagsNameTheirVariables(t *testing.T) {
	env := map[string]string{api.EnvWorkerToken: "s3cret", api.EnvWorkerURL: "http://w"}
	for cmd, vars := range map[string][]string{
		"worker": {api.EnvWorkerListen, api.EnvWorkerToken, api.EnvTestrunnerImage, envQEMUMemory, envQEMUCPUs, envQEMUIsolated, "PROCEDURE", "DEVICE_TYPE"},
		"run":    {api.EnvWorkerURL, api.EnvWorkerToken, envQEMUMemory, envQEMUCPUs},
	} {
		code, _, errs := runWithEnv(t, env, cmd, "-h")
		if code != 0 {
			t.Errorf("%s -h: exit %d", cmd, code)
		}
		for _, v := range vars {
			if !strings.Contains(errs, "[$"+v+"]") {
				t.Errorf("%s -h does not name $%s:\n%s", cmd, v, errs)
			}
		}
		if strings.Contains(errs, "s3cret") {
			t.Errorf("%s -h prints the token:\n%s", cmd, errs)
		}
	}
}
