// Package githubtest serves a fake GitHub REST API on loopback for tests,
// the way net/http/httptest serves a handler, and keeps itself honest:
// every request is routed and validated against GitHub's own OpenAPI
// description (internal/githubspec) with kin-openapi, and every response
// the fake writes is validated against the same description before it is
// sent. A request or response that does not match fails the test
// (t.Errorf naming the operation and the validation error) and the client
// gets a 4xx or 500 so it sees the problem too. Unknown routes get a 404
// and fail the test.
//
// State is kept for what Leviathan uses: check runs (create, update with
// annotations appended across updates, get, list annotations, list for a
// ref), workflow artifacts (list, get, download through a 302 redirect to a
// blob URL on the same server, 410 once expired), workflow dispatches
// (recorded), GitHub App installation tokens, the repository
// installation lookup and just-in-time self-hosted runner registrations
// (repository and organisation; a name taken answers 409).
//
// Authentication follows GitHub: requests carry "Authorization: Bearer
// <token>" or "token <token>"; unknown tokens get 401 "Bad credentials";
// a token made with WithReadOnlyToken gets 403 "Resource not accessible by
// integration" on check-run writes, as GITHUB_TOKEN does in a pull request
// from a fork. App endpoints take an RS256 JWT, whose signature is checked
// when the app's public key is known.
//
// Faults can be injected per operation (FailNext): 5xx, secondary rate
// limits (403 with Retry-After) and 429. Calls are counted per operation id.
//
// Limits: only the operations above have behaviour; any other operation of
// the description is routed and validated but answers 501 and fails the
// test. Paths are accepted with or without GitHub Enterprise's /api/v3
// prefix. Pagination is by page and per_page only. Primary rate limits,
// ETags and conditional requests are not modelled.
package githubtest
