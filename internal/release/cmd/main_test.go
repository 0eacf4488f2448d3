package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestRunRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: release build|verify|push"},
		{[]string{"publish"}, `unknown subcommand "publish"`},
		{[]string{"push", "-o", t.TempDir()}, "no repository to push the testrunner image to"},
		{[]string{"verify", "-o", t.TempDir()}, "SHA256SUMS"},
		{[]string{"build", "-o", t.TempDir(), "-version", "1.2"}, `"1.2" is not vMAJOR.MINOR.PATCH`},
	} {
		err := run(context.Background(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
