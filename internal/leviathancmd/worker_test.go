package leviathancmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkerCheck(t *testing.T) {
	for _, v := range []string{"POWER", "SD_MUX", "SERIAL", "NETWORK", "VIDEO", "KEYBOARD", "DIGITAL_RELAY"} {
		t.Setenv(v, "")
	}
	t.Setenv("POWER", "dummy")
	code, out, _ := runCLI(t, context.Background(), "worker", "--check", "--state-dir", t.TempDir())
	if code != 0 || !strings.Contains(out, "POWER=dummy (state off)") || !strings.Contains(out, "ok") {
		t.Errorf("worker --check with POWER=dummy: exit %d\n%s", code, out)
	}
	t.Setenv("POWER", "zap")
	code, _, errs := runCLI(t, context.Background(), "worker", "--check", "--state-dir", t.TempDir())
	if code != ExitError || !strings.Contains(errs, `unknown POWER="zap"`) || !strings.Contains(errs, "tasmota") {
		t.Errorf("worker --check with an unknown driver: exit %d\n%s", code, errs)
	}
	t.Setenv("POWER", "tasmota") // POWER_URL missing
	code, _, errs = runCLI(t, context.Background(), "worker", "--check", "--state-dir", t.TempDir())
	if code != ExitError || !strings.Contains(errs, "POWER_URL") {
		t.Errorf("worker --check without POWER_URL: exit %d\n%s", code, errs)
	}
}

func TestWorkerCheckProcedure(t *testing.T) {
	for _, v := range []string{"POWER", "SD_MUX", "SERIAL", "NETWORK", "VIDEO", "KEYBOARD", "DIGITAL_RELAY", "PROCEDURE", "DEVICE_TYPE"} {
		t.Setenv(v, "")
	}
	t.Setenv("POWER", "dummy")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nuc.yaml"), []byte("device-types: [intel-nuc]\nprocedure: flasher\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, context.Background(), "worker", "--check", "--state-dir", t.TempDir(), "--procedure", dir, "--device-type", "intel-nuc")
	if code != 0 || !strings.Contains(out, "flasher ("+filepath.Join(dir, "nuc.yaml")+"): power-off, flash, power-on, wait-power-down, power-off, mux-host") {
		t.Errorf("worker --check with a procedure: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--procedure", dir}, "name the board's device type"},
		{[]string{"--procedure", dir, "--device-type", "rpi"}, `no procedure for device type "rpi"; known: intel-nuc`},
		{[]string{"--device-type", "intel-nuc"}, "without --procedure"},
	} {
		code, _, errs := runCLI(t, context.Background(), append([]string{"worker", "--check", "--state-dir", t.TempDir()}, tc.args...)...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("worker %v: exit %d\n%s; want an error containing %q", tc.args, code, errs, tc.want)
		}
	}
}
