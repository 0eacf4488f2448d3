package githubtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

// recorder is a testing.TB that records failures instead of failing, so
// tests can check that the fake reports what it must.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func ptr[T any](v T) *T { return &v }

func annotations(n int, from int) []*github.CheckRunAnnotation {
	var out []*github.CheckRunAnnotation
	for i := range n {
		out = append(out, &github.CheckRunAnnotation{
			Path: ptr("suites/os/os_test.go"), StartLine: ptr(from + i), EndLine: ptr(from + i),
			AnnotationLevel: ptr("failure"), Message: ptr(fmt.Sprintf("failure %d", from+i)),
			Title: ptr("TestX"), RawDetails: ptr("details"),
		})
	}
	return out
}

func TestCheckRunLifecycle(t *testing.T) {
	s := NewServer(t)
	ctx := context.Background()
	for _, variant := range []string{"github.com", "enterprise"} {
		t.Run(variant, func(t *testing.T) {
			gh := s.Client(DefaultToken)
			if variant == "enterprise" {
				var err error
				if gh, err = github.NewClient(s.HTTPClient()).WithAuthToken(DefaultToken).WithEnterpriseURLs(s.URL, s.URL); err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(gh.BaseURL.Path, "/api/v3/") {
					t.Fatalf("BaseURL %s has no /api/v3/", gh.BaseURL)
				}
			}
			name := "leviathan / os / " + variant
			cr, _, err := gh.Checks.CreateCheckRun(ctx, "balena", "meta", github.CreateCheckRunOptions{
				Name: name, HeadSHA: "abc123", Status: ptr("in_progress"),
				Output: &github.CheckRunOutput{Title: ptr("running"), Summary: ptr("…"), Annotations: annotations(50, 1)},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = gh.Checks.UpdateCheckRun(ctx, "balena", "meta", cr.GetID(), github.UpdateCheckRunOptions{
				Name: name, Conclusion: ptr("failure"),
				Output: &github.CheckRunOutput{Title: ptr("2 failed"), Summary: ptr("done"), Annotations: annotations(20, 51)},
			})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := gh.Checks.GetCheckRun(ctx, "balena", "meta", cr.GetID())
			if err != nil {
				t.Fatal(err)
			}
			if got.GetStatus() != "completed" || got.GetConclusion() != "failure" || got.GetOutput().GetAnnotationsCount() != 70 {
				t.Errorf("check run = %s/%s with %d annotations", got.GetStatus(), got.GetConclusion(), got.GetOutput().GetAnnotationsCount())
			}
			var all []*github.CheckRunAnnotation
			opt := &github.ListOptions{PerPage: 30}
			for {
				page, resp, err := gh.Checks.ListCheckRunAnnotations(ctx, "balena", "meta", cr.GetID(), opt)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, page...)
				if resp.NextPage == 0 {
					break
				}
				opt.Page = resp.NextPage
			}
			if len(all) != 70 || all[69].GetMessage() != "failure 70" {
				t.Errorf("listed %d annotations", len(all))
			}
			list, _, err := gh.Checks.ListCheckRunsForRef(ctx, "balena", "meta", "abc123", &github.ListCheckRunsOptions{CheckName: ptr(name)})
			if err != nil {
				t.Fatal(err)
			}
			if list.GetTotal() != 1 || list.CheckRuns[0].GetID() != cr.GetID() {
				t.Errorf("list for ref = %d runs", list.GetTotal())
			}
			rec, _ := s.CheckRun(cr.GetID())
			if rec.Updates != 1 || len(rec.Annotations) != 70 || rec.Title != "2 failed" {
				t.Errorf("recorded %+v", rec)
			}
		})
	}
}

func TestRejectsMalformedRequest(t *testing.T) {
	rec := &recorder{TB: t}
	s := NewServer(rec)
	// head_sha is required; annotations need start_line.
	body := `{"name":"x","output":{"summary":"s","annotations":[{"path":"a","end_line":1,"annotation_level":"failure","message":"m"}]}}`
	req, _ := http.NewRequest("POST", s.URL+"repos/o/r/check-runs", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("status %d, want 422", resp.StatusCode)
	}
	errs := rec.failures()
	if len(errs) != 1 || !strings.Contains(errs[0], "checks/create") || !strings.Contains(errs[0], "does not match") {
		t.Errorf("failures = %q", errs)
	}
	if len(s.CheckRuns()) != 0 {
		t.Error("an invalid request created a check run")
	}
}

func TestRejectsTooManyAnnotations(t *testing.T) {
	rec := &recorder{TB: t}
	s := NewServer(rec)
	_, _, err := s.Client(DefaultToken).Checks.CreateCheckRun(context.Background(), "o", "r", github.CreateCheckRunOptions{
		Name: "x", HeadSHA: "abc", Output: &github.CheckRunOutput{Summary: ptr("s"), Annotations: annotations(51, 1)},
	})
	var ge *github.ErrorResponse
	if !errors.As(err, &ge) || ge.Response.StatusCode != 422 {
		t.Errorf("err = %v, want a 422", err)
	}
	if errs := rec.failures(); len(errs) != 1 || !strings.Contains(errs[0], "checks/create") {
		t.Errorf("failures = %q", errs)
	}
}

func TestUnknownRoute(t *testing.T) {
	rec := &recorder{TB: t}
	s := NewServer(rec)
	resp, err := s.HTTPClient().Get(s.URL + "repos/o/r/no-such-thing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || len(rec.failures()) != 1 {
		t.Errorf("status %d, failures %q", resp.StatusCode, rec.failures())
	}
}

func TestValidatesResponses(t *testing.T) {
	rec := &recorder{TB: t}
	s := NewServer(rec)
	// A handler that forgets required fields must be caught.
	s.handlers["checks/get"] = func(c *call) reply {
		return jsonReply(http.StatusOK, map[string]any{"id": 1, "name": "x"})
	}
	_, resp, err := s.Client(DefaultToken).Checks.GetCheckRun(context.Background(), "o", "r", 1)
	if err == nil || resp.StatusCode != 500 {
		t.Errorf("err %v, want a 500", err)
	}
	if errs := rec.failures(); len(errs) != 1 || !strings.Contains(errs[0], "checks/get") || !strings.Contains(errs[0], "response does not match") {
		t.Errorf("failures = %q", errs)
	}
}

func TestFaults(t *testing.T) {
	s := NewServer(t)
	gh := s.Client(DefaultToken)
	ctx := context.Background()
	opts := github.CreateCheckRunOptions{Name: "x", HeadSHA: "abc"}
	s.FailNext("checks/create", 2, ServerError(502))
	for range 2 {
		if _, resp, err := gh.Checks.CreateCheckRun(ctx, "o", "r", opts); err == nil || resp.StatusCode != 502 {
			t.Fatalf("err %v, want 502", err)
		}
	}
	if _, _, err := gh.Checks.CreateCheckRun(ctx, "o", "r", opts); err != nil {
		t.Fatalf("third call: %v", err)
	}
	s.FailNext("checks/get", 1, TooManyRequests(3*time.Second))
	_, resp, err := gh.Checks.GetCheckRun(ctx, "o", "r", s.CheckRuns()[0].ID)
	if err == nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("429: err %v", err)
	}
	if got := s.Calls("checks/create"); got != 3 {
		t.Errorf("checks/create calls = %d, want 3", got)
	}

	// go-github remembers a secondary rate limit: use a fresh client.
	s.FailNext("checks/create", 1, SecondaryRateLimit(time.Second))
	_, _, err = s.Client(DefaultToken).Checks.CreateCheckRun(ctx, "o", "r", opts)
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.RetryAfter == nil || *abuse.RetryAfter != time.Second {
		t.Errorf("err = %#v, want a secondary rate limit with Retry-After", err)
	}
}

func TestAuthentication(t *testing.T) {
	s := NewServer(t, WithReadOnlyToken("ghs_forkToken"))
	ctx := context.Background()
	opts := github.CreateCheckRunOptions{Name: "x", HeadSHA: "abc"}
	_, resp, err := s.Client("nope").Checks.CreateCheckRun(ctx, "o", "r", opts)
	if err == nil || resp.StatusCode != 401 || !strings.Contains(err.Error(), "Bad credentials") {
		t.Errorf("unknown token: %v", err)
	}
	_, resp, err = s.Client("ghs_forkToken").Checks.CreateCheckRun(ctx, "o", "r", opts)
	if err == nil || resp.StatusCode != 403 || !strings.Contains(err.Error(), "Resource not accessible by integration") {
		t.Errorf("read-only token: %v", err)
	}
	// Reading is allowed.
	if _, _, err := s.Client("ghs_forkToken").Checks.ListCheckRunsForRef(ctx, "o", "r", "abc", nil); err != nil {
		t.Errorf("read-only token cannot read: %v", err)
	}
	req, _ := http.NewRequest("GET", s.URL+"repos/o/r/check-runs/1", nil)
	raw, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw.Body.Close()
	if raw.StatusCode != 401 {
		t.Errorf("no credentials: %d", raw.StatusCode)
	}
}

func TestArtifacts(t *testing.T) {
	s := NewServer(t)
	gh := s.Client(DefaultToken)
	ctx := context.Background()
	id := s.AddArtifact("o", "r", Artifact{Name: "build-artifacts", RunID: 7, Zip: []byte("PK\x03\x04zip")})
	old := s.AddArtifact("o", "r", Artifact{Name: "old", RunID: 6, Zip: []byte("PK"), Expired: true})

	list, _, err := gh.Actions.ListWorkflowRunArtifacts(ctx, "o", "r", 7, nil)
	if err != nil || list.GetTotalCount() != 1 || list.Artifacts[0].GetName() != "build-artifacts" {
		t.Fatalf("list run artifacts: %v %+v", err, list)
	}
	all, _, err := gh.Actions.ListArtifacts(ctx, "o", "r", &github.ListOptions{})
	if err != nil || all.GetTotalCount() != 2 {
		t.Fatalf("list repo artifacts: %v", err)
	}
	a, _, err := gh.Actions.GetArtifact(ctx, "o", "r", id)
	if err != nil || a.GetSizeInBytes() != 7 {
		t.Fatalf("get: %v", err)
	}
	u, _, err := gh.Actions.DownloadArtifact(ctx, "o", "r", id, 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.HTTPClient().Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "PK\x03\x04zip" {
		t.Errorf("blob = %q", b)
	}
	_, resp2, err := gh.Actions.DownloadArtifact(ctx, "o", "r", old, 0)
	if err == nil || resp2 == nil || resp2.StatusCode != http.StatusGone {
		t.Errorf("expired artifact: %v", err)
	}
}

func TestDispatch(t *testing.T) {
	s := NewServer(t)
	_, err := s.Client(DefaultToken).Actions.CreateWorkflowDispatchEventByFileName(context.Background(), "o", "r", "leviathan.yml",
		github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: map[string]any{"device-type": "raspberrypi4-64"}})
	if err != nil {
		t.Fatal(err)
	}
	d := s.Dispatches()
	if len(d) != 1 || d[0].Workflow != "leviathan.yml" || d[0].Inputs["device-type"] != "raspberrypi4-64" {
		t.Errorf("dispatches = %+v", d)
	}
}

func TestAppInstallationToken(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	s := NewServer(t, WithApp(App{ID: 42, InstallationID: 99, PublicKey: &key.PublicKey, Repos: []string{"o/r"}}))
	ctx := context.Background()

	atr, err := ghinstallation.NewAppsTransport(s.HTTPClient().Transport, 42, pemKey)
	if err != nil {
		t.Fatal(err)
	}
	atr.BaseURL = strings.TrimSuffix(s.URL, "/")
	apps := github.NewClient(&http.Client{Transport: atr})
	apps.BaseURL, _ = apps.BaseURL.Parse(s.URL)
	inst, _, err := apps.Apps.FindRepositoryInstallation(ctx, "o", "r")
	if err != nil || inst.GetID() != 99 {
		t.Fatalf("installation lookup: %v", err)
	}
	if _, _, err := apps.Apps.FindRepositoryInstallation(ctx, "o", "other"); err == nil {
		t.Error("found an installation for a repository it does not cover")
	}

	itr := ghinstallation.NewFromAppsTransport(atr, 99)
	gh := github.NewClient(&http.Client{Transport: itr})
	gh.BaseURL, _ = gh.BaseURL.Parse(s.URL)
	if _, _, err := gh.Checks.CreateCheckRun(ctx, "o", "r", github.CreateCheckRunOptions{Name: "x", HeadSHA: "abc"}); err != nil {
		t.Fatalf("check run with an installation token: %v", err)
	}
	if s.Calls("apps/create-installation-access-token") != 1 {
		t.Errorf("token calls = %d", s.Calls("apps/create-installation-access-token"))
	}

	// A JWT signed by another key is refused.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})
	bad, _ := ghinstallation.NewAppsTransport(s.HTTPClient().Transport, 42, otherPEM)
	bad.BaseURL = atr.BaseURL
	badClient := github.NewClient(&http.Client{Transport: bad})
	badClient.BaseURL, _ = badClient.BaseURL.Parse(s.URL)
	if _, resp, err := badClient.Apps.FindRepositoryInstallation(ctx, "o", "r"); err == nil || resp.StatusCode != 401 {
		t.Errorf("wrong key: %v", err)
	}
}
