package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no workflow", []string{"-workdir", "."}, "-workflow is required"},
		{"no workdir", []string{"-workflow", "w.yml"}, "-workdir is required"},
		{"arguments", []string{"-workflow", "w.yml", "-workdir", ".", "extra"}, "unexpected arguments"},
		{"half an artifact server", []string{"-workflow", "w.yml", "-workdir", ".", "-artifact-dir", "d"}, "go together"},
		{"env not KEY=VALUE", []string{"-env", "NOVALUE"}, `"NOVALUE" is not KEY=VALUE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errb); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr %q, want %q", errb.String(), tc.want)
			}
		})
	}
}

// TestRun runs testdata/jobs.yml in host mode and checks the result line:
// each job's result, outputs, and exit 1 for the failed job.
func TestRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-workflow", "testdata/jobs.yml", "-workdir", t.TempDir(),
		"-cache-dir", t.TempDir(), "-env", "ACT_RUN_WORD=hello"}, &out, &errb)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 1 {
		t.Errorf("exit %d, want 1 (job second failed)", code)
	}
	var res Result
	_, line, ok := strings.Cut(out.String(), "act-run result: ")
	if !ok || json.Unmarshal([]byte(line), &res) != nil {
		t.Fatalf("no result line in %q", out.String())
	}
	for job, want := range map[string]string{"first": "success", "second": "failure", "third": "success"} {
		if got := res.Jobs[job].Result; got != want {
			t.Errorf("job %s: %q, want %q", job, got, want)
		}
	}
	if res.Jobs["first"].Outputs["word"] != "hello" || res.Jobs["first"].Seconds <= 0 {
		t.Errorf("job first: %+v, want output word=hello and a duration", res.Jobs["first"])
	}
	if !strings.Contains(out.String(), "[third]   | third saw hello") {
		t.Error("job third's output is not in the log as [third]   | ...")
	}
	if !strings.Contains(errb.String(), "job second failed") {
		t.Errorf("stderr %q does not name the failed job", errb.String())
	}
}
