package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"
	"go.yaml.in/yaml/v4"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/suites/bundle"
)

// Mode is what the action does in a step.
type Mode string

// The modes.
const (
	// Submit uploads an image as a workflow artifact (build side).
	Submit Mode = "submit"
	// Test flashes an image on the testbot's DUT, runs suites and
	// reports (testbot side).
	Test Mode = "test"
	// Report publishes a JUnit file as check runs (anywhere).
	Report Mode = "report"
)

// Modes lists the valid modes.
var Modes = []Mode{Submit, Test, Report}

// DefaultCheckName is the check-name input's default.
const DefaultCheckName = "leviathan / {suite} / {device-type}"

// DefaultSuite is the suite the test mode runs when the suites input is
// empty.
const DefaultSuite = "os"

// Inputs lists the action's input names, as action.yml declares them.
var Inputs = []string{
	"mode", "image", "artifact", "artifact-member", "artifact-run-id", "artifact-id",
	"image-sha256", "device-type", "suites", "run", "config", "env", "junit",
	"check-name", "github-token", "app-id", "app-private-key", "app-installation-id",
	"dispatch-workflow", "dispatch-device-types", "dispatch-suites",
	"worker-url", "boot-timeout", "verify", "delta",
	"suite-arch", "suite-go-proxy",
}

// Error is a bad input or environment variable.
type Error struct {
	// Input is the input's name, or empty when Var is set.
	Input string
	// Var is the environment variable's name, when the problem is not
	// an input's.
	Var string
	Err error
}

// Error names the input or variable; it never includes a secret's value.
func (e *Error) Error() string {
	if e.Input != "" {
		return fmt.Sprintf("config: input %q: %v", e.Input, e.Err)
	}
	return fmt.Sprintf("config: %s: %v", e.Var, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Source is where the test mode takes the image from: exactly one of
// Path, URL, Artifact (with RunID for another run's) and ArtifactID.
type Source struct {
	Path string // a local file (the image input)
	URL  string // an http(s) URL (the image input)
	// Artifact is an artifact's name, of this run or of run RunID.
	Artifact string
	RunID    int64
	// ArtifactID is an artifact of any run of the repository.
	ArtifactID int64
	// Member is the file inside the artifact; the one disk image when
	// empty.
	Member string
}

// App identifies a GitHub App installation.
type App struct {
	ID int64
	// InstallationID is looked up from the repository when 0.
	InstallationID int64
	PrivateKey     []byte // PEM, checked to hold an RSA key
}

// Dispatch names the test workflow the submit mode starts.
type Dispatch struct {
	Workflow    string // the workflow's file name; no dispatch when empty
	DeviceTypes []string
	Suites      []string
}

// GitHub is the workflow run's context.
type GitHub struct {
	Owner, Repo string
	// HeadSHA is the commit check runs attach to: the pull request's head
	// for pull_request and pull_request_target events (GITHUB_SHA is then
	// a merge commit or the base), GITHUB_SHA otherwise.
	HeadSHA string
	// Ref is the ref dispatched workflows run from: the pull request's
	// head branch for pull request events, GITHUB_REF otherwise.
	Ref         string
	EventName   string
	RunID       int64
	RunAttempt  int64
	Job         string
	ServerURL   string
	APIURL      string
	Workspace   string
	RunnerTemp  string
	StepSummary string // $GITHUB_STEP_SUMMARY; empty outside a runner
	Output      string // $GITHUB_OUTPUT; empty outside a runner
}

// RunURL is the workflow run's page, or "" when unknown.
func (g GitHub) RunURL() string {
	if g.ServerURL == "" || g.Owner == "" || g.RunID == 0 {
		return ""
	}
	return fmt.Sprintf("%s/%s/%s/actions/runs/%d", strings.TrimSuffix(g.ServerURL, "/"), g.Owner, g.Repo, g.RunID)
}

// Leviathan is what the testbot's runner hook exported to the job:
// LEVIATHAN_WORKER_URL, _LEASE, _WORKER_TOKEN, _TESTRUNNER_IMAGE, _JOB_DIR.
type Leviathan struct {
	WorkerURL       string
	Lease           string
	WorkerToken     string
	TestrunnerImage string
	JobDir          string
}

// Config is the action's configuration for one step.
type Config struct {
	Mode        Mode
	Source      Source // test; Source.Path is the image for submit
	ImageSHA256 string // lower-case hex; empty when not given
	// Artifact is the artifact name submit uploads to.
	Artifact   string
	DeviceType string
	// Suites are built-in suite names ("os") and workspace-relative
	// paths ("tests/suites/hup"); test mode defaults to DefaultSuite.
	Suites []string
	Run    string // a test-name regexp, as go test -run
	// SuiteConfig is the config input's content (JSON or YAML), read
	// from the file it names when it names one.
	SuiteConfig []byte
	// Env holds the variables allowed into the suites and their values
	// from the step's environment; EnvNames lists them in input order.
	Env      map[string]string
	EnvNames []string
	// JUnit lists the files the junit input matched, sorted.
	JUnit []string
	// CheckName names check runs, with {suite} and {device-type}.
	CheckName   string
	Token       string
	App         *App // nil when app-id is empty
	Dispatch    Dispatch
	WorkerURL   string // the worker-url input, else LEVIATHAN_WORKER_URL
	BootTimeout time.Duration
	Verify      bool
	Delta       bool
	GitHub      GitHub
	Leviathan   Leviathan
	// Warnings are problems that do not stop the step (an allowed
	// variable that is not set).
	Warnings []string

	// SuiteArch are the GOARCHes submit compiles the workspace suites for
	// (the suite-arch input; bundle.DefaultArches when empty).
	SuiteArch []string
	// SuiteGoProxy lets a testbot that compiles a workspace suite fetch
	// modules through the Go module proxy (the suite-go-proxy input);
	// GOPROXY=off otherwise.
	SuiteGoProxy bool
	// SuiteCommit is GITHUB_SHA, the commit checked out, which submit
	// records in its compiled suites' manifest.
	SuiteCommit string

	unusedKey string // the app-private-key input, for Secrets
}

// NameFormat is CheckName in package report's syntax ({device} for
// {device-type}).
func (c *Config) NameFormat() string {
	return strings.ReplaceAll(c.CheckName, "{device-type}", "{device}")
}

// Secrets are the values to mask in the log: the GitHub token, every line
// of the App private key, the worker token and the allowed variables'
// values, each non-blank line once.
func (c *Config) Secrets() []string {
	var out []string
	add := func(v string) {
		for l := range strings.SplitSeq(v, "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "-----") || slices.Contains(out, l) {
				continue
			}
			out = append(out, l)
		}
	}
	add(c.Token)
	if c.App != nil {
		add(string(c.App.PrivateKey))
	}
	add(c.unusedKey)
	add(c.Leviathan.WorkerToken)
	for _, n := range c.EnvNames {
		add(c.Env[n])
	}
	return out
}

// Load reads and validates the configuration. It returns a Config even
// with an error, so that the caller can mask Config.Secrets before it
// prints anything; the error joins an *Error per problem.
func Load(a *githubactions.Action) (*Config, error) {
	l := &loader{a: a, c: &Config{}}
	l.load()
	return l.c, errors.Join(l.errs...)
}

type loader struct {
	a    *githubactions.Action
	c    *Config
	errs []error
}

func (l *loader) fail(input string, format string, args ...any) {
	l.errs = append(l.errs, &Error{Input: input, Err: fmt.Errorf(format, args...)})
}

func (l *loader) failVar(name string, err error) {
	l.errs = append(l.errs, &Error{Var: name, Err: err})
}

// input returns an input's value, trimmed.
func (l *loader) input(name string) string {
	if v := l.a.GetInput(name); v != "" {
		return v
	}
	return strings.TrimSpace(l.a.Getenv("INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))))
}

func (l *loader) load() {
	c := l.c
	l.context()
	l.leviathan()

	switch m := Mode(strings.ToLower(l.input("mode"))); {
	case m == "":
		l.fail("mode", "required: one of %s", modeList())
	case slices.Contains(Modes, m):
		c.Mode = m
	default:
		l.fail("mode", "%q is not a mode: one of %s", l.input("mode"), modeList())
	}

	// Credentials first, so that Secrets is complete even when a later
	// input is bad.
	c.Token = l.input("github-token")
	if c.Token == "" {
		c.Token = strings.TrimSpace(l.a.Getenv("GITHUB_TOKEN"))
	}
	l.app()
	l.env()

	c.ImageSHA256 = strings.ToLower(l.input("image-sha256"))
	if c.ImageSHA256 != "" && !sha256Hex.MatchString(c.ImageSHA256) {
		l.fail("image-sha256", "not a SHA-256: want 64 hexadecimal digits")
	}
	c.DeviceType = l.input("device-type")
	if c.DeviceType != "" && !deviceType.MatchString(c.DeviceType) {
		l.fail("device-type", "%q: use letters, digits, '.', '_' and '-'", c.DeviceType)
	}
	c.Suites = l.suites("suites")
	c.Run = l.input("run")
	if c.Run != "" {
		if _, err := regexp.Compile(c.Run); err != nil {
			l.fail("run", "not a regular expression: %w", err)
		}
	}
	l.suiteConfig()
	c.CheckName = l.input("check-name")
	if c.CheckName == "" {
		c.CheckName = DefaultCheckName
	}
	c.Verify = l.boolean("verify", true)
	c.Delta = l.boolean("delta", false)
	c.BootTimeout = l.duration("boot-timeout")
	c.WorkerURL = l.input("worker-url")
	if c.WorkerURL != "" {
		l.checkURL(c.WorkerURL, func(err error) { l.fail("worker-url", "%w", err) })
	} else if c.Leviathan.WorkerURL != "" {
		c.WorkerURL = c.Leviathan.WorkerURL
		l.checkURL(c.WorkerURL, func(err error) { l.failVar(api.EnvWorkerURL, err) })
	}
	c.Dispatch = Dispatch{
		Workflow:    l.input("dispatch-workflow"),
		DeviceTypes: l.list("dispatch-device-types"),
		Suites:      l.list("dispatch-suites"),
	}
	if w := c.Dispatch.Workflow; w != "" && (strings.Contains(w, "/") || !(strings.HasSuffix(w, ".yml") || strings.HasSuffix(w, ".yaml"))) {
		l.fail("dispatch-workflow", "%q: name the workflow's file in .github/workflows, such as leviathan-test.yml", w)
	}
	for _, d := range c.Dispatch.DeviceTypes {
		if !deviceType.MatchString(d) {
			l.fail("dispatch-device-types", "%q: use letters, digits, '.', '_' and '-'", d)
		}
	}
	l.source()
	l.suiteBuild()

	switch c.Mode {
	case Submit:
		l.submit()
	case Test:
		l.test()
	case Report:
		l.report()
	}
}

var (
	sha256Hex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	deviceType = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	suiteName  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

func modeList() string {
	s := make([]string, len(Modes))
	for i, m := range Modes {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

func (l *loader) context() {
	g := &l.c.GitHub
	ctx, err := l.a.Context()
	if err != nil {
		// A bad GITHUB_RUN_ID or an unreadable event payload.
		l.failVar("GITHUB_*", err)
		ctx = &githubactions.GitHubContext{}
	}
	g.Owner, g.Repo = ctx.Repo()
	g.EventName, g.RunID, g.RunAttempt, g.Job = ctx.EventName, ctx.RunID, ctx.RunAttempt, ctx.Job
	g.ServerURL, g.APIURL, g.Workspace = ctx.ServerURL, ctx.APIURL, ctx.Workspace
	g.StepSummary = l.a.Getenv("GITHUB_STEP_SUMMARY")
	g.Output = l.a.Getenv("GITHUB_OUTPUT")
	g.RunnerTemp = l.a.Getenv("RUNNER_TEMP")
	g.HeadSHA, g.Ref = ctx.SHA, ctx.Ref
	if pr, ok := ctx.Event["pull_request"].(map[string]any); ok {
		if head, ok := pr["head"].(map[string]any); ok {
			if sha, ok := head["sha"].(string); ok && sha != "" {
				g.HeadSHA = sha
			}
		}
	}
	if ctx.HeadRef != "" {
		g.Ref = ctx.HeadRef
	}
}

// leviathan reads what the runner hook exported through the injected
// getenv (not os.Getenv: the worker token may be kept out of the
// process's environment).
func (l *loader) leviathan() {
	get := l.a.Getenv
	l.c.Leviathan = Leviathan{WorkerURL: get(api.EnvWorkerURL), Lease: get(api.EnvLease), WorkerToken: get(api.EnvWorkerToken),
		TestrunnerImage: get(api.EnvTestrunnerImage), JobDir: get(api.EnvJobDir)}
}

// path resolves a workspace-relative path.
func (l *loader) path(p string) string {
	if filepath.IsAbs(p) || l.c.GitHub.Workspace == "" {
		return p
	}
	return filepath.Join(l.c.GitHub.Workspace, p)
}

func (l *loader) app() {
	id, key, inst := l.input("app-id"), l.input("app-private-key"), l.input("app-installation-id")
	l.c.unusedKey = key // masked even when the App is not configured
	if id == "" {
		if key != "" || inst != "" {
			l.fail("app-id", "required with app-private-key and app-installation-id")
		}
		return
	}
	app := &App{ID: l.positive("app-id", id), InstallationID: l.positive("app-installation-id", inst)}
	l.c.App = app
	if key == "" {
		l.fail("app-private-key", "required with app-id")
		return
	}
	// A key pasted into a single-line secret has its line breaks as \n.
	if !strings.Contains(key, "\n") && strings.Contains(key, `\n`) {
		key = strings.ReplaceAll(key, `\n`, "\n")
	}
	app.PrivateKey = []byte(key + "\n")
	if err := checkRSAKey(app.PrivateKey); err != nil {
		l.fail("app-private-key", "%w (paste the .pem file GitHub generated for the App)", err)
	}
}

// checkRSAKey reports whether b is a PEM-encoded RSA private key; its
// errors never quote b.
func checkRSAKey(b []byte) error {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return errors.New("not a PEM-encoded private key")
	}
	if _, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return fmt.Errorf("the PEM block (%s) is not a readable private key", blk.Type)
	}
	if _, ok := k.(*rsa.PrivateKey); !ok {
		return fmt.Errorf("a %T, not an RSA key as GitHub Apps use", k)
	}
	return nil
}

// reservedEnv are variables the suites must not get from the step.
var reservedEnv = []string{"GITHUB_", "ACTIONS_", "RUNNER_", "INPUT_", api.EnvPrefix}

func (l *loader) env() {
	c := l.c
	c.Env = map[string]string{}
	for _, n := range l.list("env") {
		switch {
		case !envName.MatchString(n):
			l.fail("env", "%q is not a variable name", n)
			continue
		case slices.ContainsFunc(reservedEnv, func(p string) bool { return strings.HasPrefix(n, p) }):
			l.fail("env", "%s is reserved: the runner's and Leviathan's own variables (%s*) cannot be passed to suites", n, strings.Join(reservedEnv, "*, "))
			continue
		case slices.Contains(c.EnvNames, n):
			continue
		}
		c.EnvNames = append(c.EnvNames, n)
		v := l.a.Getenv(n)
		if v == "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("input \"env\": %s is empty or not set in the step's environment (set it with env: on the step; secrets are empty in pull requests from forks)", n))
		}
		c.Env[n] = v
	}
}

func (l *loader) suiteConfig() {
	v := l.input("config")
	if v == "" {
		return
	}
	b, src := []byte(v), "the config input"
	// One line with no YAML or JSON syntax names a file.
	if !strings.ContainsAny(v, "\n:{[") {
		p := l.path(v)
		data, err := os.ReadFile(p)
		if err != nil {
			l.fail("config", "neither JSON/YAML nor a readable file: %w", err)
			return
		}
		b, src = data, p
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		l.fail("config", "%s is not JSON or YAML: %w", src, err)
		return
	}
	if _, ok := doc.(map[string]any); !ok {
		l.fail("config", "%s must hold a mapping (an object), not %T", src, doc)
		return
	}
	l.c.SuiteConfig = b
}

func (l *loader) source() {
	c := l.c
	img := l.input("image")
	c.Artifact = l.input("artifact")
	if c.Artifact != "" && strings.ContainsAny(c.Artifact, "\":<>|*?\\/\r\n") {
		l.fail("artifact", "%q: an artifact name cannot contain \" : < > | * ? \\ or /", c.Artifact)
	}
	s := Source{Member: l.input("artifact-member")}
	s.RunID = l.positive("artifact-run-id", l.input("artifact-run-id"))
	s.ArtifactID = l.positive("artifact-id", l.input("artifact-id"))
	if m := s.Member; m != "" && (filepath.IsAbs(m) || m != filepath.Clean(m) || strings.HasPrefix(m, "..")) {
		l.fail("artifact-member", "%q: give the file's clean relative path inside the artifact", m)
	}
	if u, err := url.Parse(img); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if u.Host == "" {
			l.fail("image", "%q: a URL needs a host", img)
		}
		s.URL = img
	} else if img != "" {
		s.Path = l.path(img)
	}
	if c.Mode != Submit {
		s.Artifact = c.Artifact
	}
	c.Source = s
}

// BuiltinSuite reports whether a suites entry names a built-in suite
// ("os", shipped in the testrunner image) rather than a workspace
// directory ("tests/suites/hup", "./os").
func BuiltinSuite(s string) bool { return suiteName.MatchString(s) }

// suiteBuild reads the inputs on how workspace suites are compiled:
// suite-arch for submit, suite-go-proxy for test. Both have defaults in
// action.yml, so each mode ignores the other's.
func (l *loader) suiteBuild() {
	c := l.c
	c.SuiteCommit = strings.TrimSpace(l.a.Getenv("GITHUB_SHA"))
	c.SuiteArch = l.list("suite-arch")
	if len(c.SuiteArch) > 0 {
		if err := bundle.CheckArches(c.SuiteArch); err != nil {
			l.fail("suite-arch", "%w", err)
		}
	} else {
		c.SuiteArch = bundle.DefaultArches
	}
	c.SuiteGoProxy = l.boolean("suite-go-proxy", false)
	if c.Mode != Submit {
		return
	}
	for _, s := range c.Suites {
		if BuiltinSuite(s) {
			c.Warnings = append(c.Warnings, fmt.Sprintf("input \"suites\": %s is a built-in suite, shipped in the testrunner image; submit compiles only workspace directories (write ./%s for a directory named %s)", s, s, s))
		}
	}
}

func (l *loader) submit() {
	c := l.c
	s := c.Source
	switch {
	case s.URL != "":
		l.fail("image", "submit uploads a local file, not a URL")
	case s.Path == "":
		l.fail("image", "required in submit mode: the image file the build made")
	default:
		fi, err := os.Stat(s.Path)
		switch {
		case err != nil:
			l.fail("image", "%w", err)
		case !fi.Mode().IsRegular():
			l.fail("image", "%s is not a regular file", s.Path)
		}
	}
	for _, in := range []string{"artifact-id", "artifact-run-id", "artifact-member"} {
		if l.input(in) != "" {
			l.fail(in, "only in test mode (submit uploads to the artifact input's name)")
		}
	}
	if c.Dispatch.Workflow != "" {
		if len(c.Dispatch.DeviceTypes) == 0 {
			l.fail("dispatch-device-types", "required with dispatch-workflow")
		}
		l.needRepo("dispatch-workflow")
		l.needAuth("dispatch-workflow")
	} else if len(c.Dispatch.DeviceTypes)+len(c.Dispatch.Suites) > 0 {
		l.fail("dispatch-workflow", "required with dispatch-device-types and dispatch-suites")
	}
}

func (l *loader) test() {
	c := l.c
	s := c.Source
	n := 0
	for _, set := range []bool{s.Path != "" || s.URL != "", s.Artifact != "", s.ArtifactID != 0} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		l.fail("image", "test mode needs an image: give image (a path or URL), artifact (a name) or artifact-id")
	case n > 1:
		l.fail("image", "give only one of image, artifact and artifact-id")
	}
	if s.RunID != 0 && s.Artifact == "" {
		l.fail("artifact-run-id", "names the run whose artifact to take: give artifact too")
	}
	if s.Member != "" && s.Artifact == "" && s.ArtifactID == 0 {
		l.fail("artifact-member", "only with artifact or artifact-id")
	}
	if s.Path != "" {
		if _, err := os.Stat(s.Path); err != nil {
			l.fail("image", "%w", err)
		}
	}
	if len(c.Suites) == 0 {
		c.Suites = []string{DefaultSuite}
	}
	if c.WorkerURL == "" {
		l.fail("worker-url", "no worker: this step must run on a Leviathan testbot, whose runner hook exports LEVIATHAN_WORKER_URL, or give worker-url")
	}
	if c.Dispatch.Workflow != "" {
		l.fail("dispatch-workflow", "only in submit mode")
	}
	l.needRepo("mode")
}

func (l *loader) report() {
	c := l.c
	pat := l.list("junit")
	if len(pat) == 0 {
		l.fail("junit", "required in report mode: the JUnit XML file(s) to publish")
	}
	for _, p := range pat {
		m, err := filepath.Glob(l.path(p))
		if err != nil {
			l.fail("junit", "%q: %w", p, err)
			continue
		}
		if len(m) == 0 {
			l.fail("junit", "no file matches %q", p)
		}
		c.JUnit = append(c.JUnit, m...)
	}
	sort.Strings(c.JUnit)
	c.JUnit = slices.Compact(c.JUnit)
	if c.Dispatch.Workflow != "" {
		l.fail("dispatch-workflow", "only in submit mode")
	}
	l.needRepo("mode")
}

func (l *loader) needRepo(input string) {
	g := l.c.GitHub
	if g.Owner == "" || g.Repo == "" {
		l.failVar("GITHUB_REPOSITORY", fmt.Errorf("not set (owner/name), and %s needs the repository", input))
	}
	if g.HeadSHA == "" && l.c.Mode != Submit {
		l.failVar("GITHUB_SHA", errors.New("not set: check runs attach to a commit"))
	}
}

func (l *loader) needAuth(input string) {
	if l.c.Token == "" && l.c.App == nil {
		l.fail("github-token", "empty, and no app-id: %s needs credentials", input)
	}
}

// list splits a comma- or newline-separated list, or parses a JSON array.
func (l *loader) list(name string) []string {
	v := l.input(name)
	if v == "" {
		return nil
	}
	var out []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			l.fail(name, "not a JSON array of strings: %w", err)
			return nil
		}
		for i := range out {
			out[i] = strings.TrimSpace(out[i])
		}
		return slices.DeleteFunc(out, func(s string) bool { return s == "" })
	}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// suites reads a list of built-in suite names and workspace paths.
func (l *loader) suites(name string) []string {
	out := l.list(name)
	for _, s := range out {
		if suiteName.MatchString(s) {
			continue
		}
		clean := filepath.Clean(s)
		switch {
		case filepath.IsAbs(s) || clean == ".." || strings.HasPrefix(clean, "../"):
			l.fail(name, "%q: a suite is a built-in name (os) or a path inside the workspace", s)
		case l.c.GitHub.Workspace != "":
			if fi, err := os.Stat(l.path(s)); err != nil || !fi.IsDir() {
				l.fail(name, "%q is neither a built-in suite name nor a directory in the workspace", s)
			}
		}
	}
	return out
}

func (l *loader) boolean(name string, def bool) bool {
	switch v := l.input(name); v {
	case "":
		return def
	case "true", "True", "TRUE":
		return true
	case "false", "False", "FALSE":
		return false
	default:
		l.fail(name, "%q is not a boolean: true or false", v)
		return def
	}
}

// duration reads a Go duration ("5m") or a number of seconds ("300").
func (l *loader) duration(name string) time.Duration {
	v := l.input(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseUint(v, 10, 32)
		if nerr != nil {
			l.fail(name, "%q is not a duration: write 300s, 5m or 1h30m", v)
			return 0
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		l.fail(name, "%q: must be positive", v)
		return 0
	}
	return d
}

func (l *loader) positive(name, v string) int64 {
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		l.fail(name, "%q is not a positive integer", v)
		return 0
	}
	return n
}

func (l *loader) checkURL(v string, fail func(error)) {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		fail(fmt.Errorf("%q is not a URL: want http://host:port", v))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		fail(fmt.Errorf("%q: want http://host:port", v))
	}
}
