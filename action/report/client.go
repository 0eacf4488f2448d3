package report

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/balena/leviathan-action/internal/ctxtime"
)

// ClientConfig says how to reach GitHub.
type ClientConfig struct {
	// BaseURL is the REST API root: "https://api.github.com/" when empty;
	// "https://HOST/api/v3/" for GitHub Enterprise Server.
	BaseURL string
	// Transport carries the requests; http.DefaultTransport when nil.
	Transport http.RoundTripper
	Retry     RetryPolicy
	Logger    *slog.Logger // silent when nil
}

// RetryPolicy bounds the retries of 5xx answers, network errors and rate
// limits (429, and 403 with Retry-After or a secondary rate limit
// message). 401 and other 4xx answers are never retried.
type RetryPolicy struct {
	Attempts int           // tries per request, retries included; 5 when 0
	Backoff  time.Duration // first wait, doubled each retry; 1s when 0
	// MaxWait caps one wait; a Retry-After longer than it is not waited
	// for and the answer is returned. 60s when 0.
	MaxWait time.Duration
	// Sleep waits for d or until ctx ends; a timer when nil. Tests set
	// it to avoid sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.Backoff <= 0 {
		p.Backoff = time.Second
	}
	if p.MaxWait <= 0 {
		p.MaxWait = time.Minute
	}
	if p.Sleep == nil {
		p.Sleep = ctxtime.Sleep
	}
	return p
}

func (c ClientConfig) baseURL() (*url.URL, error) {
	s := c.BaseURL
	if s == "" {
		s = "https://api.github.com/"
	}
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("report: API base URL: %w", err)
	}
	return u, nil
}

func (c ClientConfig) transport() http.RoundTripper {
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &retryTransport{base: base, policy: c.Retry.withDefaults(), log: logger(c.Logger)}
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// NewTokenClient returns a go-github client that authenticates with a
// token (GITHUB_TOKEN or a personal access token) and retries as
// cfg.Retry says.
func NewTokenClient(token string, cfg ClientConfig) (*github.Client, error) {
	if token == "" {
		return nil, errors.New("report: no GitHub token")
	}
	u, err := cfg.baseURL()
	if err != nil {
		return nil, err
	}
	gh := github.NewClient(&http.Client{Transport: cfg.transport()}).WithAuthToken(token)
	gh.BaseURL, gh.UploadURL = u, u
	return gh, nil
}

// App identifies a GitHub App installation.
type App struct {
	ID int64
	// InstallationID is looked up from Owner/Repo when 0.
	InstallationID int64
	Owner, Repo    string
	PrivateKey     []byte // PEM
	// KeySource names where PrivateKey came from, for errors ("the
	// app-private-key input"); never the key itself.
	KeySource string
}

// NewAppClient returns a go-github client that authenticates as a GitHub
// App installation through ghinstallation, with an installation token
// scoped to app.Repo. It looks the installation up when
// app.InstallationID is 0.
func NewAppClient(ctx context.Context, app App, cfg ClientConfig) (*github.Client, error) {
	src := app.KeySource
	if src == "" {
		src = "the app private key"
	}
	if app.ID == 0 {
		return nil, errors.New("report: no GitHub App id")
	}
	if blk, _ := pem.Decode(app.PrivateKey); blk == nil {
		return nil, fmt.Errorf("report: %s is not a PEM-encoded private key", src)
	}
	u, err := cfg.baseURL()
	if err != nil {
		return nil, err
	}
	tr := cfg.transport()
	atr, err := ghinstallation.NewAppsTransport(tr, app.ID, app.PrivateKey)
	if err != nil {
		// ghinstallation's message names no key material.
		return nil, fmt.Errorf("report: %s is not a usable RSA private key: %w", src, err)
	}
	atr.BaseURL = strings.TrimSuffix(u.String(), "/")
	if app.InstallationID == 0 {
		if app.Owner == "" || app.Repo == "" {
			return nil, errors.New("report: no installation id and no repository to look it up from")
		}
		ac := github.NewClient(&http.Client{Transport: atr})
		ac.BaseURL = u
		inst, _, err := ac.Apps.FindRepositoryInstallation(ctx, app.Owner, app.Repo)
		if err != nil {
			return nil, apiError("apps/get-repo-installation", err)
		}
		app.InstallationID = inst.GetID()
	}
	itr := ghinstallation.NewFromAppsTransport(atr, app.InstallationID)
	itr.BaseURL = atr.BaseURL
	opts := &github.InstallationTokenOptions{}
	if app.Repo != "" {
		opts.Repositories = []string{app.Repo}
	}
	itr.InstallationTokenOptions = opts
	gh := github.NewClient(&http.Client{Transport: itr})
	gh.BaseURL, gh.UploadURL = u, u
	return gh, nil
}

// retryTransport retries what GitHub asks to be retried.
type retryTransport struct {
	base   http.RoundTripper
	policy RetryPolicy
	log    *slog.Logger
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.GetBody == nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	for attempt := 1; ; attempt++ {
		r := req.Clone(req.Context())
		switch {
		case req.GetBody != nil:
			b, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = b
		case body != nil:
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		resp, err := t.base.RoundTrip(r)
		wait, retry := t.classify(resp, err, attempt)
		if !retry || attempt >= t.policy.Attempts || wait > t.policy.MaxWait {
			return resp, err
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
		t.log.Info("report: retrying a GitHub API call", "method", req.Method, "path", req.URL.Path,
			"status", status, "error", err, "attempt", attempt, "wait", wait)
		if err := t.policy.Sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// classify says whether an answer is worth retrying and after how long.
func (t *retryTransport) classify(resp *http.Response, err error, attempt int) (time.Duration, bool) {
	backoff := t.policy.Backoff << (attempt - 1)
	if err != nil {
		return backoff, true
	}
	switch code := resp.StatusCode; {
	case code >= 500:
		return backoff, true
	case code == http.StatusTooManyRequests:
		return max(retryAfter(resp), backoff), true
	case code == http.StatusForbidden:
		if ra := retryAfter(resp); ra > 0 {
			return max(ra, backoff), true
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
			return max(time.Until(time.Unix(reset, 0)), backoff), true
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if bytes.Contains(bytes.ToLower(b), []byte("secondary rate limit")) {
			return max(time.Minute, backoff), true
		}
	}
	return 0, false
}

func retryAfter(resp *http.Response) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// APIError is a GitHub API call that failed, with the evidence.
type APIError struct {
	Op      string // the operation id ("checks/create")
	Status  int    // the HTTP status; 0 when there was no answer
	Message string // GitHub's message
	Err     error
}

var _ http.RoundTripper = (*retryTransport)(nil)

// Error describes the failed call with a hint for 401 and 403; it never
// includes credentials.
func (e *APIError) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized:
		hint = " (check the token, or the GitHub App's id, installation and private key)"
	case http.StatusForbidden:
		hint = " (the token lacks a permission, such as checks: write)"
	}
	if e.Status == 0 {
		return fmt.Sprintf("report: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("report: %s: GitHub answered %d %s%s", e.Op, e.Status, e.Message, hint)
}

// Unwrap returns the go-github or transport error.
func (e *APIError) Unwrap() error { return e.Err }

// apiError wraps a go-github or ghinstallation error.
func apiError(op string, err error) error {
	e := &APIError{Op: op, Err: err}
	var ger *github.ErrorResponse
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var hte *ghinstallation.HTTPError
	switch {
	case errors.As(err, &ger) && ger.Response != nil:
		e.Status, e.Message = ger.Response.StatusCode, ger.Message
	case errors.As(err, &rl) && rl.Response != nil:
		e.Status, e.Message = rl.Response.StatusCode, rl.Message
	case errors.As(err, &ab) && ab.Response != nil:
		e.Status, e.Message = ab.Response.StatusCode, ab.Message
	case errors.As(err, &hte) && hte.Response != nil:
		e.Op = "apps/create-installation-access-token"
		e.Status, e.Message = hte.Response.StatusCode, http.StatusText(hte.Response.StatusCode)
	}
	return e
}
