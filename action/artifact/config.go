package artifact

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Environment variables read by ConfigFromEnv and ConfigFromGetenv.
const (
	EnvRuntimeToken = "ACTIONS_RUNTIME_TOKEN"
	EnvResultsURL   = "ACTIONS_RESULTS_URL"
)

// Config is where the results service is and how to authenticate to it.
type Config struct {
	// RuntimeToken is the job's ACTIONS_RUNTIME_TOKEN.
	RuntimeToken string
	// ResultsURL is the job's ACTIONS_RESULTS_URL; only its scheme and host
	// are used.
	ResultsURL string
}

// ConfigFromEnv reads ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL from the
// process's environment: ConfigFromGetenv(os.Getenv).
func ConfigFromEnv() (Config, error) {
	return ConfigFromGetenv(os.Getenv)
}

// ConfigFromGetenv reads ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL through
// getenv, for a program that keeps the runtime token out of its environment.
// The error names each variable that is missing.
func ConfigFromGetenv(getenv func(string) string) (Config, error) {
	c := Config{RuntimeToken: getenv(EnvRuntimeToken), ResultsURL: getenv(EnvResultsURL)}
	var missing []string
	if c.RuntimeToken == "" {
		missing = append(missing, EnvRuntimeToken)
	}
	if c.ResultsURL == "" {
		missing = append(missing, EnvResultsURL)
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("artifact: %s not set: the artifact service is only reachable from a GitHub Actions job step (or a test server)", strings.Join(missing, " and "))
	}
	return c, nil
}

// BackendIDs are the run and job the runtime token is scoped to, as the
// results service names them.
type BackendIDs struct {
	Run string
	Job string
}

// parseToken returns the backend ids from the token's "scp" claim. The
// token's signature is not checked: the service does that.
func parseToken(token string) (BackendIDs, error) {
	bad := func(why string) (BackendIDs, error) {
		return BackendIDs{}, fmt.Errorf("artifact: %s is not a runtime token: %s", EnvRuntimeToken, why)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return bad("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return bad("payload is not base64url")
	}
	var claims struct {
		Scp string `json:"scp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return bad("payload is not JSON")
	}
	for _, scope := range strings.Fields(claims.Scp) {
		f := strings.Split(scope, ":")
		if len(f) == 3 && f[0] == "Actions.Results" && f[1] != "" && f[2] != "" {
			return BackendIDs{Run: f[1], Job: f[2]}, nil
		}
	}
	return bad("no Actions.Results:<run>:<job> scope in its scp claim")
}

// serviceBase returns scheme://host of the results URL.
func serviceBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("artifact: %s: %w", EnvResultsURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("artifact: %s=%q: want an http(s) URL", EnvResultsURL, raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

var errEmptyName = errors.New("artifact: empty artifact name")
