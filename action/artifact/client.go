package artifact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// twirpService is the path prefix of the results artifact service.
const twirpService = "/twirp/github.actions.results.api.v1.ArtifactService/"

// DefaultBlockSize is the size of one uploaded block.
const DefaultBlockSize = 8 << 20

// Client talks to the results service of one workflow job.
type Client struct {
	base     string
	token    string
	ids      BackendIDs
	hc       *http.Client
	log      *slog.Logger
	block    int
	retry    Retry
	sleep    func(ctx context.Context, d time.Duration) error
	progress func(done int64)
}

// Retry bounds the retries of one request.
type Retry struct {
	// Attempts is the number of tries, the first included.
	Attempts int
	// Base is the wait after the first failure; it doubles after each
	// further one, up to Max.
	Base, Max time.Duration
}

// DefaultRetry is the retry policy of a new Client: 5 tries, waiting 1 s,
// 2 s, 4 s and 8 s between them.
var DefaultRetry = Retry{Attempts: 5, Base: time.Second, Max: 30 * time.Second}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for the service and the signed
// URLs (default: a client without overall timeout; use ctx for deadlines).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithLogger sets the logger; the client is silent without one.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithBlockSize sets the size of an uploaded block (default DefaultBlockSize).
// Each upload holds three blocks in memory.
func WithBlockSize(n int) Option { return func(c *Client) { c.block = n } }

// WithRetry sets the retry policy (default DefaultRetry).
func WithRetry(r Retry) Option { return func(c *Client) { c.retry = r } }

// WithSleep replaces the wait between retries, for tests. sleep returns
// early with ctx's error.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// WithProgress sets a function called with the bytes transferred so far:
// after each uploaded block, and as a download streams.
func WithProgress(fn func(done int64)) Option { return func(c *Client) { c.progress = fn } }

// New returns a client for the job the configuration's token belongs to.
func New(cfg Config, opts ...Option) (*Client, error) {
	if cfg.RuntimeToken == "" {
		return nil, fmt.Errorf("artifact: %s is empty", EnvRuntimeToken)
	}
	if cfg.ResultsURL == "" {
		return nil, fmt.Errorf("artifact: %s is empty", EnvResultsURL)
	}
	base, err := serviceBase(cfg.ResultsURL)
	if err != nil {
		return nil, err
	}
	ids, err := parseToken(cfg.RuntimeToken)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:  base,
		token: cfg.RuntimeToken,
		ids:   ids,
		hc:    &http.Client{},
		log:   slog.New(slog.DiscardHandler),
		block: DefaultBlockSize,
		retry: DefaultRetry,
		sleep: sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	if c.block <= 0 {
		return nil, fmt.Errorf("artifact: block size %d: want > 0", c.block)
	}
	if c.retry.Attempts < 1 {
		c.retry.Attempts = 1
	}
	return c, nil
}

// NewFromEnv is New with ConfigFromEnv.
func NewFromEnv(opts ...Option) (*Client, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return New(cfg, opts...)
}

// BackendIDs returns the run and job the client's token is scoped to.
func (c *Client) BackendIDs() BackendIDs { return c.ids }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Sentinel errors; an *HTTPError matches the one for its status.
var (
	ErrUnauthorized = errors.New("artifact: unauthorized")
	ErrNotFound     = errors.New("artifact: not found")
	ErrExpired      = errors.New("artifact: expired")
)

// HTTPError is an unexpected HTTP response, with its evidence.
type HTTPError struct {
	Op     string // CreateArtifact, Put Block, download, …
	Method string
	URL    string // without its query, which may hold a signature
	Status int
	Body   string // the first 512 bytes of the response body
	Hint   string // what to check, when known
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("artifact: %s: %s %s: %d %s", e.Op, e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + b
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Unwrap maps 401/403 to ErrUnauthorized, 404 to ErrNotFound and 410 to
// ErrExpired.
func (e *HTTPError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusGone:
		return ErrExpired
	}
	return nil
}

func newHTTPError(op string, req *http.Request, resp *http.Response) *HTTPError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	u := *req.URL
	u.RawQuery, u.User = "", nil
	he := &HTTPError{Op: op, Method: req.Method, URL: u.String(), Status: resp.StatusCode, Body: string(body)}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		he.Hint = "the signed URL was refused; it may have expired"
	case http.StatusGone:
		he.Hint = "the artifact has expired or was deleted"
	}
	return he
}

// retryable reports whether a response status may succeed on a retry.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// do sends the request built by mk until it gets a 2xx response, retrying
// network errors and retryable statuses. The caller closes the body.
func (c *Client) do(ctx context.Context, op string, mk func() (*http.Request, error)) (*http.Response, error) {
	wait := c.retry.Base
	var last error
	for attempt := 1; ; attempt++ {
		req, err := mk()
		if err != nil {
			return nil, fmt.Errorf("artifact: %s: %w", op, err)
		}
		resp, err := c.hc.Do(req.WithContext(ctx))
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("artifact: %s: %w", op, ctx.Err())
			}
			last = fmt.Errorf("artifact: %s: %w", op, err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return resp, nil
		default:
			he := newHTTPError(op, req, resp)
			resp.Body.Close()
			if !retryable(resp.StatusCode) {
				return nil, he
			}
			last = he
		}
		if attempt >= c.retry.Attempts {
			return nil, fmt.Errorf("artifact: %s: giving up after %d attempts: %w", op, attempt, last)
		}
		c.log.WarnContext(ctx, "artifact: retrying", "op", op, "attempt", attempt, "wait", wait, "err", last)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("artifact: %s: %w", op, err)
		}
		wait = min(wait*2, c.retry.Max)
	}
}

// call invokes a Twirp method with JSON bodies.
func (c *Client) call(ctx context.Context, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("artifact: %s: %w", method, err)
	}
	resp, err := c.do(ctx, method, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, c.base+twirpService+method, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("User-Agent", "leviathan-action")
		return req, nil
	})
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) && errors.Is(he, ErrUnauthorized) {
			he.Hint = "the results service refused " + EnvRuntimeToken + ": is it this job's, unexpired token?"
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("artifact: %s: reading the response: %w", method, err)
	}
	if err := decodeProtoJSON(data, out); err != nil {
		return fmt.Errorf("artifact: %s: decoding the response: %w", method, err)
	}
	return nil
}

// decodeProtoJSON decodes proto3 JSON, whose field names may be the proto
// names (snake_case) or their lowerCamelCase JSON names, into v, whose tags
// use the lowerCamelCase names.
func decodeProtoJSON(data []byte, v any) error {
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	norm, err := json.Marshal(camelKeys(raw))
	if err != nil {
		return err
	}
	return json.Unmarshal(norm, v)
}

func camelKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, val := range t {
			m[lowerCamel(k)] = camelKeys(val)
		}
		return m
	case []any:
		for i := range t {
			t[i] = camelKeys(t[i])
		}
	}
	return v
}

func lowerCamel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

// int64s is a proto3 JSON int64: a decimal string, or a number when read.
type int64s int64

func (n int64s) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatInt(int64(n), 10))
}

func (n *int64s) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("int64 %s: %w", b, err)
	}
	*n = int64s(v)
	return nil
}
