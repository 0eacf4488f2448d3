package artifact_test

import (
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/artifact"
)

func TestConfigFromGetenv(t *testing.T) {
	// The process's environment must not be consulted.
	t.Setenv(artifact.EnvRuntimeToken, "from-os")
	t.Setenv(artifact.EnvResultsURL, "http://from-os/")
	for _, tc := range []struct {
		name string
		env  map[string]string
		want artifact.Config
		err  string // empty: no error
	}{
		{"both", map[string]string{"ACTIONS_RUNTIME_TOKEN": "tok", "ACTIONS_RESULTS_URL": "https://results/"},
			artifact.Config{RuntimeToken: "tok", ResultsURL: "https://results/"}, ""},
		{"none", nil, artifact.Config{}, "ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL not set"},
		{"no token", map[string]string{"ACTIONS_RESULTS_URL": "https://results/"},
			artifact.Config{ResultsURL: "https://results/"}, "ACTIONS_RUNTIME_TOKEN not set"},
		{"no url", map[string]string{"ACTIONS_RUNTIME_TOKEN": "tok"},
			artifact.Config{RuntimeToken: "tok"}, "ACTIONS_RESULTS_URL not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := artifact.ConfigFromGetenv(func(k string) string { return tc.env[k] })
			if c != tc.want {
				t.Errorf("config %+v, want %+v", c, tc.want)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}
