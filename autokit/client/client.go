package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/internal/ctxtime"
)

// Client talks to one worker. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	hc    *http.Client
	token string
	clock Clock

	mu    sync.Mutex
	lease string
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends "Authorization: Bearer <token>" on every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient uses hc instead of a default client. hc should have no
// overall Timeout: streams (serial, exec, flash) last long.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithLease sends lease id on requests that change the DUT. A client
// without a token (WithToken) authenticates with the lease's id: a job
// on a testbot holds only its lease, and the worker lets that credential
// act on the lease alone (no new lease, no other lease, console output
// since the lease began).
func WithLease(id string) Option { return func(c *Client) { c.lease = id } }

// New returns a client of the worker at baseURL (http://host:port, with or
// without a path prefix).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: bad worker URL %q: want http://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c := &Client{base: u, hc: &http.Client{Transport: tr}, clock: ctxtime.System}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// URL is the worker's base URL.
func (c *Client) URL() string { return c.base.String() }

// bearer is the credential sent: the token, or else the lease's id.
func (c *Client) bearer() string {
	if c.token != "" {
		return c.token
	}
	return c.LeaseID()
}

// LeaseID is the lease the client sends ("" when none).
func (c *Client) LeaseID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lease
}

// SetLease sets the lease the client sends ("" for none).
func (c *Client) SetLease(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lease = id
}

// Error is a non-2xx answer from the worker. Switch on Code (see
// ErrorCode and IsCode), not on the words of Message.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error's kind, one of the api.Code… constants; "" when
	// the answer was not the worker's (a proxy's error page).
	Code api.ErrorCode
	// Message is the worker's explanation.
	Message string
	// Method and Path name the request.
	Method, Path string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("client: %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// UnreachableError is returned when no worker answers at the URL.
type UnreachableError struct {
	URL string
	Err error
}

// Error implements error.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("client: the worker at %s is unreachable (%v); start one with `leviathan worker` or check the URL", e.URL, e.Err)
}

// Unwrap returns the underlying error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// request is one API call.
type request struct {
	method  string
	path    string
	query   url.Values
	body    io.Reader
	ctype   string
	size    int64 // of body, when known and > 0
	leased  bool  // send the lease header
	expect  bool  // send Expect: 100-continue
	headers map[string]string
}

// jsonBody encodes v for a request.
func jsonBody(v any) io.Reader {
	b, err := json.Marshal(v)
	if err != nil {
		// The api types always encode.
		panic(err)
	}
	return bytes.NewReader(b)
}

// do sends req and returns the response when it is 2xx; the caller closes
// its body.
func (c *Client) do(ctx context.Context, req request) (*http.Response, error) {
	u := *c.base
	u.Path += req.path
	u.RawQuery = req.query.Encode()
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), req.body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", req.method, req.path, err)
	}
	if req.size > 0 {
		hr.ContentLength = req.size
	}
	if req.ctype != "" {
		hr.Header.Set("Content-Type", req.ctype)
	} else if req.body != nil {
		hr.Header.Set("Content-Type", api.ContentTypeJSON)
	}
	if req.expect {
		hr.Header.Set("Expect", "100-continue")
	}
	if tok := c.bearer(); tok != "" {
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	if req.leased {
		if id := c.LeaseID(); id != "" {
			hr.Header.Set(api.HeaderLease, id)
		}
	}
	for k, v := range req.headers {
		hr.Header.Set(k, v)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("client: %s %s: %w", req.method, req.path, ctx.Err())
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, &UnreachableError{URL: c.base.String(), Err: err}
		}
		return nil, fmt.Errorf("client: %s %s: %w", req.method, req.path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, responseError(req, resp)
	}
	return resp, nil
}

// responseError reads a non-2xx response into an *Error.
func responseError(req request, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb api.ErrorBody
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
		msg = eb.Error
	}
	if msg == "" {
		msg = "(no message)"
	}
	return &Error{Status: resp.StatusCode, Code: eb.Code, Message: msg, Method: req.method, Path: req.path}
}

// ErrorCode is the code of the worker's answer err wraps (an *Error), ""
// when err is nil or not such an answer.
func ErrorCode(err error) api.ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsCode reports whether err wraps a worker's answer with one of codes.
func IsCode(err error, codes ...api.ErrorCode) bool {
	code := ErrorCode(err)
	return code != "" && slices.Contains(codes, code)
}

// call sends req and decodes a JSON answer into out (nil to discard).
func (c *Client) call(ctx context.Context, req request, out any) error {
	resp, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decoding the answer: %w", req.method, req.path, err)
	}
	return nil
}

var (
	_ error = (*Error)(nil)
	_ error = (*UnreachableError)(nil)
	_ error = (*ExecError)(nil)
	_ error = (*ExitError)(nil)
)
