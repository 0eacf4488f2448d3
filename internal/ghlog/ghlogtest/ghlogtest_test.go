package ghlogtest_test

import (
	"slices"
	"testing"

	"github.com/balena/leviathan-action/internal/ghlog/ghlogtest"
)

// TestParse checks the model on output whose meaning GitHub documents.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		output  string
		want    []string // Log.Effective
		stopped bool
	}{
		{"plain text", "hello\n:: not a command\n", nil, false},
		{"commands", "::warning::w\n::group::g\n::endgroup::\n", []string{"warning::w", "group::g", "endgroup::"}, false},
		{"leading whitespace is trimmed", "   ::error::a\n\t::set-output name=o::v\n\u00a0::debug::d\n", []string{"error::a", "set-output::v", "debug::d"}, false},
		{"lone CR ends a line", "50%\r::warning::w", []string{"warning::w"}, false},
		{"CRLF", "::warning::a\r\n::warning::b\r\n", []string{"warning::a", "warning::b"}, false},
		{"legacy form anywhere", "x ##[error]e\n", []string{"error::e"}, false},
		{"escaped data", "::error::a%0Ab\n", []string{"error::a\nb"}, false},
		{"stopped", "::stop-commands::T1\n::warning::w\n::group::g\n::add-mask::m\n", nil, true},
		{"resumed", "::stop-commands::T1\n::warning::w\n::T1::\n::warning::v\n", []string{"warning::v"}, false},
		{"resumed, token case ignored", "::stop-commands::T1\n::t1::\n::warning::v\n", []string{"warning::v"}, false},
		{"resumed with leading space", "::stop-commands::T1\n  ::T1::\n::warning::v\n", []string{"warning::v"}, false},
		{"wrong token", "::stop-commands::T1\n::T2::\n::stop-commands::T2\n::T2::\n::warning::w\n", nil, true},
		{"nested stop is ignored", "::stop-commands::T1\n::stop-commands::T2\n::T2::\n::warning::w\n::T1::\n", nil, false},
		{"empty token never resumes", "::stop-commands::\n::::\n::warning::w\n", nil, true},
		{"resume not at line start", "::stop-commands::T1\nx::T1::\n::warning::w\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ghlogtest.Parse(tc.output)
			if got := l.Effective(); !slices.Equal(got, tc.want) {
				t.Errorf("commands %q, want %q", got, tc.want)
			}
			if l.Stopped != tc.stopped {
				t.Errorf("stopped at the end = %v, want %v", l.Stopped, tc.stopped)
			}
		})
	}
}

func TestLines(t *testing.T) {
	got := ghlogtest.Lines("a\nb\r\nc\rd\n\ne")
	want := []string{"a", "b", "c", "d", "", "e"}
	if !slices.Equal(got, want) {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}

// TestHostileIsHostile: on its own, every hostile line issues a command,
// so a filter that lets one through fails the tests that use them.
func TestHostileIsHostile(t *testing.T) {
	for _, line := range ghlogtest.Hostile {
		if l := ghlogtest.Parse(line + "\n"); len(l.Commands) == 0 {
			t.Errorf("%q issues no command", line)
		}
	}
}
