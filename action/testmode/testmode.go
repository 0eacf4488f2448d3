package testmode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/testbot"
)

// LeaseOwner names the holder of a lease Run takes itself.
const LeaseOwner = "leviathan-action test"

// Source says where the image comes from. Exactly one of Path, URL,
// Artifact and ArtifactID is set.
type Source struct {
	// Path is a local file (raw or gzip, xz, zstd, bzip2 compressed).
	Path string
	// URL is an http or https URL; a broken download is resumed.
	URL string
	// Artifact names an artifact of this workflow run.
	Artifact string
	// ArtifactID is an artifact of any workflow run of Repo, fetched
	// through the REST API.
	ArtifactID int64
	// Repo is "owner/name", for ArtifactID.
	Repo string
	// Member is the image's path inside the artifact's archive, such as
	// "image/balena.img"; the archive's first file when empty.
	Member string
}

// String names the source in progress lines and errors.
func (s Source) String() string {
	member := ""
	if s.Member != "" {
		member = " member " + s.Member
	}
	switch {
	case s.Path != "":
		return s.Path
	case s.URL != "":
		return testbot.RedactURL(s.URL)
	case s.Artifact != "":
		return fmt.Sprintf("artifact %q of this run%s", s.Artifact, member)
	case s.ArtifactID != 0:
		return fmt.Sprintf("artifact %d of %s%s", s.ArtifactID, s.Repo, member)
	}
	return "(no image)"
}

// Options configure Run. WorkerURL, Source and Suites are required; see
// FromEnv for what a hooked runner provides.
type Options struct {
	// Source is the image to flash.
	Source Source
	// SHA256 is the expected hex SHA-256 of the decompressed image (the
	// image-sha256 output of submit). Empty skips the check, with a
	// warning in Out.
	SHA256 string

	// WorkerURL, Token and Lease name the worker, its token and the lease
	// the runner hook took (see testbot.Options). LeaseTTL is the TTL of
	// a lease Run takes itself (testbot.DefaultLeaseTTL when 0).
	WorkerURL, Token, Lease string
	LeaseTTL                time.Duration

	// Image is the testrunner image, already pulled (by digest). When
	// set, the worker runs the suites in the testrunner container (POST
	// /v1/testrunner: the job needs no Docker Engine); when empty, they
	// run directly.
	Image string

	// DeviceType is the DUT's device type, a fact in the visual report.
	DeviceType string

	// Suites are built-in suite names ("os"), directories of Go test
	// packages in the workspace ("tests/suites/hup"), or paths of compiled
	// suites (*.test files).
	Suites []string
	// Workspace is the directory relative suite paths are relative to
	// (the current directory when empty); an artifact's compiled suites
	// are matched by their path relative to it.
	Workspace string
	// SuiteGoProxy lets a workspace suite compiled here (one the artifact
	// does not hold) fetch modules through the module proxy; without it
	// GOPROXY=off and every module must be in the module cache.
	SuiteGoProxy bool
	// SuitesDir holds the built-in suites for direct mode
	// (<action>/suites).
	SuitesDir string
	// Run selects tests by regular expression (go test -run); all when
	// empty.
	Run string
	// Env is KEY=VALUE settings and secrets for the suites; only names in
	// AllowEnv reach them. Register Mask's values with the job log before
	// calling Run.
	Env      []string
	AllowEnv []string
	// ReportDir receives junit.xml, summary.json and per-test logs.
	ReportDir string
	// WorkDir holds compiled suites while Run runs (a temporary directory
	// under the system's when empty).
	WorkDir string
	// RunID and Job label the testrunner container (required with Image).
	RunID, Job string
	// SuiteTimeout bounds each suite (the runner's default when 0).
	SuiteTimeout time.Duration

	// BootTimeout bounds the wait for the DUT to come online after
	// power-on (testbot.DefaultBootTimeout when 0).
	BootTimeout time.Duration
	// NoVerify skips reading the medium back after flashing; Delta writes
	// only the blocks that changed.
	NoVerify, Delta bool

	// Artifacts downloads artifacts (Source.Artifact, Source.ArtifactID).
	Artifacts *artifact.Client
	// GitHub is the REST client for Source.ArtifactID.
	GitHub *github.Client
	// HTTPClient fetches URL sources (package source's default when nil).
	HTTPClient *http.Client

	// Out receives progress lines and the suites' output: the job log.
	// The suites' and the testrunner container's output is written with
	// workflow commands stopped (package ghlog), so it issues none; Run's
	// own lines are written outside those regions. Discarded when nil.
	Out io.Writer
	// Log receives debug logs; silent when nil.
	Log *slog.Logger
}

// Mask returns the values to hide from the job log (::add-mask::) before
// Run: the worker token and the values of the allowed Env entries.
func (o Options) Mask() []string {
	var m []string
	if o.Token != "" {
		m = append(m, o.Token)
	}
	env, _, _ := allowedEnv(o.Env, o.AllowEnv)
	for _, kv := range env {
		if _, v, _ := strings.Cut(kv, "="); v != "" {
			m = append(m, v)
		}
	}
	return m
}

// Result is what Run did: see testbot.Result.
type Result = testbot.Result

// Run resolves the suites — compiling them before the DUT is touched, so
// that a broken suite fails in seconds — and hands the run to package
// testbot: lease, flash, boot, suites, reports. An error means the run
// could not complete; failing tests are counted in the Result (see
// Result.OK). On any error the DUT is left powered off.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return &Result{ReportDir: o.ReportDir}, err
	}
	env, dropped, err := allowedEnv(o.Env, o.AllowEnv)
	if err != nil {
		return &Result{ReportDir: o.ReportDir}, err
	}
	for _, name := range dropped {
		fmt.Fprintf(o.Out, "testmode: %s is not in allow-env; it does not reach the suites\n", name)
	}
	plan, cleanup, err := o.planSuites(ctx)
	if err != nil {
		return &Result{ReportDir: o.ReportDir}, err
	}
	defer cleanup()
	return testbot.Run(ctx, testbot.Options{
		WorkerURL: o.WorkerURL, Token: o.Token, Lease: o.Lease, LeaseOwner: LeaseOwner, LeaseTTL: o.LeaseTTL,
		Image: o.image(), SHA256: o.SHA256, NoVerify: o.NoVerify, Delta: o.Delta, BootTimeout: o.BootTimeout,
		Plan: plan, Run: o.Run, Env: env, CleanEnv: true, SuiteTimeout: o.SuiteTimeout, RunID: o.RunID, Job: o.Job,
		ReportDir: o.ReportDir, JobLog: true, Out: o.Out, Log: o.Log,
		DeviceType: o.DeviceType, Reproduce: o.reproduce(),
	})
}

// reproduce is the command that runs the same suites on the same image
// with a local QEMU DUT (the image downloaded first when it is an
// artifact or a URL).
func (o *Options) reproduce() string {
	s := o.Source
	var fetch, img string
	switch {
	case s.Path != "":
		img = s.Path
	case s.URL != "":
		img = path.Base(strings.SplitN(testbot.RedactURL(s.URL), "?", 2)[0])
		fetch = "curl -fLo " + shellQuote(img) + " " + shellQuote(testbot.RedactURL(s.URL)) + " && "
	case s.Artifact != "" || s.ArtifactID != 0:
		img = s.Member
		if img == "" {
			img = "IMAGE"
		}
		name := s.Artifact
		if name == "" {
			name = strconv.FormatInt(s.ArtifactID, 10)
		}
		fetch = fmt.Sprintf("gh run download %s -R %s -n %s && ", shellQuote(o.RunID), shellQuote(s.Repo), shellQuote(name))
	default:
		return ""
	}
	args := []string{"leviathan", "run", "--image", shellQuote(img)}
	for _, su := range o.Suites {
		args = append(args, "--suite", shellQuote(su))
	}
	if o.Run != "" {
		args = append(args, "--run", shellQuote(o.Run))
	}
	return fetch + strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// image is the image source as package testbot reads it: files and URLs
// as streams, artifacts through a pipe fed by the artifact client, without
// a temporary copy.
func (o *Options) image() testbot.Image {
	s := o.Source
	switch {
	case s.Path != "":
		return testbot.Ref{Ref: s.Path, HTTPClient: o.HTTPClient, Log: o.Log}
	case s.URL != "":
		return testbot.Ref{Ref: s.URL, HTTPClient: o.HTTPClient, Log: o.Log}
	case s.Artifact != "":
		return testbot.Pipe{Name: s.String(), Produce: func(ctx context.Context, w io.Writer) error {
			_, err := o.Artifacts.Extract(ctx, s.Artifact, s.Member, w)
			return err
		}}
	}
	owner, repo, _ := strings.Cut(s.Repo, "/")
	return testbot.Pipe{Name: s.String(), Produce: func(ctx context.Context, w io.Writer) error {
		_, err := o.Artifacts.DownloadByID(ctx, o.GitHub, owner, repo, s.ArtifactID, s.Member, w)
		return err
	}}
}

func (o *Options) setDefaults() {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.SHA256 = strings.ToLower(strings.TrimSpace(o.SHA256))
}

func (o *Options) validate() error {
	if o.WorkerURL == "" {
		return errors.New("testmode: no worker URL (LEVIATHAN_WORKER_URL): run on a testbot's runner or give the worker's URL")
	}
	s := o.Source
	n := 0
	for _, set := range []bool{s.Path != "", s.URL != "", s.Artifact != "", s.ArtifactID != 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("testmode: give exactly one image source (a path, a URL, an artifact name or an artifact id), not %d", n)
	}
	if s.ArtifactID != 0 {
		if owner, name, ok := strings.Cut(s.Repo, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("testmode: artifact %d: repository %q is not owner/name", s.ArtifactID, s.Repo)
		}
		if o.GitHub == nil {
			return fmt.Errorf("testmode: artifact %d of %s: no GitHub client (a token with actions:read is needed)", s.ArtifactID, s.Repo)
		}
	}
	if (s.Artifact != "" || s.ArtifactID != 0) && o.Artifacts == nil {
		return fmt.Errorf("testmode: %s: no artifact client (ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL are set for actions only)", s)
	}
	if err := testbot.CheckSHA256(o.SHA256); err != nil {
		return fmt.Errorf("testmode: %w", err)
	}
	if len(o.Suites) == 0 {
		return errors.New("testmode: no suites to run")
	}
	if o.ReportDir == "" {
		return errors.New("testmode: no report directory (LEVIATHAN_JOB_DIR/reports on a testbot)")
	}
	if o.Image != "" {
		if o.RunID == "" {
			return errors.New("testmode: the testrunner container needs a run id (GITHUB_RUN_ID)")
		}
	}
	if o.BootTimeout < 0 {
		return fmt.Errorf("testmode: boot timeout %v is negative", o.BootTimeout)
	}
	return nil
}
