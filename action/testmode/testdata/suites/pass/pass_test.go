// Package pass is a fixture suite for package testmode's tests: it needs
// no OS on the DUT, only the worker.
package pass

import (
	"os"
	"testing"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
)

func TestDUTPoweredOn(t *testing.T) {
	c, err := client.New(os.Getenv("LEVIATHAN_WORKER_URL"), client.WithToken(os.Getenv("LEVIATHAN_WORKER_TOKEN")))
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.PowerState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st != dut.PowerOn {
		t.Fatalf("power state %q, want on", st)
	}
	if os.Getenv("LEVIATHAN_LEASE") == "" {
		t.Fatal("no LEVIATHAN_LEASE")
	}
}

func TestSettings(t *testing.T) {
	if got := os.Getenv("SUITE_SETTING"); got != "on" {
		t.Errorf("SUITE_SETTING = %q, want on", got)
	}
	if got := os.Getenv("SUITE_NOT_ALLOWED"); got != "" {
		t.Errorf("SUITE_NOT_ALLOWED = %q reached the suite", got)
	}
}

func TestSkipped(t *testing.T) {
	t.Skip("skips, to be counted")
}
