package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// App is a GitHub App known to the server, with one installation.
type App struct {
	ID             int64
	InstallationID int64
	// PublicKey checks the JWT's signature; when nil only the JWT's shape
	// (RS256 header, issuer, expiry) is checked.
	PublicKey *rsa.PublicKey
	// Repos lists the "owner/repo" names the installation covers; all
	// repositories when empty.
	Repos []string
}

func (a App) covers(owner, repo string) bool {
	if len(a.Repos) == 0 {
		return true
	}
	for _, r := range a.Repos {
		if strings.EqualFold(r, owner+"/"+repo) {
			return true
		}
	}
	return false
}

// jwtOperations authenticate as the app itself, with a JWT.
var jwtOperations = map[string]bool{
	"apps/get-authenticated":                true,
	"apps/create-installation-access-token": true,
	"apps/get-repo-installation":            true,
	"apps/get-org-installation":             true,
	"apps/get-user-installation":            true,
}

// checkWrites need the checks:write permission.
var checkWrites = map[string]bool{
	"checks/create":                 true,
	"checks/update":                 true,
	"checks/rerequest-run":          true,
	"checks/create-suite":           true,
	"checks/rerequest-suite":        true,
	"checks/set-suites-preferences": true,
}

// authenticate checks the request's credentials; it returns the reply to
// send and false when they are refused.
func (s *Server) authenticate(c *call) (reply, bool) {
	scheme, cred, _ := strings.Cut(c.r.Header.Get("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	if jwtOperations[c.op] {
		if !strings.EqualFold(scheme, "Bearer") || cred == "" {
			return errorReply(http.StatusUnauthorized, "A JSON web token could not be decoded", ""), false
		}
		app, err := s.checkJWT(cred)
		if err != nil {
			return errorReply(http.StatusUnauthorized, "A JSON web token could not be decoded: "+err.Error(), ""), false
		}
		c.token = strconv.FormatInt(app.ID, 10)
		return reply{}, true
	}
	if (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "token")) || cred == "" {
		return errorReply(http.StatusUnauthorized, "Requires authentication", ""), false
	}
	s.mu.Lock()
	info, ok := s.tokens[cred]
	s.mu.Unlock()
	if !ok {
		return errorReply(http.StatusUnauthorized, "Bad credentials", ""), false
	}
	if checkWrites[c.op] && !info.writeChecks {
		return errorReply(http.StatusForbidden, "Resource not accessible by integration",
			"https://docs.github.com/rest/checks/runs#create-a-check-run"), false
	}
	c.token = cred
	return reply{}, true
}

// checkJWT checks an app's JWT: three base64url parts, an RS256 header,
// an issuer naming a known app, a live expiry, and the signature when the
// app's public key is known.
func (s *Server) checkJWT(tok string) (App, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return App{}, errors.New("not three parts")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return App{}, fmt.Errorf("header: %w", err)
	}
	if hdr.Alg != "RS256" {
		return App{}, fmt.Errorf("alg %q, want RS256", hdr.Alg)
	}
	var claims struct {
		Iss any   `json:"iss"`
		Exp int64 `json:"exp"`
		Iat int64 `json:"iat"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return App{}, fmt.Errorf("claims: %w", err)
	}
	var iss string
	switch v := claims.Iss.(type) {
	case string:
		iss = v
	case float64:
		iss = strconv.FormatInt(int64(v), 10)
	}
	now := s.now()
	if claims.Exp == 0 || time.Unix(claims.Exp, 0).Before(now) {
		return App{}, errors.New("expired or no exp")
	}
	if time.Unix(claims.Exp, 0).Sub(time.Unix(claims.Iat, 0)) > 10*time.Minute {
		return App{}, errors.New("exp is more than 10 minutes after iat")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		return App{}, errors.New("bad signature encoding")
	}
	s.mu.Lock()
	apps := s.apps
	s.mu.Unlock()
	for _, a := range apps {
		if strconv.FormatInt(a.ID, 10) != iss {
			continue
		}
		if a.PublicKey != nil {
			h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
			if err := rsa.VerifyPKCS1v15(a.PublicKey, crypto.SHA256, h[:], sig); err != nil {
				return App{}, errors.New("signature does not match the app's key")
			}
		}
		return a, nil
	}
	return App{}, fmt.Errorf("no app with id %q", iss)
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (s *Server) appOf(c *call) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.apps {
		if strconv.FormatInt(a.ID, 10) == c.token {
			return a, true
		}
	}
	return App{}, false
}

func (s *Server) createInstallationToken(c *call) reply {
	app, _ := s.appOf(c)
	if c.int64Param("installation_id") != app.InstallationID {
		return errorReply(http.StatusNotFound, "Not Found", "")
	}
	b := make([]byte, 18)
	rand.Read(b)
	tok := "ghs_" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = tokenInfo{writeChecks: true}
	s.mu.Unlock()
	return jsonReply(http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           s.now().Add(time.Hour).UTC().Format(time.RFC3339),
		"permissions":          map[string]any{"checks": "write", "actions": "read", "metadata": "read"},
		"repository_selection": "all",
	})
}

func (s *Server) getRepoInstallation(c *call) reply {
	app, _ := s.appOf(c)
	if app.InstallationID == 0 || !app.covers(c.params["owner"], c.params["repo"]) {
		return errorReply(http.StatusNotFound, "Not Found", "")
	}
	return jsonReply(http.StatusOK, s.installationJSON(app, c.params["owner"]))
}

func (s *Server) installationJSON(a App, owner string) map[string]any {
	now := s.stamp(s.now())
	return map[string]any{
		"id":                   a.InstallationID,
		"app_id":               a.ID,
		"app_slug":             "leviathan-test-app",
		"target_id":            1,
		"target_type":          "Organization",
		"single_file_name":     nil,
		"repository_selection": "all",
		"access_tokens_url":    fmt.Sprintf("%sapp/installations/%d/access_tokens", s.URL, a.InstallationID),
		"html_url":             fmt.Sprintf("%sorganizations/%s/settings/installations/%d", s.URL, owner, a.InstallationID),
		"repositories_url":     s.URL + "installation/repositories",
		"events":               []string{"check_run"},
		"account":              s.userJSON(owner, 1),
		"permissions":          map[string]any{"checks": "write", "actions": "read", "metadata": "read"},
		"created_at":           now,
		"updated_at":           now,
		"suspended_by":         nil,
		"suspended_at":         nil,
	}
}

func (s *Server) userJSON(login string, id int64) map[string]any {
	u := s.URL + "users/" + login
	return map[string]any{
		"login": login, "id": id, "node_id": "U_" + login, "type": "Organization", "site_admin": false,
		"avatar_url": s.URL + "avatars/" + login, "gravatar_id": "", "url": u, "html_url": s.URL + login,
		"events_url": u + "/events{/privacy}", "followers_url": u + "/followers",
		"following_url": u + "/following{/other_user}", "gists_url": u + "/gists{/gist_id}",
		"organizations_url": u + "/orgs", "received_events_url": u + "/received_events",
		"repos_url": u + "/repos", "starred_url": u + "/starred{/owner}{/repo}",
		"subscriptions_url": u + "/subscriptions",
	}
}
