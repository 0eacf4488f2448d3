package sdkfixture

import (
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/suites/sdk"
)

func TestExecThroughWorker(t *testing.T) {
	d := sdk.Get(t)
	if got := d.Run(t, "echo hello from the DUT"); got != "hello from the DUT" {
		t.Fatalf("Run = %q", got)
	}
	r, err := d.Exec(t.Context(), "echo oops >&2; exit 4")
	if err != nil || r.ExitCode != 4 || r.Stderr != "oops\n" {
		t.Fatalf("Exec = %+v, %v", r, err)
	}
}

func TestConsoleExpect(t *testing.T) {
	d := sdk.Get(t)
	if got := d.Expect(t, 0, `fake boot \d+`, 5*time.Second); got != "fake boot 1" {
		t.Fatalf("Expect = %q", got)
	}
}

func TestRelaySkipsWithReason(t *testing.T) {
	d := sdk.Get(t)
	d.Require(t, dut.CapRelay)
	t.Fatal("the fake DUT has no relay; Require must have skipped")
}
