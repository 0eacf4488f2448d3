// Package localrun is `leviathan run`: the testbot half of Leviathan on one
// machine. It builds (or reuses) the test OS image, starts a QemuKit DUT
// and a worker on loopback (unless given a worker URL), leases the DUT,
// flashes the image, boots it, runs the suites and writes the reports —
// and on every exit path powers the DUT off, releases the lease and
// removes what it started.
package localrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/provision"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/qemukit"
	"github.com/balena/leviathan-action/qemukit/testimage"
	"github.com/balena/leviathan-action/suites/gotest"
	"github.com/balena/leviathan-action/suites/sdk"
)

// Options configure a run.
type Options struct {
	Image       string        // image to flash; the test OS image when empty
	Suites      []string      // suite package directories
	WorkerURL   string        // use this worker instead of starting a QEMU DUT
	Token       string        // the worker's token
	BuildDir    string        // build outputs and caches ("build")
	ReportDir   string        // reports ("reports")
	Run         string        // -run filter for the suites
	BootTimeout time.Duration // from power-on to SSH; 3 minutes when 0
	MemoryMiB   int           // QEMU DUT memory
	CPUs        int           // QEMU DUT CPUs
	Out         io.Writer     // progress and results
	Logger      *slog.Logger
}

// Result is a finished run.
type Result struct {
	Summary  *gotest.Summary
	Flash    image.Result
	BootTime time.Duration // power-on to SSH ready
}

// ErrInterrupted is returned (wrapped) when the run's context is
// cancelled, after the DUT was powered off and released.
var ErrInterrupted = errors.New("localrun: interrupted; the DUT was powered off and its lease released")

// Run performs the whole run. A failing test is not an error: check
// Result.Summary.OK. On any error the report directory holds a
// summary.json naming the stage that failed (and serial.log once the DUT
// was used), never the results of an earlier run.
func Run(ctx context.Context, o Options) (res *Result, err error) {
	o.defaults()
	// Check everything the user gave before starting anything.
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := clearReports(o.ReportDir); err != nil {
		return nil, err
	}
	stage := "prepare"
	defer func() {
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (while in stage %s)", ErrInterrupted, stage)
			}
			writeFailure(o.ReportDir, stage, err)
		}
	}()
	return o.run(ctx, &stage)
}

func (o *Options) check() error {
	if o.Image != "" {
		if err := checkImage(o.Image); err != nil {
			return err
		}
	}
	if len(o.Suites) == 0 {
		return errors.New("localrun: no suites given")
	}
	for _, dir := range o.Suites {
		if err := gotest.Check(dir); err != nil {
			return err
		}
	}
	if o.Image == "" && o.WorkerURL != "" {
		return errors.New("localrun: --image is required with --worker")
	}
	return nil
}

func (o *Options) run(ctx context.Context, stage *string) (*Result, error) {
	// Suites compile while the image is prepared and the DUT boots.
	compiled := make(chan compileResult, 1)
	cctx, cancelCompile := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		compiled <- compileSuites(cctx, o.Suites, filepath.Join(o.BuildDir, "suites"))
	}()
	defer func() { cancelCompile(); wg.Wait() }()

	if o.Image == "" {
		*stage = "build the test image"
		step(o.Out, "building the test OS image (cached under %s)", o.BuildDir)
		m, err := testimage.Build(ctx, testimage.Options{
			CacheDir: filepath.Join(o.BuildDir, "cache", "debs"),
			OutDir:   filepath.Join(o.BuildDir, "testimage"),
			Reuse:    true, // `leviathan testimage` checks apt for newer packages
			Logger:   o.Logger,
		})
		if err != nil {
			return nil, err
		}
		o.Image = m.Image
	}

	*stage = "start the worker"
	url, token := o.WorkerURL, o.Token
	if url == "" {
		local, err := StartLocal(ctx, LocalConfig{ParentDir: o.BuildDir, MemoryMiB: o.MemoryMiB, CPUs: o.CPUs, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		defer local.Close()
		url = local.URL
	}
	c, err := client.New(url, client.WithToken(token))
	if err != nil {
		return nil, err
	}
	if _, err := c.Health(ctx); err != nil {
		return nil, err
	}

	*stage = "lease the DUT"
	owner := fmt.Sprintf("leviathan run (pid %d)", os.Getpid())
	lease, err := c.Lease(ctx, owner, 60*time.Second)
	if err != nil {
		return nil, err
	}
	c, err = client.New(url, client.WithToken(token), client.WithLease(lease.ID))
	if err != nil {
		return nil, err
	}
	// A lost lease (the worker reaped it) stops the run with that cause.
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	kctx, stopKeepAlive := context.WithCancel(context.Background())
	lost := c.KeepAlive(kctx, lease, 10*time.Second)
	go func() {
		if err, ok := <-lost; ok && err != nil {
			cancelRun(fmt.Errorf("localrun: lost the lease on the DUT: %w", err))
		}
	}()
	mark, err := serialEnd(ctx, c)
	if err != nil {
		stopKeepAlive()
		c.Release(context.WithoutCancel(ctx), lease.ID)
		return nil, err
	}
	defer func() {
		stopKeepAlive()
		// Always leave the DUT off and free, even after Ctrl-C, and keep
		// its console for the report.
		tctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if log, _, err := c.SerialLog(tctx, mark); err == nil {
			os.WriteFile(filepath.Join(o.ReportDir, "serial.log"), log, 0o644)
		}
		if err := c.Teardown(tctx); err != nil {
			o.Logger.Warn("teardown failed", "err", err)
		}
	}()
	// cause turns a cancellation by a lost lease into that error.
	cause := func(err error) error {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
		return err
	}

	res := &Result{}
	*stage = "flash"
	if err := c.PowerOff(ctx); err != nil {
		return nil, cause(err)
	}
	if res.Flash, err = flash(ctx, o.Out, c, o.Image); err != nil {
		return nil, cause(err)
	}
	step(o.Out, "flashed %s: %s, %.1f MB in %.1fs (%.0f MB/s, %.0f MB of zeros skipped)",
		filepath.Base(o.Image), res.Flash.Format, float64(res.Flash.ImageBytes)/1e6,
		res.Flash.Duration.Seconds(), res.Flash.MBps(), float64(res.Flash.Skipped)/1e6)

	*stage = "boot"
	step(o.Out, "powering on and waiting for SSH (timeout %s)", o.BootTimeout)
	start := time.Now()
	if err := c.PowerOn(ctx); err != nil {
		return nil, cause(err)
	}
	if err := boot(ctx, *o, c, mark); err != nil {
		return nil, cause(err)
	}
	res.BootTime = time.Since(start)
	step(o.Out, "DUT online after %.1fs", res.BootTime.Seconds())

	*stage = "compile the suites"
	cr := <-compiled
	if cr.err != nil {
		return nil, cr.err
	}
	*stage = "run the suites"
	env := []string{sdk.EnvWorkerURL + "=" + url, sdk.EnvLease + "=" + lease.ID}
	if token != "" {
		env = append(env, sdk.EnvToken+"="+token)
	}
	res.Summary, err = gotest.Run(ctx, gotest.Options{
		Suites:    cr.suites,
		Env:       env,
		ReportDir: o.ReportDir,
		Run:       o.Run,
		Serial: func(ctx context.Context, off int64) ([]byte, int64, error) {
			return c.SerialLog(ctx, off)
		},
		Out: o.Out,
	})
	if err != nil {
		return nil, cause(err)
	}
	printTable(o.Out, res.Summary)
	if res.Summary.Passed+res.Summary.Failed+res.Summary.Skipped == 0 && len(res.Summary.Errors) == 0 {
		return nil, fmt.Errorf("localrun: no test ran: --run %q matched no test", o.Run)
	}
	return res, nil
}

// clearReports removes an earlier run's reports, so that a failed run can
// never be read as the previous run's success.
func clearReports(dir string) error {
	for _, f := range []string{"junit.xml", "summary.json", "events.json", "serial.log", "tests"} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("localrun: clearing old reports: %w", err)
		}
	}
	return os.MkdirAll(dir, 0o755)
}

// writeFailure records a run that did not complete.
func writeFailure(dir, stage string, err error) {
	b, _ := json.MarshalIndent(map[string]any{
		"ok":    false,
		"stage": stage,
		"error": err.Error(),
	}, "", "  ")
	os.WriteFile(filepath.Join(dir, "summary.json"), append(b, '\n'), 0o644)
}

type compileResult struct {
	suites []gotest.Suite
	err    error
}

func compileSuites(ctx context.Context, dirs []string, out string) compileResult {
	var r compileResult
	for _, dir := range dirs {
		s, err := gotest.Build(ctx, dir, out)
		if err != nil {
			return compileResult{err: err}
		}
		r.suites = append(r.suites, s)
	}
	return r
}

func (o *Options) defaults() {
	if o.BuildDir == "" {
		o.BuildDir = "build"
	}
	if o.ReportDir == "" {
		o.ReportDir = "reports"
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = 3 * time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// checkImage fails early, before any DUT starts, when the image is
// missing or is not a disk image.
func checkImage(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("localrun: image %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("localrun: image %s is a directory, not a disk image", path)
	}
	r, format, release, err := image.Decompress(f)
	if err != nil {
		return fmt.Errorf("localrun: image %s: %w", path, err)
	}
	defer release()
	head := make([]byte, 1024)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("localrun: image %s (%s): %w", path, format, err)
	}
	if !image.IsDiskImage(head[:n]) {
		return fmt.Errorf("localrun: image %s: %w (format %s)", path, image.ErrNotDiskImage, format)
	}
	return nil
}

// Local is a QemuKit DUT served by an in-process worker on loopback.
type Local struct {
	URL      string
	DUT      *qemukit.DUT
	Hostname string
	srv      *http.Server
	w        *worker.Worker
	dir      string
	lock     *os.File
}

// LocalConfig configures StartLocal.
type LocalConfig struct {
	ParentDir string     // the DUT's state directory is made inside it
	MemoryMiB int        // QEMU memory
	Isolated  bool       // cut the QEMU DUT off from the host and the outside (qemukit.Config.Isolated)
	CPUs      int        // QEMU CPUs
	Signer    ssh.Signer // the worker's SSH key; a new one when nil
	Logger    *slog.Logger
	// WorkerOptions are added to the worker's (a lease-end hook, a lease
	// check interval…).
	WorkerOptions []worker.Option
}

// StartLocal starts a QemuKit DUT and a worker on a free loopback port.
// Close powers the DUT off and removes its files.
func StartLocal(ctx context.Context, cfg LocalConfig) (*Local, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.ParentDir, 0o755); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	removeStale(cfg.ParentDir, cfg.Logger)
	dir, err := os.MkdirTemp(cfg.ParentDir, "dut-")
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	l := &Local{dir: dir}
	// The lock tells later runs this directory is in use; a killed run's
	// directory is unlocked and removed by the next one.
	if l.lock, err = os.Create(filepath.Join(dir, "lock")); err == nil {
		err = syscall.Flock(int(l.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("localrun: locking the DUT directory: %w", err)
	}
	fail := func(err error) (*Local, error) {
		l.Close()
		return nil, err
	}
	l.DUT, err = qemukit.New(qemukit.Config{Name: "qemu-" + filepath.Base(dir), Dir: dir, MemoryMiB: cfg.MemoryMiB, CPUs: cfg.CPUs, Isolated: cfg.Isolated, Logger: cfg.Logger})
	if err != nil {
		return fail(err)
	}
	signer := cfg.Signer
	if signer == nil {
		if signer, _, err = provision.NewKey(); err != nil {
			return fail(err)
		}
	}
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	suffix := make([]byte, 3)
	rand.Read(suffix)
	l.Hostname = "leviathan-" + hex.EncodeToString(suffix)
	opts := append([]worker.Option{worker.WithLogger(cfg.Logger), worker.WithHostname(l.Hostname),
		worker.WithSigner(signer), worker.WithProvision(provision.ConfigJSON(l.Hostname, pub)),
		worker.WithFatalPatterns(qemukit.BootFailures...)}, cfg.WorkerOptions...)
	l.w, err = worker.New(l.DUT, opts...)
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(fmt.Errorf("localrun: %w", err))
	}
	l.srv = &http.Server{Handler: l.w.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go l.srv.Serve(ln)
	l.URL = "http://" + ln.Addr().String()
	cfg.Logger.Info("worker started", "url", l.URL, "dut", l.DUT.Name(), "dir", dir)
	return l, nil
}

// Close stops the worker, powers the DUT off and removes its files.
func (l *Local) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if l.srv != nil {
		if l.srv.Shutdown(ctx) != nil {
			l.srv.Close()
		}
	}
	if l.w != nil {
		l.w.Close(ctx)
	}
	if l.DUT != nil {
		l.DUT.Close()
	}
	os.RemoveAll(l.dir)
	if l.lock != nil {
		l.lock.Close()
	}
}

// removeStale removes DUT directories left by runs that were killed: those
// whose lock nobody holds. (QEMU itself dies with the process that
// started it.)
func removeStale(parent string, log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "dut-*"))
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, "lock"))
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			log.Info("removing a stale DUT directory", "dir", d)
			os.RemoveAll(d)
		}
		f.Close()
	}
}

func serialEnd(ctx context.Context, c *client.Client) (int64, error) {
	_, end, err := c.SerialLog(ctx, 1<<62)
	return end, err
}

func step(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "• "+format+"\n", args...)
}
