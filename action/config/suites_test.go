package config_test

import (
	"slices"
	"strings"
	"testing"
)

// TestSuiteInputs: submit compiles workspace suites for suite-arch
// (validated, amd64 and arm64 by default) and only warns about built-in
// names; the testbot's compile may use the module proxy only when
// suite-go-proxy says so.
func TestSuiteInputs(t *testing.T) {
	r := newRunner(t)
	submit := map[string]string{"mode": "submit", "image": "balena.img", "suites": "tests/suites/hup"}
	c, err := r.load(submit)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Suites, []string{"tests/suites/hup"}) || !slices.Equal(c.SuiteArch, []string{"amd64", "arm64"}) || len(c.Warnings) != 0 {
		t.Errorf("suites %q, arches %q, warnings %q", c.Suites, c.SuiteArch, c.Warnings)
	}

	submit["suite-arch"] = " arm64 ,riscv64"
	submit["suites"] = "os, ./tests/suites/hup"
	if c, err = r.load(submit); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.SuiteArch, []string{"arm64", "riscv64"}) {
		t.Errorf("arches %q", c.SuiteArch)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "os is a built-in suite") {
		t.Errorf("warnings %q; want one on the built-in name", c.Warnings)
	}

	c, err = r.load(map[string]string{"mode": "test", "artifact": "a", "worker-url": "http://127.0.0.1:1", "suite-go-proxy": "true"})
	if err != nil || !c.SuiteGoProxy {
		t.Errorf("suite-go-proxy true: %v, %v", c.SuiteGoProxy, err)
	}
	if c, err = r.load(map[string]string{"mode": "test", "artifact": "a", "worker-url": "http://127.0.0.1:1"}); err != nil || c.SuiteGoProxy {
		t.Errorf("suite-go-proxy by default: %v, %v", c.SuiteGoProxy, err)
	}
	// action.yml's defaults reach every mode.
	if _, err = r.load(map[string]string{"mode": "test", "artifact": "a", "worker-url": "http://127.0.0.1:1", "suite-arch": "amd64,arm64", "suite-go-proxy": "false"}); err != nil {
		t.Errorf("test mode with submit's suite-arch default: %v", err)
	}
	if _, err = r.load(map[string]string{"mode": "submit", "image": "balena.img", "suite-arch": "amd64,arm64", "suite-go-proxy": "false"}); err != nil {
		t.Errorf("submit mode with test's suite-go-proxy default: %v", err)
	}

	for _, tc := range []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"unknown arch", map[string]string{"mode": "submit", "image": "balena.img", "suite-arch": "amd64,x86_64"}, `input "suite-arch": bundle: GOARCH "x86_64" is not one of Go's Linux ports`},
		{"arch twice", map[string]string{"mode": "submit", "image": "balena.img", "suite-arch": "arm64,arm64"}, `input "suite-arch": bundle: GOARCH arm64 is given twice`},
		{"bad JSON", map[string]string{"mode": "submit", "image": "balena.img", "suite-arch": `["amd64"`}, `input "suite-arch": not a JSON array`},
		{"proxy not boolean", map[string]string{"mode": "test", "artifact": "a", "worker-url": "http://127.0.0.1:1", "suite-go-proxy": "maybe"}, `input "suite-go-proxy": "maybe" is not a boolean`},
		{"suite missing", map[string]string{"mode": "submit", "image": "balena.img", "suites": "tests/suites/cloud"}, `input "suites": "tests/suites/cloud" is neither`},
		{"suite escapes", map[string]string{"mode": "submit", "image": "balena.img", "suites": "../hup"}, `input "suites": "../hup": a suite is`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.load(tc.inputs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want %q", err, tc.want)
			}
		})
	}
}
