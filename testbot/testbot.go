package testbot

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/testrunner/runresult"
	"github.com/balena/leviathan-action/suites/gotest"
)

// Defaults for Options.
const (
	DefaultBootTimeout = 5 * time.Minute
	// DefaultLeaseTTL is the TTL of a lease Run takes itself.
	DefaultLeaseTTL = time.Minute
	// DefaultLeaseOwner names the holder of a lease Run takes itself.
	DefaultLeaseOwner = "leviathan"
)

// Errors that Run's errors match with errors.Is (besides ErrLeaseLost and
// image.ErrNotDiskImage).
var (
	// ErrChecksumMismatch: the decompressed image's SHA-256 is not
	// Options.SHA256.
	ErrChecksumMismatch = errors.New("testbot: checksum mismatch")
	// ErrBoot: the DUT was flashed but did not come online.
	ErrBoot = errors.New("testbot: the DUT did not come online")
	// ErrInterrupted: the run's context was cancelled; the DUT was
	// powered off and a lease Run took was released.
	ErrInterrupted = errors.New("testbot: interrupted; the DUT was powered off and its lease released")
)

// Stages of a run, as summary.json names the one a failed run stopped in.
const (
	StagePrepare = "prepare"
	StageLease   = "lease the DUT"
	StageFlash   = "flash"
	StageBoot    = "boot"
	StageSuites  = "compile the suites"
	StageRun     = "run the suites"
)

// Options configure Run. WorkerURL, Image, a Plan or Prepare, and
// ReportDir are required.
type Options struct {
	// WorkerURL and Token name the worker and its admin token ("" for a
	// worker without one). Lease is a lease the runner hook took: Run
	// uses it and never releases it. Without one, Run takes a lease for
	// LeaseOwner with LeaseTTL, keeps it alive and releases it (which
	// powers the DUT off) before it returns.
	WorkerURL, Token, Lease string
	LeaseOwner              string
	LeaseTTL                time.Duration

	// Image is the image to flash.
	Image Image
	// SHA256 is the expected hex SHA-256 of the decompressed image. With
	// it, the worker's cached copy of that image is flashed when it has
	// one, and a different image fails the flash (ErrChecksumMismatch).
	// Empty skips the check, with a warning in Out.
	SHA256 string
	// NoVerify skips reading the medium back after flashing; Delta writes
	// only the blocks that changed.
	NoVerify, Delta bool
	// BootTimeout bounds the wait from power-on until the DUT runs
	// commands (DefaultBootTimeout when 0).
	BootTimeout time.Duration

	// Plan is the suites, ready to run. Prepare, instead, makes them
	// while the DUT is flashed and booted (compiling overlaps the boot).
	// Exactly one is set.
	Plan    *Plan
	Prepare func(ctx context.Context) (*Plan, error)
	// Run selects tests by regular expression (go test -run).
	Run string
	// Env is KEY=VALUE entries for the suites, besides the worker's URL
	// and the lease, which Run adds.
	Env []string
	// CleanEnv starts direct suites from a minimal environment plus Env
	// (for CI jobs, whose environment holds secrets).
	CleanEnv bool
	// SuiteTimeout bounds each suite (the suite runner's default when 0).
	SuiteTimeout time.Duration
	// RunID and Job label the testrunner container.
	RunID, Job string
	// DeviceType and Reproduce are facts for the visual report
	// (index.html): the DUT's device type, and the command that runs the
	// same suites on the same image locally.
	DeviceType, Reproduce string

	// ReportDir receives junit.xml, summary.json, per-test logs and
	// serial.log; an earlier run's reports there are removed first.
	ReportDir string
	// JobLog says Out is a GitHub Actions job log: what the suites, the
	// testrunner container and the DUT print is written with workflow
	// commands stopped (package ghlog), so it can issue none.
	JobLog bool
	// Out receives progress lines and the suites' output; discarded when
	// nil. Log receives debug logs; silent when nil.
	Out io.Writer
	Log *slog.Logger
}

// Result is what Run did. On error it holds the steps completed before
// the failure.
type Result struct {
	// Flash is the worker's account of the flash; Cached is set when the
	// worker flashed its cached copy instead of receiving the image.
	Flash  api.FlashResult
	Cached bool
	// Boot is the time from power-on to the DUT running commands.
	Boot time.Duration
	// Summary is the suites' results (nil until they ran); Passed,
	// Failed, Skipped and Errors repeat its counts, JUnit its junit.xml.
	Summary                 *gotest.Summary
	Passed, Failed, Skipped int
	Errors                  []string
	JUnit                   string
	// ReportDir is the reports' directory.
	ReportDir string
	// Infra is set when the testrunner container ran but said nothing
	// about the tests (OOM-killed, killed by a signal, no junit.xml); Run
	// then returns an error too.
	Infra *runresult.InfraError
	// Stage is the stage Run was in when it returned.
	Stage string
	// Timings is where the time went, stage by stage; it is also printed
	// at the end and written to summary.json ("timings").
	Timings Timings
}

// OK reports whether the suites ran, some test passed or was skipped, and
// none failed or crashed.
func (r *Result) OK() bool {
	return r.Infra == nil && r.Failed == 0 && len(r.Errors) == 0 && r.Passed+r.Skipped > 0
}

func (r *Result) fill(s *gotest.Summary) {
	r.Summary = s
	r.Passed, r.Failed, r.Skipped = s.Passed, s.Failed, s.Skipped
	r.Errors = s.Errors
	r.JUnit = s.JUnit
}

// Run flashes the image onto the leased DUT, boots it, runs the suites and
// writes the reports. An error means the run could not complete (the
// options, the image, the flash, the boot, the infrastructure): the DUT
// is then left powered off and summary.json names the stage. Failing tests
// are not an error but counts in the Result (see Result.OK).
func Run(ctx context.Context, o Options) (res *Result, err error) {
	o.defaults()
	res = &Result{ReportDir: o.ReportDir, Stage: StagePrepare}
	if err := o.validate(); err != nil {
		return res, err
	}
	if err := clearReports(o.ReportDir); err != nil {
		return res, err
	}
	r := &run{o: &o, res: res}
	// Last, whatever happened: the visual report of what is known.
	defer func() {
		r.imageDigest()
		r.writeIndex(err)
	}()
	defer func() {
		if err == nil {
			return
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (while in stage %s): %w", ErrInterrupted, res.Stage, err)
		}
		writeFailure(o.ReportDir, res.Stage, err, res.Timings)
	}()
	return res, r.do(ctx)
}

func (o *Options) defaults() {
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
	if o.LeaseOwner == "" {
		o.LeaseOwner = DefaultLeaseOwner
	}
	o.SHA256 = strings.ToLower(strings.TrimSpace(o.SHA256))
}

func (o *Options) validate() error {
	switch {
	case o.WorkerURL == "":
		return fmt.Errorf("testbot: no worker URL (%s): run on a testbot's runner or give the worker's URL", api.EnvWorkerURL)
	case o.Image == nil:
		return errors.New("testbot: no image to flash")
	case (o.Plan == nil) == (o.Prepare == nil):
		return errors.New("testbot: give the suites either as a plan or as a function that prepares one")
	case o.ReportDir == "":
		return errors.New("testbot: no report directory")
	case o.BootTimeout < 0:
		return fmt.Errorf("testbot: boot timeout %v is negative", o.BootTimeout)
	}
	if err := CheckSHA256(o.SHA256); err != nil {
		return fmt.Errorf("testbot: %w", err)
	}
	return nil
}

// CheckSHA256 checks that sum is empty or a hex SHA-256.
func CheckSHA256(sum string) error {
	if sum == "" {
		return nil
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
		return fmt.Errorf("sha256 %q is not a hex SHA-256 (64 hex digits)", sum)
	}
	return nil
}

// run is one Run in progress.
type run struct {
	o   *Options
	res *Result
	c   *client.Client // acting under the lease
	at  anchors
	// digest waits for the image's SHA-256 when the run computes it
	// while the DUT boots (nil otherwise); imageDigest collects it.
	digest func() (string, error)
}

// anchors are when the run's stages began, for the visual report's
// timeline; Timings holds how long each took.
type anchors struct {
	start, flash, powerOn, prepare, suites time.Time
}

// do runs the stages in order; the deferred steps leave the DUT off on any
// error and release a lease taken here.
func (r *run) do(ctx context.Context) (err error) {
	o := r.o
	t := &r.res.Timings
	start := time.Now()
	r.at.start = start
	defer func() { t.Total = time.Since(start) }()
	plan, wait := r.prepare(ctx)
	defer wait()

	r.res.Stage = StageLease
	ctx, release, err := r.lease(ctx)
	t.Lease = time.Since(start)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := release(ctx, err); rerr != nil && err == nil {
			err = rerr
		}
	}()
	mark := r.serialEnd(ctx)
	defer r.keepSerial(ctx, mark)
	defer r.keepSession(ctx)

	r.res.Stage = StageFlash
	began := time.Now()
	r.at.flash = began
	if err := r.c.PowerOff(ctx); err != nil {
		return leaseCause(ctx, fmt.Errorf("testbot: powering the DUT off before flashing: %w", err))
	}
	err = r.flash(ctx)
	t.Flash = time.Since(began)
	if err != nil {
		return leaseCause(ctx, err)
	}
	r.res.Stage = StageBoot
	if err := r.boot(ctx, mark); err != nil {
		return leaseCause(ctx, err)
	}
	r.imageDigest() // hashed during the boot
	r.res.Stage = StageSuites
	began = time.Now()
	r.at.prepare = began
	p, err := plan()
	t.Prepare = time.Since(began)
	if err != nil {
		return err
	}
	r.res.Stage = StageRun
	began = time.Now()
	r.at.suites = began
	err = r.runSuites(ctx, p)
	t.Suites = time.Since(began)
	if err != nil {
		return leaseCause(ctx, err)
	}
	t.Total = time.Since(start)
	if err := addTimings(o.ReportDir, *t); err != nil {
		o.Log.Warn("testbot: adding the timings to summary.json", "err", err)
	}
	printCounts(o.Out, r.res)
	return nil
}
