package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/balena/leviathan-action/action/config"
)

// runner is a step's environment: the runner's variables plus inputs.
type runner struct {
	dir  string
	vars map[string]string
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	for _, v := range []string{"WORKER_URL", "LEASE", "WORKER_TOKEN", "TESTRUNNER_IMAGE", "JOB_DIR"} {
		t.Setenv("LEVIATHAN_"+v, "")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "balena.img")
	if err := os.WriteFile(img, make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junit.xml"), []byte("<testsuites/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tests", "suites", "hup"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &runner{dir: dir, vars: map[string]string{
		"GITHUB_WORKSPACE":   dir,
		"GITHUB_REPOSITORY":  "balena-os/balena-raspberrypi",
		"GITHUB_SHA":         "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_REF":         "refs/heads/main",
		"GITHUB_RUN_ID":      "4242",
		"GITHUB_JOB":         "test",
		"INPUT_GITHUB-TOKEN": "ghs_tokenvalue",
	}}
}

func (r *runner) load(inputs map[string]string) (*config.Config, error) {
	vars := maps.Clone(r.vars)
	for k, v := range inputs {
		if strings.HasPrefix(k, "$") {
			vars[k[1:]] = v
			continue
		}
		vars["INPUT_"+strings.ToUpper(k)] = v
	}
	return config.Load(githubactions.New(githubactions.WithGetenv(func(k string) string { return vars[k] })))
}

func rsaKey(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestBadInputsNameTheInput(t *testing.T) {
	r := newRunner(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	const keySecret = "MIIEsecretkeymaterialXYZ"
	badPEM := "-----BEGIN RSA PRIVATE KEY-----\n" + keySecret + "\n-----END RSA PRIVATE KEY-----\n"

	submit := map[string]string{"mode": "submit", "image": "balena.img"}
	test := map[string]string{"mode": "test", "artifact": "build-artifacts", "worker-url": "http://127.0.0.1:4321"}
	report := map[string]string{"mode": "report", "junit": "junit.xml"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		want   string // the input or variable the error names
		detail string // and a piece of the message
	}{
		{"no mode", with(submit, "mode", "<unset>"), `input "mode"`, "required"},
		{"unknown mode", with(submit, "mode", "deploy"), `input "mode"`, `"deploy" is not a mode`},
		{"submit without image", with(submit, "image", "<unset>"), `input "image"`, "required in submit mode"},
		{"submit missing image", with(submit, "image", "out/missing.img"), `input "image"`, "no such file"},
		{"submit directory", with(submit, "image", "tests"), `input "image"`, "not a regular file"},
		{"submit URL", with(submit, "image", "https://example.invalid/a.img"), `input "image"`, "not a URL"},
		{"submit with artifact-id", with(submit, "artifact-id", "5"), `input "artifact-id"`, "only in test mode"},
		{"bad artifact name", with(submit, "artifact", "a/b"), `input "artifact"`, "cannot contain"},
		{"dispatch without device types", with(submit, "dispatch-workflow", "leviathan-test.yml"), `input "dispatch-device-types"`, "required with dispatch-workflow"},
		{"dispatch path", with(submit, "dispatch-workflow", ".github/workflows/t.yml", "dispatch-device-types", "x"), `input "dispatch-workflow"`, "file in .github/workflows"},
		{"dispatch device types without workflow", with(submit, "dispatch-device-types", "generic-amd64"), `input "dispatch-workflow"`, "required with"},
		{"dispatch bad JSON", with(submit, "dispatch-workflow", "t.yml", "dispatch-device-types", `["a",`), `input "dispatch-device-types"`, "JSON array"},
		{"dispatch without credentials", with(submit, "dispatch-workflow", "t.yml", "dispatch-device-types", "a", "$INPUT_GITHUB-TOKEN", ""), `input "github-token"`, "needs credentials"},
		{"sha256", with(submit, "image-sha256", "abc"), `input "image-sha256"`, "64 hexadecimal"},
		{"device type", with(test, "device-type", "rpi 4"), `input "device-type"`, "letters, digits"},
		{"run regexp", with(test, "run", "Test(["), `input "run"`, "regular expression"},
		{"config syntax", with(test, "config", "{a: [1,"), `input "config"`, "not JSON or YAML"},
		{"config scalar file missing", with(test, "config", "tests/suites/os/config.json"), `input "config"`, "readable file"},
		{"config not a mapping", with(test, "config", "- a\n- b\n"), `input "config"`, "mapping"},
		{"env name", with(test, "env", "BALENA_API_KEY\nnot-a-name"), `input "env"`, `"not-a-name"`},
		{"env reserved", with(test, "env", "ACTIONS_RUNTIME_TOKEN"), `input "env"`, "reserved"},
		{"verify boolean", with(test, "verify", "yes"), `input "verify"`, "not a boolean"},
		{"delta boolean", with(test, "delta", "1"), `input "delta"`, "not a boolean"},
		{"boot timeout", with(test, "boot-timeout", "5 minutes"), `input "boot-timeout"`, "not a duration"},
		{"boot timeout negative", with(test, "boot-timeout", "-5m"), `input "boot-timeout"`, "positive"},
		{"artifact-id number", with(test, "artifact", "<unset>", "artifact-id", "12x"), `input "artifact-id"`, "positive integer"},
		{"artifact-run-id number", with(test, "artifact-run-id", "-1"), `input "artifact-run-id"`, "positive integer"},
		{"artifact-run-id alone", with(test, "artifact", "<unset>", "artifact-run-id", "77", "image", "balena.img"), `input "artifact-run-id"`, "give artifact too"},
		{"member without artifact", with(test, "artifact", "<unset>", "image", "balena.img", "artifact-member", "image/balena.img"), `input "artifact-member"`, "only with artifact"},
		{"member escapes", with(test, "artifact-member", "../x.img"), `input "artifact-member"`, "relative path"},
		{"test without image", with(test, "artifact", "<unset>"), `input "image"`, "needs an image"},
		{"test with two sources", with(test, "image", "balena.img"), `input "image"`, "only one of"},
		{"test missing image", with(test, "artifact", "<unset>", "image", "nope.img"), `input "image"`, "no such file"},
		{"test without worker", with(test, "worker-url", "<unset>"), `input "worker-url"`, "LEVIATHAN_WORKER_URL"},
		{"worker URL", with(test, "worker-url", "127.0.0.1:4321"), `input "worker-url"`, "http://host:port"},
		{"suite path escapes", with(test, "suites", "os, ../other"), `input "suites"`, "inside the workspace"},
		{"suite path missing", with(test, "suites", "tests/suites/cloud"), `input "suites"`, "neither a built-in"},
		{"test dispatch", with(test, "dispatch-workflow", "t.yml"), `input "dispatch-workflow"`, "only in submit mode"},
		{"no repository", with(test, "$GITHUB_REPOSITORY", ""), "GITHUB_REPOSITORY", "not set"},
		{"bad run id", with(report, "$GITHUB_RUN_ID", "x"), "GITHUB_*", "invalid syntax"},
		{"report without junit", with(report, "junit", "<unset>"), `input "junit"`, "required in report mode"},
		{"report junit no match", with(report, "junit", "reports/*.xml"), `input "junit"`, `no file matches "reports/*.xml"`},
		{"report junit bad glob", with(report, "junit", "x["), `input "junit"`, "syntax error"},
		{"app id number", with(report, "app-id", "abc", "app-private-key", rsaKey(t)), `input "app-id"`, "positive integer"},
		{"app without key", with(report, "app-id", "7"), `input "app-private-key"`, "required with app-id"},
		{"key without app", with(report, "app-private-key", rsaKey(t)), `input "app-id"`, "required with"},
		{"installation id", with(report, "app-id", "7", "app-private-key", rsaKey(t), "app-installation-id", "0"), `input "app-installation-id"`, "positive integer"},
		{"key not PEM", with(report, "app-id", "7", "app-private-key", keySecret), `input "app-private-key"`, "not a PEM-encoded"},
		{"key bad PEM body", with(report, "app-id", "7", "app-private-key", badPEM), `input "app-private-key"`, "not a readable private key"},
		{"key not RSA", with(report, "app-id", "7", "app-private-key", ecPEM), `input "app-private-key"`, "not an RSA key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.load(tc.inputs)
			if err == nil {
				t.Fatalf("no error; want one naming %s", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.detail) {
				t.Errorf("error %q\nwant it to name %s and say %q", msg, tc.want, tc.detail)
			}
			if strings.Contains(msg, keySecret) || strings.Contains(msg, "PRIVATE KEY-----\nMII") || strings.Contains(msg, "ghs_tokenvalue") {
				t.Errorf("error quotes a secret: %q", msg)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	r := newRunner(t)
	_, err := r.load(map[string]string{"mode": "test", "verify": "maybe", "boot-timeout": "soon", "run": "("})
	for _, in := range []string{`"verify"`, `"boot-timeout"`, `"run"`, `"image"`, `"worker-url"`} {
		if err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("error %v does not name %s", err, in)
		}
	}
}

func TestTestMode(t *testing.T) {
	r := newRunner(t)
	r.vars["LEVIATHAN_WORKER_URL"] = "http://127.0.0.1:4321"
	r.vars["LEVIATHAN_LEASE"] = "lease-1"
	r.vars["LEVIATHAN_WORKER_TOKEN"] = "worker-secret"
	r.vars["LEVIATHAN_JOB_DIR"] = "/tmp/job"
	r.vars["BALENA_API_KEY"] = "api-secret-value"
	c, err := r.load(map[string]string{
		"mode": "test", "artifact": "build-artifacts", "artifact-member": "image/balena.img",
		"artifact-run-id": "1234", "device-type": "raspberrypi4-64",
		"suites": "os\ntests/suites/hup", "run": "TestBoot|TestHUP",
		"config": `{"balenaApiUrl": "balena-cloud.com", "organization": "testbot"}`,
		"env":    "BALENA_API_KEY, MISSING_ONE", "boot-timeout": "300", "verify": "False", "delta": "true",
		"image-sha256": strings.Repeat("AB", 32),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := config.Source{Artifact: "build-artifacts", RunID: 1234, Member: "image/balena.img"}
	if c.Source != want {
		t.Errorf("source %+v, want %+v", c.Source, want)
	}
	if c.Mode != config.Test || c.WorkerURL != "http://127.0.0.1:4321" || c.Leviathan.Lease != "lease-1" || c.Leviathan.JobDir != "/tmp/job" {
		t.Errorf("config %+v", c)
	}
	if c.BootTimeout != 5*time.Minute || c.Verify || !c.Delta || c.ImageSHA256 != strings.Repeat("ab", 32) {
		t.Errorf("boot timeout %v, verify %v, delta %v, sha %s", c.BootTimeout, c.Verify, c.Delta, c.ImageSHA256)
	}
	if !slices.Equal(c.Suites, []string{"os", "tests/suites/hup"}) || !slices.Equal(c.EnvNames, []string{"BALENA_API_KEY", "MISSING_ONE"}) {
		t.Errorf("suites %q, env %q", c.Suites, c.EnvNames)
	}
	if c.Env["BALENA_API_KEY"] != "api-secret-value" || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "MISSING_ONE") {
		t.Errorf("env %v, warnings %q", c.Env, c.Warnings)
	}
	if got := c.Secrets(); !slices.Equal(got, []string{"ghs_tokenvalue", "worker-secret", "api-secret-value"}) {
		t.Errorf("secrets %q", got)
	}
	if c.NameFormat() != "leviathan / {suite} / {device}" {
		t.Errorf("name format %q", c.NameFormat())
	}
}

func TestWorkerURLInputWins(t *testing.T) {
	r := newRunner(t)
	r.vars["LEVIATHAN_WORKER_URL"] = "http://127.0.0.1:4321"
	c, err := r.load(map[string]string{"mode": "test", "image": "https://images.example.invalid/balena.img.zst", "worker-url": "http://10.0.0.2:4321"})
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkerURL != "http://10.0.0.2:4321" || c.Source.URL == "" || !slices.Equal(c.Suites, []string{config.DefaultSuite}) || !c.Verify {
		t.Errorf("config %+v", c)
	}
	r.vars["LEVIATHAN_WORKER_URL"] = "not a url"
	if _, err := r.load(map[string]string{"mode": "test", "image": "balena.img"}); err == nil || !strings.Contains(err.Error(), "LEVIATHAN_WORKER_URL") {
		t.Errorf("bad LEVIATHAN_WORKER_URL: %v", err)
	}
}

// TestLeviathanThroughGetenv checks that the LEVIATHAN_ variables come
// from the injected getenv, never from the process's environment, which
// may have had the worker token sealed out of it.
func TestLeviathanThroughGetenv(t *testing.T) {
	r := newRunner(t)
	for _, v := range []string{"WORKER_URL", "LEASE", "WORKER_TOKEN", "TESTRUNNER_IMAGE", "JOB_DIR"} {
		t.Setenv("LEVIATHAN_"+v, "from-os")
	}
	c, err := r.load(map[string]string{"mode": "report", "junit": "junit.xml"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Leviathan != (config.Leviathan{}) {
		t.Errorf("read from the process's environment: %+v", c.Leviathan)
	}
	for _, v := range []string{"WORKER_URL", "LEASE", "WORKER_TOKEN", "TESTRUNNER_IMAGE", "JOB_DIR"} {
		r.vars["LEVIATHAN_"+v] = "getenv-" + v
	}
	r.vars["LEVIATHAN_WORKER_URL"] = "http://127.0.0.1:4321"
	if c, err = r.load(map[string]string{"mode": "report", "junit": "junit.xml"}); err != nil {
		t.Fatal(err)
	}
	want := config.Leviathan{WorkerURL: "http://127.0.0.1:4321", Lease: "getenv-LEASE", WorkerToken: "getenv-WORKER_TOKEN",
		TestrunnerImage: "getenv-TESTRUNNER_IMAGE", JobDir: "getenv-JOB_DIR"}
	if c.Leviathan != want {
		t.Errorf("leviathan %+v, want %+v", c.Leviathan, want)
	}
	if !slices.Contains(c.Secrets(), "getenv-WORKER_TOKEN") {
		t.Errorf("secrets %q lack the worker token", c.Secrets())
	}
}

func TestPullRequestHeadAndRef(t *testing.T) {
	r := newRunner(t)
	ev := filepath.Join(r.dir, "event.json")
	os.WriteFile(ev, []byte(`{"pull_request": {"number": 7, "head": {"sha": "feedfacefeedfacefeedfacefeedfacefeedface"}}}`), 0o644)
	r.vars["GITHUB_EVENT_PATH"], r.vars["GITHUB_EVENT_NAME"], r.vars["GITHUB_HEAD_REF"] = ev, "pull_request", "feature"
	c, err := r.load(map[string]string{"mode": "report", "junit": "*.xml", "check-name": "os tests / {device-type}"})
	if err != nil {
		t.Fatal(err)
	}
	if c.GitHub.HeadSHA != "feedfacefeedfacefeedfacefeedfacefeedface" || c.GitHub.Ref != "feature" {
		t.Errorf("head %s ref %s", c.GitHub.HeadSHA, c.GitHub.Ref)
	}
	if !slices.Equal(c.JUnit, []string{filepath.Join(r.dir, "junit.xml")}) || c.NameFormat() != "os tests / {device}" {
		t.Errorf("junit %q name %q", c.JUnit, c.NameFormat())
	}
}

func TestUnderscoreInputsAndApp(t *testing.T) {
	r := newRunner(t)
	key := rsaKey(t)
	delete(r.vars, "INPUT_GITHUB-TOKEN")
	// The composite action passes inputs as INPUT_APP_ID and so on; a
	// key from a one-line secret has literal \n.
	c, err := r.load(map[string]string{"mode": "report", "junit": "junit.xml", "app_id": "7",
		"app_private_key": strings.ReplaceAll(strings.TrimSpace(key), "\n", `\n`), "app_installation_id": "70"})
	if err != nil {
		t.Fatal(err)
	}
	if c.App == nil || c.App.ID != 7 || c.App.InstallationID != 70 || string(c.App.PrivateKey) != key {
		t.Fatalf("app %+v", c.App)
	}
	sec := c.Secrets()
	lines := strings.Split(strings.TrimSpace(key), "\n")
	for _, l := range lines[1 : len(lines)-1] {
		if !slices.Contains(sec, l) {
			t.Errorf("key line %q is not masked", l)
		}
	}
	if slices.Contains(sec, lines[0]) {
		t.Errorf("the PEM armour %q is masked", lines[0])
	}
}

func TestSubmitAndDispatch(t *testing.T) {
	r := newRunner(t)
	c, err := r.load(map[string]string{"mode": "SUBMIT", "image": "balena.img", "artifact": "leviathan-image",
		"dispatch-workflow": "leviathan-test.yml", "dispatch-device-types": `["raspberrypi4-64", "generic-amd64"]`, "dispatch-suites": "os,hup"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != config.Submit || c.Source.Path != filepath.Join(r.dir, "balena.img") || c.Artifact != "leviathan-image" {
		t.Errorf("config %+v", c)
	}
	want := config.Dispatch{Workflow: "leviathan-test.yml", DeviceTypes: []string{"raspberrypi4-64", "generic-amd64"}, Suites: []string{"os", "hup"}}
	if c.Dispatch.Workflow != want.Workflow || !slices.Equal(c.Dispatch.DeviceTypes, want.DeviceTypes) || !slices.Equal(c.Dispatch.Suites, want.Suites) {
		t.Errorf("dispatch %+v", c.Dispatch)
	}
}

func TestConfigFromFile(t *testing.T) {
	r := newRunner(t)
	os.WriteFile(filepath.Join(r.dir, "tests", "suites", "hup", "config.yml"), []byte("deviceType: raspberrypi4-64\n"), 0o644)
	c, err := r.load(map[string]string{"mode": "test", "image": "balena.img", "worker-url": "http://127.0.0.1:1",
		"config": "tests/suites/hup/config.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if string(c.SuiteConfig) != "deviceType: raspberrypi4-64\n" {
		t.Errorf("config %q", c.SuiteConfig)
	}
}
