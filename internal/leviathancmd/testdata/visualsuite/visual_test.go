// Package visualsuite is a suite for the visual report's end-to-end test:
// a passing test with subtests, a screenshot the suite takes, and a test
// that prints a marker on the DUT's console and then fails.
package visualsuite

import (
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/suites/sdk"
)

func TestVisualPasses(t *testing.T) {
	d := sdk.Get(t)
	for _, cmd := range []string{"uname -s", "hostname"} {
		t.Run(cmd, func(t *testing.T) {
			if out := d.Run(t, cmd); out == "" {
				t.Errorf("%s printed nothing", cmd)
			}
		})
	}
}

func TestVisualSuiteScreenshot(t *testing.T) {
	d := sdk.Get(t)
	d.Require(t, dut.CapScreen)
	if _, err := d.Client.Screenshot(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestVisualFails(t *testing.T) {
	d := sdk.Get(t)
	d.Run(t, "echo leviathan-visual-failure-marker > /dev/console")
	t.Errorf("a deliberate failure, for the visual report's test")
}
