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
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/provision"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/qemukit"
	"github.com/balena/leviathan-action/qemukit/testimage"
	"github.com/balena/leviathan-action/suites/runner"
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
	Summary  *runner.Summary
	Flash    image.Result
	BootTime time.Duration // power-on to SSH ready
}

// Run performs the whole run. A failing test is not an error: check
// Result.Summary.OK.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	// Check everything the user gave before starting anything.
	if o.Image != "" {
		if err := checkImage(o.Image); err != nil {
			return nil, err
		}
	}
	if len(o.Suites) == 0 {
		return nil, errors.New("localrun: no suites given")
	}
	for _, dir := range o.Suites {
		if err := runner.Check(dir); err != nil {
			return nil, err
		}
	}
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

	if o.Image == "" && o.WorkerURL == "" {
		step(o.Out, "building the test OS image (cached under %s)", o.BuildDir)
		m, err := testimage.Build(ctx, testimage.Options{
			CacheDir: filepath.Join(o.BuildDir, "cache", "debs"),
			OutDir:   filepath.Join(o.BuildDir, "testimage"),
			Logger:   o.Logger,
		})
		if err != nil {
			return nil, err
		}
		o.Image = m.Image
	}
	if o.Image == "" {
		return nil, errors.New("localrun: --image is required with --worker")
	}

	var res Result
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
	owner := fmt.Sprintf("leviathan run (pid %d)", os.Getpid())
	lease, err := c.Lease(ctx, owner, 30*time.Second)
	if err != nil {
		return nil, err
	}
	c, err = client.New(url, client.WithToken(token), client.WithLease(lease.ID))
	if err != nil {
		return nil, err
	}
	kctx, stopKeepAlive := context.WithCancel(context.Background())
	c.KeepAlive(kctx, lease, 10*time.Second)
	defer func() {
		stopKeepAlive()
		// Always leave the DUT off and free, even after Ctrl-C.
		tctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Teardown(tctx); err != nil {
			o.Logger.Warn("teardown failed", "err", err)
		}
	}()

	if res.Flash, err = flash(ctx, o.Out, c, o.Image); err != nil {
		return nil, err
	}
	step(o.Out, "flashed %s: %s, %.1f MB in %.1fs (%.0f MB/s, %.0f MB of zeros skipped)",
		filepath.Base(o.Image), res.Flash.Format, float64(res.Flash.ImageBytes)/1e6,
		res.Flash.Duration.Seconds(), res.Flash.MBps(), float64(res.Flash.Skipped)/1e6)

	mark, err := serialEnd(ctx, c)
	if err != nil {
		return nil, err
	}
	step(o.Out, "powering on and waiting for SSH (timeout %s)", o.BootTimeout)
	start := time.Now()
	if err := c.PowerOn(ctx); err != nil {
		return nil, err
	}
	if err := boot(ctx, o, c, mark); err != nil {
		return nil, err
	}
	res.BootTime = time.Since(start)
	step(o.Out, "DUT online after %.1fs", res.BootTime.Seconds())

	if err := os.MkdirAll(o.ReportDir, 0o755); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	cr := <-compiled
	if cr.err != nil {
		return nil, cr.err
	}
	suites := cr.suites
	env := []string{sdk.EnvWorkerURL + "=" + url, sdk.EnvLease + "=" + lease.ID}
	if token != "" {
		env = append(env, sdk.EnvToken+"="+token)
	}
	res.Summary, err = runner.Run(ctx, runner.Options{
		Suites:    suites,
		Env:       env,
		ReportDir: o.ReportDir,
		Run:       o.Run,
		Serial: func(ctx context.Context, off int64) ([]byte, int64, error) {
			return c.SerialLog(ctx, off)
		},
		Out: o.Out,
	})
	if log, _, err := c.SerialLog(context.WithoutCancel(ctx), 0); err == nil {
		os.WriteFile(filepath.Join(o.ReportDir, "serial.log"), log, 0o644)
	}
	if err != nil {
		return &res, err
	}
	printTable(o.Out, res.Summary)
	return &res, ctx.Err()
}

type compileResult struct {
	suites []runner.Suite
	err    error
}

func compileSuites(ctx context.Context, dirs []string, out string) compileResult {
	var r compileResult
	for _, dir := range dirs {
		s, err := runner.Build(ctx, dir, out)
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
}

// LocalConfig configures StartLocal.
type LocalConfig struct {
	ParentDir string     // the DUT's state directory is made inside it
	MemoryMiB int        // QEMU memory
	CPUs      int        // QEMU CPUs
	Signer    ssh.Signer // the worker's SSH key; a new one when nil
	Logger    *slog.Logger
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
	dir, err := os.MkdirTemp(cfg.ParentDir, "dut-")
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	l := &Local{dir: dir}
	fail := func(err error) (*Local, error) {
		l.Close()
		return nil, err
	}
	l.DUT, err = qemukit.New(qemukit.Config{Name: "qemu-" + filepath.Base(dir), Dir: dir, MemoryMiB: cfg.MemoryMiB, CPUs: cfg.CPUs, Logger: cfg.Logger})
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
	l.w, err = worker.New(l.DUT, worker.WithLogger(cfg.Logger), worker.WithHostname(l.Hostname),
		worker.WithSigner(signer), worker.WithProvision(provision.ConfigJSON(l.Hostname, pub)))
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
		l.srv.Shutdown(ctx)
	}
	if l.w != nil {
		l.w.Close(ctx)
	}
	if l.DUT != nil {
		l.DUT.Close()
	}
	os.RemoveAll(l.dir)
}

func serialEnd(ctx context.Context, c *client.Client) (int64, error) {
	_, end, err := c.SerialLog(ctx, 1<<62)
	return end, err
}

func step(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "• "+format+"\n", args...)
}
