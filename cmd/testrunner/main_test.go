package main

import (
	"context"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/api"
)

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stderr
	}{
		{"help", nil, []string{"-h"}, 0, "[$" + api.EnvWorkerURL + "]"},
		{"no worker", nil, []string{"os.test"}, 2, "usage: testrunner --worker URL"},
		{"no suite", map[string]string{api.EnvWorkerURL: "http://127.0.0.1:1"}, nil, 2, "usage: testrunner --worker URL"},
		{"bad flag", nil, []string{"--nope"}, 2, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs strings.Builder
			code := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out, &errs)
			if code != tc.code || !strings.Contains(errs.String(), tc.want) {
				t.Errorf("run(%v) = %d\n%s\nwant %d and %q", tc.args, code, errs.String(), tc.code, tc.want)
			}
			if strings.Contains(errs.String(), "127.0.0.1:1") {
				t.Errorf("usage shows a variable's value:\n%s", errs.String())
			}
		})
	}
}
