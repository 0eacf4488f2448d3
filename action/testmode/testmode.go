package testmode

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/testrunner"
	"github.com/balena/leviathan-action/internal/ghlog"
)

// Defaults for Options.
const (
	DefaultBootTimeout = 5 * time.Minute
	// DefaultLeaseTTL is the TTL of a lease Run takes itself.
	DefaultLeaseTTL = time.Minute
	// LeaseOwner names the holder of a lease Run takes itself.
	LeaseOwner = "leviathan-action test"
)

// Errors that Run's errors match with errors.Is.
var (
	// ErrChecksumMismatch: the decompressed image's SHA-256 is not
	// Options.SHA256.
	ErrChecksumMismatch = errors.New("testmode: checksum mismatch")
	// ErrNotDiskImage: the (decompressed) image has no partition table.
	ErrNotDiskImage = errors.New("testmode: not a disk image")
	// ErrBoot: the DUT was flashed but did not come online.
	ErrBoot = errors.New("testmode: the DUT did not come online")
	// ErrLeaseLost: the lease Run took expired or was taken away.
	ErrLeaseLost = errors.New("testmode: the DUT's lease was lost")
)

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
		return redactURL(s.URL)
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
	// the runner hook took. With a Lease, Run uses it and never releases
	// it; without one, Run takes a lease, keeps it alive and releases it
	// (which powers the DUT off) before it returns.
	WorkerURL, Token, Lease string
	// LeaseTTL is the TTL of a lease Run takes (DefaultLeaseTTL when 0).
	LeaseTTL time.Duration

	// Image is the testrunner image, already pulled (by digest). When
	// set, the worker runs the suites in the testrunner container (POST
	// /v1/testrunner: the job needs no Docker Engine); when empty, they
	// run directly.
	Image string

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
	// power-on (DefaultBootTimeout when 0).
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

// Result is what Run did. On error it holds the steps completed before
// the failure: Flash is zero unless the flash succeeded, and the test
// counts are zero unless the suites ran.
type Result struct {
	// Flash is the worker's account of the flash.
	Flash api.FlashResult
	// Cached is true when the worker flashed its cached copy of the image
	// instead of receiving it.
	Cached bool
	// Boot is the time from power-on to the DUT running commands.
	Boot time.Duration
	// Passed, Failed and Skipped count top-level tests.
	Passed, Failed, Skipped int
	// Errors are suites that crashed or timed out outside any test.
	Errors []string
	// JUnit is the path of junit.xml, ReportDir the reports' directory.
	JUnit, ReportDir string
	// Infra is set when the testrunner container ran but said nothing
	// about the tests (OOM-killed, killed by a signal, no junit.xml); Run
	// then returns an error too.
	Infra *testrunner.InfraError
}

// OK reports whether the suites ran, some test passed or was skipped, and
// none failed or crashed.
func (r *Result) OK() bool {
	return r.Infra == nil && r.Failed == 0 && len(r.Errors) == 0 && r.Passed+r.Skipped > 0
}

// Run flashes the image onto the leased DUT, boots it and runs the suites.
// An error means the run could not complete (bad options, the image, the
// flash, the boot, the infrastructure); failing tests are not an error but
// counts in the Result (see Result.OK). On any error the DUT is left
// powered off.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	res = &Result{}
	o.setDefaults()
	if err := o.validate(); err != nil {
		return res, err
	}
	env, dropped, err := allowedEnv(o.Env, o.AllowEnv)
	if err != nil {
		return res, err
	}
	for _, name := range dropped {
		fmt.Fprintf(o.Out, "testmode: %s is not in allow-env; it does not reach the suites\n", name)
	}
	res.ReportDir = o.ReportDir

	// Compile the suites first: a broken suite fails in seconds, before
	// the DUT is touched.
	plan, cleanup, err := o.planSuites(ctx)
	if err != nil {
		return res, err
	}
	defer cleanup()

	opts := []client.Option{client.WithToken(o.Token)}
	if o.Lease != "" {
		opts = append(opts, client.WithLease(o.Lease))
	}
	c, err := client.New(o.WorkerURL, opts...)
	if err != nil {
		return res, fmt.Errorf("testmode: %w", err)
	}
	h, err := c.Health(ctx)
	if err != nil {
		return res, fmt.Errorf("testmode: asking the worker for its health: %w", err)
	}
	if !h.OK {
		return res, fmt.Errorf("testmode: the worker reports a problem with DUT %s: %s", h.DUT, h.Problem)
	}

	// Lease, or use the hook's. Every path below ends with the DUT off on
	// error; a lease taken here is released (DUT off) on every path.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if o.Lease == "" {
		l, err := c.Lease(ctx, LeaseOwner, o.LeaseTTL)
		if err != nil {
			return res, fmt.Errorf("testmode: leasing the DUT: %w", err)
		}
		o.Lease = l.ID
		fmt.Fprintf(o.Out, "leased DUT %s (no lease from the runner hook)\n", h.DUT)
		kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		lost := c.KeepAlive(kctx, l, 0)
		go func() {
			if err, ok := <-lost; ok && err != nil {
				cancel(fmt.Errorf("%w: %w", ErrLeaseLost, err))
			}
		}()
		defer func() {
			stop()
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer rcancel()
			if rerr := c.Release(rctx, l.ID); rerr != nil {
				o.Log.Warn("testmode: releasing the lease", "err", rerr)
				if err == nil {
					err = fmt.Errorf("testmode: releasing the DUT's lease: %w", rerr)
				}
			}
		}()
	}
	defer func() {
		if err == nil {
			return
		}
		if cerr := context.Cause(ctx); cerr != nil && errors.Is(cerr, ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer pcancel()
		if perr := c.PowerOff(pctx); perr != nil {
			o.Log.Warn("testmode: powering the DUT off after a failure", "err", perr)
			fmt.Fprintf(o.Out, "testmode: could not power the DUT off: %v\n", perr)
		}
	}()

	if err := c.PowerOff(ctx); err != nil {
		return res, fmt.Errorf("testmode: powering the DUT off before flashing: %w", err)
	}
	if res.Flash, res.Cached, err = o.flash(ctx, c); err != nil {
		return res, err
	}
	if err := o.boot(ctx, c, res); err != nil {
		return res, err
	}
	if err := o.runUntrusted(ctx, c, plan, env, res); err != nil {
		return res, err
	}
	crashed := ""
	if len(res.Errors) > 0 {
		crashed = fmt.Sprintf(", %d suite(s) crashed", len(res.Errors))
	}
	fmt.Fprintf(o.Out, "%d passed, %d failed, %d skipped%s; reports in %s\n", res.Passed, res.Failed, res.Skipped, crashed, res.ReportDir)
	return res, nil
}

// runUntrusted runs the suites with Out wrapped in a ghlog.Writer: what
// the suites, the testrunner container and the DUT print reaches the job
// log with workflow commands stopped (the container's test groups go
// through the Writer's Command). Commands are resumed before it returns,
// so the action's own lines and annotations after it work.
func (o *Options) runUntrusted(ctx context.Context, c *client.Client, p *plan, env []string, res *Result) error {
	log := ghlog.New(o.Out)
	u := *o
	u.Out = log
	err := u.runSuites(ctx, c, p, env, res)
	if cerr := log.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("testmode: %w", cerr)
	}
	return err
}

func (o *Options) setDefaults() {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = DefaultBootTimeout
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
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
	if o.SHA256 != "" {
		if b, err := hex.DecodeString(o.SHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("testmode: sha256 %q is not a hex SHA-256 (64 hex digits)", o.SHA256)
		}
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

// boot powers the DUT on and waits until it runs commands.
func (o *Options) boot(ctx context.Context, c *client.Client, res *Result) error {
	fmt.Fprintf(o.Out, "booting the DUT (timeout %v)\n", o.BootTimeout)
	if err := c.PowerOn(ctx); err != nil {
		return fmt.Errorf("testmode: powering the DUT on: %w", err)
	}
	d, err := c.WaitOnline(ctx, o.BootTimeout)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("testmode: stopped while waiting for the DUT to come online: %w (%w)", context.Cause(ctx), err)
	}
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			// The worker's message carries the last console lines.
			return fmt.Errorf("%w: %s (%w)", ErrBoot, ce.Message, err)
		}
		return fmt.Errorf("%w: %w", ErrBoot, err)
	}
	res.Boot = d
	fmt.Fprintf(o.Out, "DUT online after %v\n", d.Round(10*time.Millisecond))
	return nil
}

// redactURL drops a URL's password and query (signed URLs carry secrets
// there).
func redactURL(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			rest = rest[at+1:]
		}
		return scheme + "://" + rest
	}
	return s
}
