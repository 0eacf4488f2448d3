package githubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-github/v60/github"

	"github.com/balena/leviathan-action/internal/githubspec"
)

// DefaultToken is a token every Server accepts with full access.
const DefaultToken = "ghp_githubtestDefaultToken0000000000000"

// enterprisePrefix is the path GitHub Enterprise Server puts before the
// REST API; the fake accepts paths with and without it.
const enterprisePrefix = "/api/v3"

// blobPrefix is where artifact downloads redirect to, outside the API.
const blobPrefix = "/_blobs/"

// Server is a fake GitHub REST API. Create it with NewServer.
type Server struct {
	// URL is the API's base URL with a trailing slash, for go-github's
	// BaseURL ("http://127.0.0.1:port/").
	URL string

	t      testing.TB
	srv    *httptest.Server
	router routers.Router
	doc    *openapi3.T

	mu          sync.Mutex
	now         func() time.Time
	tokens      map[string]tokenInfo
	apps        []App
	nextID      int64
	checkRuns   map[int64]*CheckRun
	checkOrder  []int64
	artifacts   map[int64]*artifact
	dispatches  []Dispatch
	faults      map[string][]Fault
	calls       map[string]int
	handlers    map[string]handler
	blobSecrets map[string]int64
	runners     []*Runner

	busy atomic.Int64 // nanoseconds spent in ServeHTTP
}

// tokenInfo is what a token may do.
type tokenInfo struct {
	writeChecks bool
}

// Option configures a Server.
type Option func(*Server)

// WithToken makes the server accept tok with full access.
func WithToken(tok string) Option {
	return func(s *Server) { s.tokens[tok] = tokenInfo{writeChecks: true} }
}

// WithReadOnlyToken makes the server accept tok for reading, while check
// run writes get 403 "Resource not accessible by integration", as
// GITHUB_TOKEN does in a workflow run for a pull request from a fork.
func WithReadOnlyToken(tok string) Option {
	return func(s *Server) { s.tokens[tok] = tokenInfo{writeChecks: false} }
}

// WithApp registers a GitHub App and its installation.
func WithApp(a App) Option {
	return func(s *Server) { s.apps = append(s.apps, a) }
}

// WithClock sets the server's clock (time.Now by default), used for
// timestamps, JWT expiry and artifact expiry.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// route is the shared router over GitHub's description, with its servers
// removed so it matches paths on any host.
var route = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := githubspec.Load()
	if err != nil {
		return nil, err
	}
	cp := *doc // the loaded document is shared: change a copy only
	cp.Servers = nil
	return &cp, nil
})

// NewServer starts a fake GitHub API on loopback and closes it when the
// test ends. Requests and responses that do not match GitHub's
// description fail t.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	doc, err := route()
	if err != nil {
		t.Fatalf("githubtest: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("githubtest: routing GitHub's description: %v", err)
	}
	s := &Server{
		t:           t,
		router:      router,
		doc:         doc,
		now:         time.Now,
		tokens:      map[string]tokenInfo{DefaultToken: {writeChecks: true}},
		nextID:      1000,
		checkRuns:   map[int64]*CheckRun{},
		artifacts:   map[int64]*artifact{},
		faults:      map[string][]Fault{},
		calls:       map[string]int{},
		blobSecrets: map[string]int64{},
	}
	s.handlers = s.routes()
	maps.Copy(s.handlers, s.runnerRoutes())
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL + "/"
	t.Cleanup(s.Close)
	return s
}

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// HTTPClient returns an HTTP client for the server, without credentials.
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// Client returns a go-github client pointed at the server that
// authenticates with token.
func (s *Server) Client(token string) *github.Client {
	c := github.NewClient(s.srv.Client()).WithAuthToken(token)
	u, _ := url.Parse(s.URL)
	c.BaseURL, c.UploadURL = u, u
	return c
}

// Fault is an error response injected with FailNext.
type Fault struct {
	Status           int
	Message          string
	DocumentationURL string
	RetryAfter       time.Duration // sent as Retry-After (whole seconds) when > 0
}

// ServerError is a fault with the given 5xx status.
func ServerError(status int) Fault {
	return Fault{Status: status, Message: http.StatusText(status)}
}

// SecondaryRateLimit is the 403 GitHub sends when a client exceeds a
// secondary rate limit.
func SecondaryRateLimit(retryAfter time.Duration) Fault {
	return Fault{
		Status:           http.StatusForbidden,
		Message:          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
		DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		RetryAfter:       retryAfter,
	}
}

// TooManyRequests is a 429 with Retry-After.
func TooManyRequests(retryAfter time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, Message: "Too Many Requests", RetryAfter: retryAfter}
}

// FailNext makes the next n calls to the operation (an operation id of
// GitHub's description, such as "checks/create") answer with f.
func (s *Server) FailNext(operationID string, n int, f Fault) {
	s.t.Helper()
	if !s.hasOperation(operationID) {
		s.t.Errorf("githubtest: FailNext: no operation %q in GitHub's description", operationID)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[operationID] = append(s.faults[operationID], f)
	}
}

func (s *Server) hasOperation(id string) bool {
	for _, item := range s.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID == id {
				return true
			}
		}
	}
	return false
}

// Calls returns how many requests reached the operation (faults,
// authentication failures and invalid requests included).
func (s *Server) Calls(operationID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[operationID]
}

// Busy is the time the server spent handling requests: reading them,
// checking them and its answers against GitHub's description, answering.
// A benchmark of a client that makes one request at a time takes it out of
// its wall time to get the client's own.
func (s *Server) Busy() time.Duration { return time.Duration(s.busy.Load()) }

// CallCounts returns the number of requests per operation id.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		m[k] = v
	}
	return m
}

// TotalCalls returns the number of API requests served.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.calls {
		n += v
	}
	return n
}

// ResetCalls sets every call count to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

// call is one request being served.
type call struct {
	r      *http.Request
	op     string
	params map[string]string
	body   []byte
	in     *openapi3filter.RequestValidationInput
	token  string
}

// reply is a response before validation.
type reply struct {
	status int
	header http.Header
	body   any    // marshalled as JSON unless raw is set
	raw    []byte // a body sent as is
}

type handler func(*call) reply

var _ http.Handler = (*Server)(nil)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { s.busy.Add(int64(time.Since(start))) }()
	if strings.HasPrefix(r.URL.Path, blobPrefix) {
		s.serveBlob(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "githubtest: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	r = r.Clone(r.Context())
	if p := strings.TrimPrefix(r.URL.Path, enterprisePrefix); p != r.URL.Path && strings.HasPrefix(p, "/") {
		r.URL.Path, r.URL.RawPath = p, ""
	}
	rt, params, err := s.router.FindRoute(r)
	if err != nil {
		s.t.Errorf("githubtest: %s %s: not an operation of GitHub's description: %v", r.Method, r.URL.Path, err)
		writeJSON(w, http.StatusNotFound, nil, basicError(http.StatusNotFound, "Not Found", ""))
		return
	}
	if rb := rt.Operation.RequestBody; rb != nil && rb.Value != nil && !rb.Value.Required && string(bytes.TrimSpace(body)) == "null" {
		// GitHub takes a JSON null for an optional body as no body;
		// ghinstallation sends one when asking for an installation token.
		body = nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	c := &call{r: r, op: rt.Operation.OperationID, params: params, body: body}
	s.mu.Lock()
	s.calls[c.op]++
	s.mu.Unlock()
	c.in = &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      rt,
		Options:    &openapi3filter.Options{SkipSettingDefaults: true},
	}
	if err := openapi3filter.ValidateRequest(r.Context(), c.in); err != nil {
		s.t.Errorf("githubtest: %s (%s %s): the request does not match GitHub's description: %v", c.op, r.Method, r.URL.Path, err)
		s.send(w, c, errorReply(http.StatusUnprocessableEntity, "Invalid request: "+err.Error(), ""))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.send(w, c, s.serve(c))
}

func (s *Server) serve(c *call) reply {
	if rep, ok := s.authenticate(c); !ok {
		return rep
	}
	s.mu.Lock()
	if fs := s.faults[c.op]; len(fs) > 0 {
		f := fs[0]
		s.faults[c.op] = fs[1:]
		s.mu.Unlock()
		rep := errorReply(f.Status, f.Message, f.DocumentationURL)
		if f.RetryAfter > 0 {
			secs := int((f.RetryAfter + time.Second - 1) / time.Second)
			rep.header.Set("Retry-After", strconv.Itoa(secs))
		}
		return rep
	}
	s.mu.Unlock()
	h, ok := s.handlers[c.op]
	if !ok {
		s.t.Errorf("githubtest: %s: the fake does not implement this operation", c.op)
		return errorReply(http.StatusNotImplemented, "githubtest: "+c.op+" is not implemented", "")
	}
	return h(c)
}

// send validates the reply against GitHub's description and writes it.
func (s *Server) send(w http.ResponseWriter, c *call, rep reply) {
	if rep.header == nil {
		rep.header = http.Header{}
	}
	b := rep.raw
	if rep.body != nil {
		var err error
		if b, err = json.Marshal(rep.body); err != nil {
			s.t.Errorf("githubtest: %s: encoding the response: %v", c.op, err)
			writeJSON(w, http.StatusInternalServerError, nil, basicError(500, err.Error(), ""))
			return
		}
		rep.header.Set("Content-Type", "application/json; charset=utf-8")
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: c.in,
		Status:                 rep.status,
		Header:                 rep.header,
		Options:                &openapi3filter.Options{},
	}
	in.SetBodyBytes(b)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		s.t.Errorf("githubtest: %s: the fake's %d response does not match GitHub's description: %v", c.op, rep.status, err)
		writeJSON(w, http.StatusInternalServerError, nil, basicError(500, "githubtest: invalid response: "+err.Error(), ""))
		return
	}
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rep.status)
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, h http.Header, v any) {
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func basicError(status int, msg, doc string) map[string]any {
	if doc == "" {
		doc = "https://docs.github.com/rest"
	}
	return map[string]any{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)}
}

func errorReply(status int, msg, doc string) reply {
	return reply{status: status, header: http.Header{}, body: basicError(status, msg, doc)}
}

func jsonReply(status int, v any) reply { return reply{status: status, header: http.Header{}, body: v} }

// decode unmarshals the request body, already validated against the
// description, into v.
func (c *call) decode(v any) error {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return fmt.Errorf("githubtest: %s: decoding the request: %w", c.op, err)
	}
	return nil
}

func (c *call) int64Param(name string) int64 {
	n, _ := strconv.ParseInt(c.params[name], 10, 64)
	return n
}

// paginate cuts items to the page the request asks for and sets a Link
// header like GitHub's.
func paginate[T any](s *Server, c *call, items []T, h http.Header) []T {
	q := c.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	last := max((len(items)+per-1)/per, 1)
	link := func(p int, rel string) string {
		u := *c.r.URL
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		u.RawQuery = v.Encode()
		return fmt.Sprintf("<%s%s>; rel=%q", strings.TrimSuffix(s.URL, "/"), u.RequestURI(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		h.Set("Link", strings.Join(links, ", "))
	}
	lo := min((page-1)*per, len(items))
	hi := min(lo+per, len(items))
	return items[lo:hi]
}

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
