package supervisor_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/action/report"
	"github.com/balena/leviathan-action/runner-hook/supervisor"
)

const repoOp = "actions/generate-runner-jitconfig-for-repo"

func TestGitHubRegister(t *testing.T) {
	srv := githubtest.NewServer(t)
	ctx := context.Background()
	labels := []string{"self-hosted", "leviathan", "generic-amd64"}
	g := &supervisor.GitHub{Client: srv.Client(githubtest.DefaultToken), Owner: "balena-os", Repo: "balena-generic"}
	reg, err := g.Register(ctx, "testbot-0a1b2c", labels)
	if err != nil {
		t.Fatal(err)
	}
	rs := srv.Runners()
	if len(rs) != 1 {
		t.Fatalf("registered %d runners", len(rs))
	}
	r := rs[0]
	if r.Owner != "balena-os" || r.Repo != "balena-generic" || r.Name != "testbot-0a1b2c" || r.GroupID != 1 || strings.Join(r.Labels, ",") != strings.Join(labels, ",") {
		t.Errorf("registered %+v", r)
	}
	if reg.JITConfig != r.JITConfig || reg.RunnerID != r.ID || reg.Name != r.Name {
		t.Errorf("registration %+v, server holds %+v", reg, r)
	}
	files := map[string]string{}
	if b, err := base64.StdEncoding.DecodeString(reg.JITConfig); err != nil || json.Unmarshal(b, &files) != nil || files[".runner"] == "" {
		t.Errorf("the configuration is not GitHub's shape (base64 JSON of files): %v", err)
	}

	org := &supervisor.GitHub{Client: srv.Client(githubtest.DefaultToken), Org: "balena-os", RunnerGroupID: 3}
	if _, err := org.Register(ctx, "testbot-org", labels); err != nil {
		t.Fatal(err)
	}
	if r := srv.Runners()[1]; r.Org != "balena-os" || r.GroupID != 3 || srv.Calls("actions/generate-runner-jitconfig-for-org") != 1 {
		t.Errorf("organisation runner %+v", r)
	}

	for _, tc := range []struct {
		name      string
		g         *supervisor.GitHub
		fault     *githubtest.Fault
		status    int
		temporary bool
		want      string
	}{
		{"name taken", g, nil, 409, true, "already exists"},
		{"bad credentials", &supervisor.GitHub{Client: srv.Client("ghp_revoked"), Owner: "balena-os", Repo: "balena-generic"}, nil, 401, false, "bad credentials — check the token file"},
		{"missing permission", g, &githubtest.Fault{Status: 403, Message: "Resource not accessible by integration"}, 403, false, `"Administration: write"`},
		{"GitHub down", g, &githubtest.Fault{Status: 502, Message: "Bad Gateway"}, 502, true, "502 Bad Gateway"},
		{"secondary rate limit", g, ptr(githubtest.SecondaryRateLimit(0)), 403, true, "rate limited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				srv.FailNext(repoOp, 1, *tc.fault)
			}
			_, err := tc.g.Register(ctx, "testbot-0a1b2c", labels)
			var ae *supervisor.APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Temporary() != tc.temporary || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Register = %v (%+v), want status %d, temporary %v, %q", err, ae, tc.status, tc.temporary, tc.want)
			}
			if strings.Contains(err.Error(), githubtest.DefaultToken) || strings.Contains(err.Error(), "ghp_revoked") {
				t.Errorf("the error holds the token: %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A GitHub App installation registers runners through action/report's
// client, as leviathan-hook supervise does; an App the server does not
// know fails at the installation token, with the App's error.
func TestGitHubRegisterAsApp(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	srv := githubtest.NewServer(t, githubtest.WithApp(githubtest.App{ID: 42, InstallationID: 7, PublicKey: &key.PublicKey}))
	ctx := context.Background()
	cfg := report.ClientConfig{BaseURL: srv.URL, Transport: srv.HTTPClient().Transport}
	c, err := report.NewAppClient(ctx, report.App{ID: 42, Owner: "balena-os", Repo: "balena-generic", PrivateKey: pemKey}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &supervisor.GitHub{Client: c, Owner: "balena-os", Repo: "balena-generic"}
	if _, err := g.Register(ctx, "testbot-app", []string{"leviathan"}); err != nil {
		t.Fatal(err)
	}
	if srv.Calls("apps/create-installation-access-token") != 1 || len(srv.Runners()) != 1 {
		t.Errorf("calls %v", srv.CallCounts())
	}

	c, err = report.NewAppClient(ctx, report.App{ID: 43, InstallationID: 7, Owner: "balena-os", Repo: "balena-generic", PrivateKey: pemKey}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.Client = c
	_, err = g.Register(ctx, "testbot-app2", []string{"leviathan"})
	var ae *supervisor.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Op != "apps/create-installation-access-token" || ae.Temporary() {
		t.Errorf("an unknown App: %v (%+v)", err, ae)
	}
}
