package testmode_test

import (
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/testmode"
	"github.com/balena/leviathan-action/internal/ghlog/ghlogtest"
)

// TestHostileSuite: in direct mode nothing a suite prints issues a
// workflow command, and the action's own lines stay where commands work.
func TestHostileSuite(t *testing.T) {
	b := newBot(t, true)
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img", gptImage())})
	o.Suites = []string{"./testdata/suites/hostile"}
	res, err := testmode.Run(t.Context(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Passed != 1 || res.Failed != 1 {
		t.Errorf("result %+v", res)
	}
	log := out.String()
	t.Logf("log:\n%s", log)
	l := ghlogtest.Parse(log)
	if got := l.Effective(); len(got) != 0 || l.Stopped {
		t.Errorf("the runner would process %q (stopped at the end: %v)", got, l.Stopped)
	}
	if len(l.Tokens()) == 0 {
		t.Fatal("the suite's output is not in a stopped region")
	}
	first := strings.Index(log, "::stop-commands::")
	last := strings.LastIndex(log, "::"+l.Tokens()[len(l.Tokens())-1]+"::")
	for _, trusted := range []string{"compiling suite", "booting the DUT", "DUT online"} {
		if i := strings.Index(log, trusted); i < 0 || i > first {
			t.Errorf("%q is not before the stopped region", trusted)
		}
	}
	if i := strings.Index(log, "1 passed, 1 failed, 0 skipped"); i < last {
		t.Errorf("the summary is not after the stopped region")
	}
	if !strings.Contains(log, "::warning::from a passing test") && !strings.Contains(log, "::error::fatal") {
		t.Errorf("the suite's output is not in the log")
	}
}
