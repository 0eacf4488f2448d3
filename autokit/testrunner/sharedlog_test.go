package testrunner

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/internal/ghlog"
	"github.com/balena/leviathan-action/internal/ghlog/ghlogtest"
	"github.com/balena/leviathan-action/internal/syncio"
)

// TestRunSharedLog runs the test program as the action's test mode does:
// its stdout and stderr into one ghlog.Writer, grouped.
func TestRunSharedLog(t *testing.T) {
	cli := engine(t)
	s := runSpec(t, cli, "report", "1")
	var out syncio.Buffer
	log := ghlog.New(&out)
	s.Stdout, s.Stderr, s.GroupTests = log, log, true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := Run(ctx, cli, s); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("log:\n%s", out.String())
	l := ghlogtest.Parse(out.String())
	want := []string{"group::demo/TestA", "endgroup::", "group::demo/TestB", "endgroup::"}
	if got := l.Effective(); !slices.Equal(got, want) || l.Stopped {
		t.Errorf("the runner would process %q (stopped at the end: %v); want %q", got, l.Stopped, want)
	}
	for _, want := range []string{"\n::warning::injected\n", "\nto stderr\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}
