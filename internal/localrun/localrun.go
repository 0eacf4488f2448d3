// Package localrun is `leviathan run`: the testbot half of Leviathan on one
// machine. It builds (or reuses) the test OS image and starts a QemuKit DUT
// behind a worker on loopback (unless given a worker URL), then hands the
// run to package testbot — lease, flash, boot, suites, reports, release,
// the DUT powered off on every exit path — and removes what it started.
package localrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/provision"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/qemukit"
	"github.com/balena/leviathan-action/qemukit/testimage"
	"github.com/balena/leviathan-action/suites/gotest"
	"github.com/balena/leviathan-action/testbot"
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

// Result is a finished run: see testbot.Result.
type Result = testbot.Result

// ErrInterrupted is returned (wrapped) when the run's context is
// cancelled, after the DUT was powered off and released.
var ErrInterrupted = testbot.ErrInterrupted

// Run performs the whole run. A failing test is not an error: check
// Result.Summary.OK. On any error the report directory holds a
// summary.json naming the stage that failed (and serial.log once the DUT
// was used), never the results of an earlier run.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	// Check everything the user gave before starting anything.
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Image == "" {
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
	url := o.WorkerURL
	if url == "" {
		local, err := StartLocal(ctx, LocalConfig{ParentDir: o.BuildDir, MemoryMiB: o.MemoryMiB, CPUs: o.CPUs, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		defer local.Close()
		url = local.URL
	}
	res, err := testbot.Run(ctx, testbot.Options{
		WorkerURL: url, Token: o.Token, LeaseOwner: fmt.Sprintf("leviathan run (pid %d)", os.Getpid()),
		Image: testbot.Ref{Ref: o.Image, Log: o.Logger}, BootTimeout: o.BootTimeout,
		// Suites compile while the image is flashed and the DUT boots.
		Prepare: func(ctx context.Context) (*testbot.Plan, error) {
			return compileSuites(ctx, o.Suites, filepath.Join(o.BuildDir, "suites"))
		},
		Run:       o.Run,
		ReportDir: o.ReportDir, Out: o.Out, Log: o.Logger,
		DeviceType: "qemu-x86_64 (local)", Reproduce: o.reproduce(),
	})
	if err != nil {
		return res, err
	}
	if res.Passed+res.Failed+res.Skipped == 0 && len(res.Errors) == 0 {
		return res, fmt.Errorf("localrun: no test ran: --run %q matched no test", o.Run)
	}
	return res, nil
}

// reproduce is the command line of this run.
func (o *Options) reproduce() string {
	args := []string{"leviathan", "run"}
	if o.Image != "" {
		args = append(args, "--image", o.Image)
	}
	for _, s := range o.Suites {
		args = append(args, "--suite", s)
	}
	if o.Run != "" {
		args = append(args, "--run", "'"+strings.ReplaceAll(o.Run, "'", `'\''`)+"'")
	}
	return strings.Join(args, " ")
}

func (o *Options) check() error {
	if o.Image != "" {
		if _, err := testbot.CheckFile(o.Image); err != nil {
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

// compileSuites builds the suite packages into out.
func compileSuites(ctx context.Context, dirs []string, out string) (*testbot.Plan, error) {
	p := &testbot.Plan{}
	for _, dir := range dirs {
		// The build overlaps the DUT's flash and boot: they come first.
		s, err := gotest.BuildWith(ctx, dir, out, gotest.BuildOptions{Background: true})
		if err != nil {
			return nil, err
		}
		p.Direct = append(p.Direct, s)
	}
	return p, nil
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
	suffix := make([]byte, 3)
	rand.Read(suffix)
	l.Hostname = "leviathan-" + hex.EncodeToString(suffix)
	opts := append([]worker.Option{worker.WithLogger(cfg.Logger), worker.WithIdentity(l.Hostname, signer),
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

func step(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "• "+format+"\n", args...)
}
