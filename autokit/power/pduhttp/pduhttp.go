package pduhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults for a Client.
const (
	DefaultTimeout = 5 * time.Second
	DefaultRetries = 2
	DefaultBackoff = 200 * time.Millisecond
	maxBody        = 1 << 20
	excerptLen     = 200
)

// Auth is how a Client authenticates.
type Auth int

// Authentication schemes.
const (
	AuthNone   Auth = iota // no credentials, or credentials in the query (Tasmota)
	AuthBasic              // HTTP basic
	AuthDigest             // HTTP digest, answering the device's challenge
)

// Client talks to one device. Create it with New; it is safe for
// concurrent use.
type Client struct {
	name     string
	base     *url.URL
	user     string
	password string
	auth     Auth
	hc       *http.Client
	timeout  time.Duration
	retries  int
	backoff  time.Duration
	log      *slog.Logger
	redact   []string

	mu        sync.Mutex
	challenge *challenge // last digest challenge, reused with a new nc
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests through hc instead of a fresh client.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithLogger logs each retry and request at debug level. Silent by default.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithRetries sets how many more attempts follow a connection error, and
// the pause before each.
func WithRetries(n int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = n, backoff }
}

// WithTimeout sets the per-attempt timeout; 0 keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithCredentials sets the user and password and how they are sent.
func WithCredentials(auth Auth, user, password string) Option {
	return func(c *Client) { c.auth, c.user, c.password = auth, user, password }
}

// WithRedactedQuery hides the values of these query parameters in errors
// and logs (Tasmota sends its password in the query).
func WithRedactedQuery(keys ...string) Option {
	return func(c *Client) { c.redact = append(c.redact, keys...) }
}

// ParseURL checks a device's base URL: http or https, a host, and no
// credentials (those go in separate settings, so URLs in logs and errors
// never carry them). name prefixes the error.
func ParseURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: URL %q: %w", name, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: URL %q: scheme must be http or https", name, raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: URL %q has no host", name, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: URL %s carries credentials; set the user and password separately", name, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: URL %q must not have a query or fragment", name, raw)
	}
	return u, nil
}

// New returns a client of the device at base. name is the driver's package
// name, the prefix of every error.
func New(name string, base *url.URL, opts ...Option) *Client {
	c := &Client{
		name:    name,
		base:    base,
		timeout: DefaultTimeout,
		retries: DefaultRetries,
		backoff: DefaultBackoff,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Request is one call to the device.
type Request struct {
	Method   string // GET when empty
	Path     string // joined to the base URL's path
	RawQuery string // already encoded
	Header   http.Header
	Body     []byte
}

// Response is the device's answer to a request with a 2xx status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error is a request that failed: the device did not answer, or answered
// with a status other than 2xx.
type Error struct {
	Driver   string // package name of the driver
	Method   string
	URL      string // without credentials
	Status   int    // 0 when the device did not answer
	Body     string // an excerpt of the answer
	Attempts int
	Err      error // the transport error, when there was no answer
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %s %s: no answer after %d attempt(s): %v", e.Driver, e.Method, e.URL, e.Attempts, e.Err)
	}
	msg := fmt.Sprintf("%s: %s %s: HTTP %d %s", e.Driver, e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Excerpt shortens a body for an error message.
func Excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > excerptLen {
		s = s[:excerptLen] + "…"
	}
	return s
}

// URL is the full URL of r without credentials, as errors show it.
func (c *Client) URL(r Request) string {
	u := c.url(r)
	if len(c.redact) > 0 {
		q := u.Query()
		for _, k := range c.redact {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func (c *Client) url(r Request) *url.URL {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + r.Path
	u.RawPath = ""
	u.RawQuery = r.RawQuery
	return &u
}

// Do sends r, retrying connection errors, and answering a digest
// challenge once. A non-2xx answer is an *Error carrying the status and
// body; a cancelled ctx gives an error that wraps ctx.Err().
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	shown := c.URL(r)
	if err := ctx.Err(); err != nil {
		return nil, &Error{Driver: c.name, Method: r.Method, URL: shown, Err: err}
	}
	var lastErr error
	attempts := 0
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			c.log.Debug("retrying", "driver", c.name, "url", shown, "attempt", attempt+1, "err", lastErr)
			t := time.NewTimer(c.backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, &Error{Driver: c.name, Method: r.Method, URL: shown, Attempts: attempts, Err: errors.Join(ctx.Err(), lastErr)}
			case <-t.C:
			}
		}
		attempts++
		resp, err := c.attempt(ctx, r)
		if err == nil {
			if resp.Status/100 != 2 {
				return nil, &Error{Driver: c.name, Method: r.Method, URL: shown, Status: resp.Status, Body: Excerpt(resp.Body), Attempts: attempts}
			}
			return resp, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			// The caller's context ended: no more attempts.
			return nil, &Error{Driver: c.name, Method: r.Method, URL: shown, Attempts: attempts, Err: err}
		}
	}
	return nil, &Error{Driver: c.name, Method: r.Method, URL: shown, Attempts: attempts, Err: lastErr}
}

// attempt is one try, with the per-attempt timeout, including at most one
// digest round trip. It returns a response of any status, or a transport
// error.
func (c *Client) attempt(ctx context.Context, r Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	authz := ""
	if c.auth == AuthDigest {
		c.mu.Lock()
		if c.challenge != nil {
			authz = c.challenge.authorize(c.user, c.password, r.Method, c.url(r).RequestURI())
		}
		c.mu.Unlock()
	}
	resp, err := c.send(ctx, r, authz)
	if err != nil {
		return nil, err
	}
	if resp.Status == http.StatusUnauthorized && c.auth == AuthDigest {
		ch, perr := parseChallenge(resp.Header.Values("WWW-Authenticate"))
		if perr != nil {
			return resp, nil // let the caller see the 401 and its body
		}
		c.mu.Lock()
		c.challenge = ch
		authz = ch.authorize(c.user, c.password, r.Method, c.url(r).RequestURI())
		c.mu.Unlock()
		return c.send(ctx, r, authz)
	}
	return resp, nil
}

func (c *Client) send(ctx context.Context, r Request, authz string) (*Response, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.url(r).String(), body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	switch {
	case authz != "":
		req.Header.Set("Authorization", authz)
	case c.auth == AuthBasic:
		req.SetBasicAuth(c.user, c.password)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, err
	}
	c.log.Debug("request", "driver", c.name, "method", r.Method, "url", c.URL(r), "status", res.StatusCode)
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}
