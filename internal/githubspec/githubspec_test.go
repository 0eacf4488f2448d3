package githubspec

import (
	"strings"
	"testing"
)

func TestLoadHasTheOperationsWeUse(t *testing.T) {
	doc, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/repos/{owner}/{repo}/check-runs",
		"/repos/{owner}/{repo}/check-runs/{check_run_id}",
		"/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
	} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("no path %s", p)
		}
	}
}

func TestValidateWebhook(t *testing.T) {
	names, err := Webhooks()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(names, " "), "pull-request-opened") {
		t.Fatalf("webhooks %v lack pull-request-opened", names)
	}
	if err := ValidateWebhook("push", []byte(`{"ref": 1}`)); err == nil {
		t.Fatal("a push payload with a numeric ref and nothing else validated")
	}
	if err := ValidateWebhook("no-such-hook", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "push") {
		t.Fatalf("unknown webhook: got %v, want an error listing the known ones", err)
	}
	if err := ValidateWebhook("push", []byte(`{`)); err == nil {
		t.Fatal("malformed JSON validated")
	}
}
