package worker

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
)

// Testrunner starts the testrunner container on the worker's Docker
// Engine, so that no job needs the engine (root-equivalent) itself. It is
// implemented in package autokit/testrunner; the worker decides
// what runs, the implementation owns the container's fixed, locked-down
// spec.
type Testrunner interface {
	// Pull fetches image, by digest, into the engine.
	Pull(ctx context.Context, image string, progress io.Writer) error
	// Run runs the testrunner container and returns how it ended; an
	// error means it could not be run at all.
	Run(ctx context.Context, r TestrunnerRun) (api.TestrunnerResult, error)
}

// TestrunnerRun is one run of the testrunner container for a lease.
type TestrunnerRun struct {
	Image string
	// Suites to run, in order: built-in ones from the image, or the
	// lease's uploaded binaries (in UserSuitesDir).
	Suites  []TestrunnerSuite
	Run     string        // go test -run
	Timeout time.Duration // per suite; 0 for the testrunner's default
	Env     []string      // KEY=VALUE for the suites
	// Lease is the lease the container acts on: its only credential.
	Lease      string
	RunID, Job string
	// UserSuitesDir holds the uploaded suites (files 0755), to mount
	// read-only; "" when none were uploaded.
	UserSuitesDir string
	// ReportsDir is an empty directory the container's reports go to.
	ReportsDir     string
	Stdout, Stderr io.Writer
}

// TestrunnerSuite is a suite to run: a built-in one (the image's
// /suites/<Name>.test) or an uploaded binary named Name.
type TestrunnerSuite struct {
	Name     string
	Uploaded bool
}

// DefaultSuiteUploadLimit bounds what one lease may upload in suite
// binaries, all files together (see WithSuiteUploadLimit).
const DefaultSuiteUploadLimit = 2 << 30

// WithSuiteUploadLimit bounds the bytes of suite binaries one lease may
// keep uploaded (DefaultSuiteUploadLimit by default), so a job cannot fill
// the worker's disk.
func WithSuiteUploadLimit(n int64) Option { return func(w *Worker) { w.trUploadLimit = n } }

var (
	uploadName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.test$`)
	builtinName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// WithTestrunner lets leases run the testrunner container through t
// (POST /v1/testrunner), with uploads and reports kept under dir (a
// private directory; each lease's files are removed when it ends). Only
// the images given, and those the admin pulls through the worker, may
// run.
func WithTestrunner(t Testrunner, dir string, images ...string) Option {
	return func(w *Worker) {
		w.tr, w.trDir = t, dir
		w.trImages = append(w.trImages, images...)
	}
}

// testrunner returns the configured Testrunner or a 501 error.
func (w *Worker) testrunner() (Testrunner, error) {
	if w.tr == nil {
		return nil, errorf(api.CodeNotSupported, "worker: this worker runs no testrunner container (start it with a Docker Engine: leviathan worker --testrunner-image)")
	}
	return w.tr, nil
}

// leaseFiles returns the live lease's private directory, making it.
func (w *Worker) leaseFiles() (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.liveLease(w.clock.Now())
	if l == nil {
		return "", errorf(api.CodeLeaseRequired, "worker: the DUT is not leased")
	}
	if l.files == "" {
		if err := os.MkdirAll(w.trDir, 0o700); err != nil {
			return "", errorf(api.CodeInternal, "worker: %w", err)
		}
		d, err := os.MkdirTemp(w.trDir, "lease-")
		if err != nil {
			return "", errorf(api.CodeInternal, "worker: %w", err)
		}
		l.files = d
	}
	return l.files, nil
}

// dropLeaseFiles removes an ended lease's uploads and reports.
func (w *Worker) dropLeaseFiles(l *lease) {
	if l.files != "" {
		if err := os.RemoveAll(l.files); err != nil {
			w.log.Warn("removing the lease's files", "err", err)
		}
	}
}

func (w *Worker) putTestrunnerSuite(rw http.ResponseWriter, r *http.Request) error {
	if _, err := w.testrunner(); err != nil {
		return err
	}
	name := r.PathValue("name")
	if !uploadName.MatchString(name) {
		return errorf(api.CodeBadRequest, "worker: suite name %q: want NAME.test (letters, digits, _ . -)", name)
	}
	dir, err := w.leaseFiles()
	if err != nil {
		return err
	}
	suites := filepath.Join(dir, "suites")
	// The container's user (nobody) runs them through a bind mount of
	// this directory; its private parents keep everyone else on the host
	// out (the engine resolves the mount's source as root).
	if err := os.MkdirAll(suites, 0o755); err != nil {
		return errorf(api.CodeInternal, "worker: %w", err)
	}
	// One upload at a time, so the lease's total stays within the limit.
	w.trUploadMu.Lock()
	defer w.trUploadMu.Unlock()
	room := w.trUploadLimit - uploadedBytes(suites, name)
	if room <= 0 {
		return errorf(api.CodeTooLarge, "worker: this lease's suites already take the %d bytes it may upload", w.trUploadLimit)
	}
	f, err := os.CreateTemp(suites, ".upload-")
	if err != nil {
		return errorf(api.CodeInternal, "worker: %w", err)
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), http.MaxBytesReader(rw, r.Body, room))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errorf(api.CodeTooLarge, "worker: suite %s does not fit: a lease may upload %d bytes of suites in all", name, w.trUploadLimit)
	case err != nil:
		return errorf(api.CodeBadRequest, "worker: receiving suite %s: %w", name, err)
	case n == 0:
		return errorf(api.CodeBadRequest, "worker: suite %s is empty", name)
	}
	if err := os.Chmod(f.Name(), 0o755); err != nil {
		return errorf(api.CodeInternal, "worker: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(suites, name)); err != nil {
		return errorf(api.CodeInternal, "worker: %w", err)
	}
	writeJSON(rw, http.StatusCreated, map[string]any{"name": name, "size": n, "sha256": hex.EncodeToString(h.Sum(nil))})
	return nil
}

// uploadedBytes is the size of the suites in dir, except one named skip
// (about to be replaced).
func uploadedBytes(dir, skip string) int64 {
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && e.Name() != skip && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

func (w *Worker) postTestrunner(rw http.ResponseWriter, r *http.Request) error {
	var req api.TestrunnerRequest
	if err := decode(rw, r, &req); err != nil {
		return err
	}
	w.recordSecrets(req.Env)
	tr, err := w.testrunner()
	if err != nil {
		return err
	}
	dir, err := w.leaseFiles()
	if err != nil {
		return err
	}
	run, err := w.checkTestrunner(req, dir)
	if err != nil {
		return err
	}
	w.mu.Lock()
	l := w.liveLease(w.clock.Now())
	switch {
	case l == nil:
		w.mu.Unlock()
		return errorf(api.CodeLeaseStale, "worker: the lease ended")
	case w.trRunning:
		w.mu.Unlock()
		return errorf(api.CodeBusy, "worker: the testrunner container is already running for this lease")
	}
	w.trRunning = true
	run.Lease = l.id
	w.mu.Unlock()
	// The run is over before its last frame goes out: a client that asks
	// again as soon as it has the result must not find it still running.
	var doneOnce sync.Once
	done := func() {
		doneOnce.Do(func() {
			w.mu.Lock()
			w.trRunning = false
			w.mu.Unlock()
		})
	}
	defer done()
	run.ReportsDir = filepath.Join(dir, "reports")
	if err := os.RemoveAll(run.ReportsDir); err != nil {
		return errorf(api.CodeInternal, "worker: %w", err)
	}
	if err := os.Mkdir(run.ReportsDir, 0o700); err != nil {
		return errorf(api.CodeInternal, "worker: %w", err)
	}
	s := &frameStream{rw: rw, rc: http.NewResponseController(rw)}
	run.Stdout = frameWriter(s, api.StreamStdout)
	run.Stderr = frameWriter(s, api.StreamStderr)
	w.log.Info("testrunner container starting", "image", run.Image, "suites", len(run.Suites))
	res, err := tr.Run(r.Context(), run)
	done()
	if err != nil {
		if !s.started {
			return errorf(api.CodeTestrunnerFailed, "worker: running the testrunner container: %w", err)
		}
		s.frame(api.TestrunnerFrame{Error: "worker: running the testrunner container: " + err.Error()})
		return nil
	}
	w.log.Info("testrunner container ended", "exit", res.ExitCode, "infra", res.Infra)
	s.frame(api.TestrunnerFrame{Result: &res})
	return nil
}

// checkTestrunner validates req against the worker's allowed images and
// the lease's uploads.
func (w *Worker) checkTestrunner(req api.TestrunnerRequest, dir string) (TestrunnerRun, error) {
	run := TestrunnerRun{Image: req.Image, Run: req.Run, RunID: req.RunID, Job: req.Job,
		Timeout: api.Duration(req.TimeoutSeconds)}
	w.mu.Lock()
	allowed := slices.Contains(w.trImages, req.Image)
	w.mu.Unlock()
	if !allowed {
		return run, errorf(api.CodeForbidden, "worker: image %q is not one this worker runs (its testrunner image, or one pulled through %s by the testbot's admin)", req.Image, api.PathTestrunnerPull)
	}
	if len(req.Suites) == 0 {
		return run, errorf(api.CodeBadRequest, "worker: no suites to run")
	}
	if req.TimeoutSeconds < 0 {
		return run, errorf(api.CodeBadRequest, "worker: timeout_seconds %v: must not be negative", req.TimeoutSeconds)
	}
	for _, p := range [][2]string{{"run_id", req.RunID}, {"job", req.Job}, {"run", req.Run}} {
		if strings.ContainsAny(p[1], "\x00\r\n") || len(p[1]) > 1024 {
			return run, errorf(api.CodeBadRequest, "worker: %s: control characters or too long", p[0])
		}
	}
	seen := map[string]bool{}
	for _, s := range req.Suites {
		up := filepath.Join(dir, "suites", s)
		switch {
		case seen[s]:
			return run, errorf(api.CodeBadRequest, "worker: suite %q is listed twice", s)
		case uploadName.MatchString(s):
			if fi, err := os.Lstat(up); err != nil || !fi.Mode().IsRegular() {
				return run, errorf(api.CodeBadRequest, "worker: suite %q was not uploaded (PUT %s first)", s, api.TestrunnerSuitePath(s))
			}
			run.Suites = append(run.Suites, TestrunnerSuite{Name: s, Uploaded: true})
			run.UserSuitesDir = filepath.Join(dir, "suites")
		case builtinName.MatchString(s):
			run.Suites = append(run.Suites, TestrunnerSuite{Name: s})
		default:
			return run, errorf(api.CodeBadRequest, "worker: suite %q: want a built-in suite's name (os) or an uploaded NAME.test", s)
		}
		seen[s] = true
	}
	for _, kv := range req.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !envName.MatchString(k) || strings.HasPrefix(k, api.EnvPrefix+"WORKER") || k == api.EnvLease || strings.ContainsRune(kv, 0) {
			return run, errorf(api.CodeBadRequest, "worker: env %q: want NAME=VALUE with a plain name (the worker sets %s and %s itself)", k, api.EnvWorkerURL, api.EnvLease)
		}
	}
	if len(req.Env) > 256 {
		return run, errorf(api.CodeBadRequest, "worker: %d env variables: at most 256", len(req.Env))
	}
	run.Env = req.Env
	return run, nil
}

// frameWriter sends what it gets as output frames of stream.
func frameWriter(s *frameStream, stream string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		if err := s.frame(api.TestrunnerFrame{Stream: stream, Data: p}); err != nil {
			return 0, err
		}
		return len(p), nil
	})
}

// getTestrunnerReports sends the last run's reports as a tar stream, the
// entries under reports/ (as docker cp makes it).
func (w *Worker) getTestrunnerReports(rw http.ResponseWriter, r *http.Request) error {
	if _, err := w.testrunner(); err != nil {
		return err
	}
	dir, err := w.leaseFiles()
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "reports")
	if _, err := os.Stat(root); err != nil {
		return errorf(api.CodeNotFound, "worker: no testrunner run for this lease yet")
	}
	rw.Header().Set("Content-Type", "application/x-tar")
	tw := tar.NewWriter(rw)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return nil // the container's reports: files and directories only
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = "reports/" + filepath.ToSlash(rel)
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		w.log.Warn("sending the testrunner reports", "err", err)
	}
	return nil
}

// postTestrunnerPull pulls an image for later runs (the testbot's admin
// only: the runner hook), so that no job needs the Docker Engine.
func (w *Worker) postTestrunnerPull(rw http.ResponseWriter, r *http.Request) error {
	tr, err := w.testrunner()
	if err != nil {
		return err
	}
	var req api.PullRequest
	if err := decode(rw, r, &req); err != nil {
		return err
	}
	if _, digest, ok := strings.Cut(req.Image, "@sha256:"); !ok || len(digest) != 64 {
		return errorf(api.CodeBadRequest, "worker: image %q: pull images by digest (registry/repo@sha256:…), so every job runs exactly the image that was vetted", req.Image)
	}
	if err := tr.Pull(r.Context(), req.Image, io.Discard); err != nil {
		return errorf(api.CodeTestrunnerFailed, "worker: pulling %s: %w", req.Image, err)
	}
	w.mu.Lock()
	if !slices.Contains(w.trImages, req.Image) {
		w.trImages = append(w.trImages, req.Image)
	}
	w.mu.Unlock()
	w.log.Info("testrunner image pulled", "image", req.Image)
	writeJSON(rw, http.StatusOK, req)
	return nil
}
