package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

// Registrar registers a just-in-time runner.
type Registrar interface {
	// Register registers a runner named name with labels and returns its
	// configuration. Errors are *APIError when GitHub answered.
	Register(ctx context.Context, name string, labels []string) (*Registration, error)
}

// Registration is a registered just-in-time runner.
type Registration struct {
	RunnerID int64
	Name     string
	// JITConfig is the runner's encoded configuration (its --jitconfig):
	// it holds the runner's credentials until its one job ends.
	JITConfig string
}

// GitHub registers runners with GitHub's REST API: a repository's (Owner,
// Repo) or an organisation's (Org).
type GitHub struct {
	// Client authenticates as a GitHub App installation (the repository
	// permission "Administration: write", or the organisation permission
	// "Self-hosted runners: write") or with a token that has them.
	Client      *github.Client
	Owner, Repo string
	Org         string
	// RunnerGroupID is the runner group (1, "Default", when 0).
	RunnerGroupID int64
}

var _ Registrar = (*GitHub)(nil)

// Register implements Registrar.
func (g *GitHub) Register(ctx context.Context, name string, labels []string) (*Registration, error) {
	group := g.RunnerGroupID
	if group == 0 {
		group = 1
	}
	req := &github.GenerateJITConfigRequest{Name: name, RunnerGroupID: group, Labels: labels}
	var (
		cfg *github.JITRunnerConfig
		err error
		op  string
	)
	switch {
	case g.Org != "":
		op = "actions/generate-runner-jitconfig-for-org"
		cfg, _, err = g.Client.Actions.GenerateOrgJITConfig(ctx, g.Org, req)
	case g.Owner != "" && g.Repo != "":
		op = "actions/generate-runner-jitconfig-for-repo"
		cfg, _, err = g.Client.Actions.GenerateRepoJITConfig(ctx, g.Owner, g.Repo, req)
	default:
		return nil, errors.New("supervisor: no repository and no organisation to register runners with")
	}
	if err != nil {
		return nil, apiError(op, g.scope(), err)
	}
	if cfg.GetEncodedJITConfig() == "" {
		return nil, &APIError{Op: op, Scope: g.scope(), Status: http.StatusCreated, Message: "the answer holds no encoded_jit_config"}
	}
	return &Registration{RunnerID: cfg.GetRunner().GetID(), Name: name, JITConfig: cfg.GetEncodedJITConfig()}, nil
}

func (g *GitHub) scope() string {
	if g.Org != "" {
		return "organisation " + g.Org
	}
	return "repository " + g.Owner + "/" + g.Repo
}

// APIError is a registration GitHub refused or did not answer, with what
// to do about it. It never holds credentials.
type APIError struct {
	Op    string // the operation id
	Scope string // "repository owner/repo" or "organisation org"
	// Status is the HTTP status; 0 when there was no answer.
	Status  int
	Message string // GitHub's message
	// RateLimited is set for GitHub's rate limits (403 or 429).
	RateLimited bool
	Err         error
}

// Error implements error.
func (e *APIError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("supervisor: %s for the %s: %v", e.Op, e.Scope, e.Err)
	}
	msg := fmt.Sprintf("supervisor: %s for the %s: GitHub answered %d %s", e.Op, e.Scope, e.Status, e.Message)
	switch {
	case e.RateLimited:
		return msg + " (rate limited: waiting)"
	case e.Status == http.StatusUnauthorized:
		return msg + ": bad credentials — check the token file, or the GitHub App's id, installation id and private key file"
	case e.Status == http.StatusForbidden:
		return msg + ": the credentials lack a permission — a GitHub App needs the repository permission \"Administration: write\" " +
			"(the organisation permission \"Self-hosted runners: write\" with --org); a classic token the repo scope (admin:org with --org); " +
			"a fine-grained token \"Administration: write\" on the repository"
	case e.Status == http.StatusNotFound:
		return msg + ": no such " + e.Scope + ", or the credentials cannot see it (is the App installed on it?)"
	case e.Status == http.StatusUnprocessableEntity:
		return msg + ": check the labels (1 to 100) and the runner group id"
	}
	return msg
}

// Unwrap returns the go-github or transport error.
func (e *APIError) Unwrap() error { return e.Err }

// Temporary reports whether waiting may help: no answer, a 5xx, a rate
// limit, or a name conflict (the next attempt uses another name).
func (e *APIError) Temporary() bool {
	return e.Status == 0 || e.Status >= 500 || e.RateLimited || e.Status == http.StatusConflict
}

func apiError(op, scope string, err error) *APIError {
	e := &APIError{Op: op, Scope: scope, Err: err}
	var (
		ger *github.ErrorResponse
		rl  *github.RateLimitError
		ab  *github.AbuseRateLimitError
		hte *ghinstallation.HTTPError
	)
	switch {
	case errors.As(err, &rl) && rl.Response != nil:
		e.Status, e.Message, e.RateLimited = rl.Response.StatusCode, rl.Message, true
	case errors.As(err, &ab) && ab.Response != nil:
		e.Status, e.Message, e.RateLimited = ab.Response.StatusCode, ab.Message, true
	case errors.As(err, &ger) && ger.Response != nil:
		e.Status, e.Message = ger.Response.StatusCode, ger.Message
		e.RateLimited = e.Status == http.StatusTooManyRequests
	case errors.As(err, &hte) && hte.Response != nil:
		// The installation token was refused: the App's credentials.
		e.Op = "apps/create-installation-access-token"
		e.Status, e.Message = hte.Response.StatusCode, http.StatusText(hte.Response.StatusCode)
	}
	return e
}
