package cli

import (
	"context"
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
