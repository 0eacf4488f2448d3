package submit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/suites/bundle"
)

// DefaultArtifactName is the artifact name used when Options has none.
const DefaultArtifactName = "leviathan-image"

// Uploader stores files as a workflow artifact; *artifact.Client is one.
type Uploader interface {
	Upload(ctx context.Context, name string, files ...artifact.File) (artifact.Artifact, error)
}

var _ Uploader = (*artifact.Client)(nil)

// Options tunes Submit.
type Options struct {
	// ArtifactName names the artifact (default DefaultArtifactName). It
	// must be unique in the workflow run.
	ArtifactName string
	// Level is the zstd level for raw images (default zstd.SpeedDefault).
	Level zstd.EncoderLevel
	// Logger receives progress; Submit is silent without one.
	Logger *slog.Logger

	// Suites are workspace-relative directories of Go test packages that
	// Submit compiles (package bundle) and ships in the artifact before
	// the image, with their manifest; none when empty.
	Suites []string
	// Workspace is the directory Suites are relative to (the current
	// directory when empty).
	Workspace string
	// Arches are the GOARCHes to compile the suites for
	// (bundle.DefaultArches when nil).
	Arches []string
	// Commit is recorded in the suites' manifest (GITHUB_SHA).
	Commit string
	// WorkDir holds the compiled suites until they are uploaded (the
	// system's temporary directory when empty).
	WorkDir string
}

// Result is what Submit uploaded: the action's outputs and the figures
// behind them.
type Result struct {
	ArtifactName string
	ArtifactID   int64
	// Member is the image's file name inside the artifact.
	Member string
	// ImageSHA256 is the hex SHA-256 of the uncompressed image.
	ImageSHA256 string
	// Format is the submitted file's format.
	Format image.Format
	// ImageSize is the uncompressed image's size in bytes.
	ImageSize int64
	// UploadedSize is the size of the compressed image in the artifact.
	UploadedSize int64
	// ArchiveSize is the size of the artifact's zip archive.
	ArchiveSize int64
	// Duration is the time from the first byte read to the finalized
	// artifact.
	Duration time.Duration
	// Suites are the compiled suites shipped before the image, one per
	// suite and architecture.
	Suites []bundle.Entry
}

// Ratio is the compression ratio, uncompressed over uploaded size.
func (r Result) Ratio() float64 {
	if r.UploadedSize == 0 {
		return 0
	}
	return float64(r.ImageSize) / float64(r.UploadedSize)
}

// Outputs are the action's outputs for the result.
func (r Result) Outputs() map[string]string {
	return map[string]string{
		"artifact-name": r.ArtifactName,
		"artifact-id":   strconv.FormatInt(r.ArtifactID, 10),
		"image-sha256":  r.ImageSHA256,
	}
}

// FromEnv is Submit with an artifact client configured from
// ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL.
func FromEnv(ctx context.Context, path string, opts Options) (Result, error) {
	var aopts []artifact.Option
	if opts.Logger != nil {
		aopts = append(aopts, artifact.WithLogger(opts.Logger))
	}
	c, err := artifact.NewFromEnv(aopts...)
	if err != nil {
		return Result{}, fmt.Errorf("submit: %w", err)
	}
	return Submit(ctx, c, path, opts)
}

// Submit checks the image at path and uploads it through up: zstd-compressed
// when it is raw, as it is when already compressed.
func Submit(ctx context.Context, up Uploader, path string, opts Options) (Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.ArtifactName == "" {
		opts.ArtifactName = DefaultArtifactName
	}
	if opts.Level == 0 {
		opts.Level = zstd.SpeedDefault
	}
	img, err := Check(path)
	if err != nil {
		return Result{}, err
	}
	// The suites compile before anything is uploaded: a broken suite
	// fails the step without an artifact.
	suites, cleanup, err := compileSuites(ctx, opts, log)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("submit: %w", err)
	}
	defer f.Close()

	res := Result{ArtifactName: opts.ArtifactName, Format: img.Format, Member: filepath.Base(path)}
	h := sha256.New()
	var file artifact.File
	if img.Compressed() {
		file = artifact.File{Name: res.Member, Write: func(w io.Writer) error {
			n, size, err := copyHashingDecompressed(w, f, h)
			res.UploadedSize, res.ImageSize = n, size
			return err
		}}
	} else {
		res.Member += ".zst"
		file = artifact.File{Name: res.Member, Write: func(w io.Writer) error {
			cw := &countWriter{w: w}
			enc, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(opts.Level), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
			if err != nil {
				return fmt.Errorf("submit: zstd: %w", err)
			}
			n, err := io.Copy(enc, io.TeeReader(f, h))
			if cerr := enc.Close(); err == nil {
				err = cerr
			}
			res.ImageSize, res.UploadedSize = n, cw.n
			if err != nil {
				return fmt.Errorf("submit: compressing %s: %w", path, err)
			}
			return nil
		}}
	}
	if fi, err := f.Stat(); err == nil {
		file.ModTime = fi.ModTime()
	}
	files := []artifact.File{file}
	if len(suites) > 0 {
		files = suiteFiles(res.Member, suites, file)
		for _, b := range suites {
			res.Suites = append(res.Suites, b.Entry)
		}
	}
	log.InfoContext(ctx, "submit: uploading", "image", path, "format", img.Format, "bytes", img.Size, "artifact", opts.ArtifactName, "suites", len(suites))
	start := time.Now()
	a, err := up.Upload(ctx, opts.ArtifactName, files...)
	if err != nil {
		return Result{}, fmt.Errorf("submit: %s: %w", path, err)
	}
	res.Duration = time.Since(start)
	res.ArtifactID, res.ArchiveSize = a.ID, a.Size
	res.ImageSHA256 = hex.EncodeToString(h.Sum(nil))
	log.InfoContext(ctx, "submit: uploaded", "artifact", a.Name, "id", a.ID, "sha256", res.ImageSHA256,
		"image_bytes", res.ImageSize, "uploaded_bytes", res.UploadedSize, "ratio", fmt.Sprintf("%.2f", res.Ratio()),
		"MB/s", fmt.Sprintf("%.1f", float64(res.ImageSize)/1e6/res.Duration.Seconds()))
	return res, nil
}

// compileSuites compiles opts.Suites into a temporary directory that
// cleanup removes.
func compileSuites(ctx context.Context, opts Options, log *slog.Logger) ([]bundle.Binary, func(), error) {
	nop := func() {}
	if len(opts.Suites) == 0 {
		return nil, nop, nil
	}
	dir, err := os.MkdirTemp(opts.WorkDir, "leviathan-suites-")
	if err != nil {
		return nil, nop, fmt.Errorf("submit: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	ws := opts.Workspace
	if ws == "" {
		ws = "."
	}
	bins, err := bundle.Compile(ctx, bundle.CompileOptions{
		Workspace: ws, Suites: opts.Suites, Arches: opts.Arches, Commit: opts.Commit,
		OutDir: dir, Env: buildEnv(os.Environ()), Log: log,
	})
	if err != nil {
		cleanup()
		return nil, nop, &SuitesError{Err: err}
	}
	return bins, cleanup, nil
}

// SuitesError is a suite that does not exist or does not compile, found
// before anything is uploaded. It carries the compiler's output.
type SuitesError struct{ Err error }

// Error names the suite.
func (e *SuitesError) Error() string { return "submit: " + e.Err.Error() }

// Unwrap returns the compile error.
func (e *SuitesError) Unwrap() error { return e.Err }

// secretEnv are the prefixes of variables the go command does not get
// while it compiles the suites: the step's inputs (tokens, keys), the
// runner's own credentials and Leviathan's.
var secretEnv = []string{"INPUT_", "ACTIONS_", "GITHUB_TOKEN", api.EnvPrefix}

// buildEnv is env without the variables that may hold the step's secrets.
// Compiling runs no code of the suites, but what the go command does not
// hold it cannot pass on.
func buildEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !slices.ContainsFunc(secretEnv, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			out = append(out, kv)
		}
	}
	return out
}

// suiteFiles are the artifact's members: the suites' manifest, their
// binaries, then the image, so that a testbot reads the suites and stops
// before the image.
func suiteFiles(member string, bins []bundle.Binary, image artifact.File) []artifact.File {
	m := bundle.NewManifest(member, bins)
	files := []artifact.File{{Name: bundle.ManifestMember, Reader: bytes.NewReader(m.Marshal()), Compress: true, ModTime: image.ModTime}}
	for _, b := range bins {
		file := b.File
		files = append(files, artifact.File{Name: b.Member(), Compress: true, ModTime: image.ModTime, Write: func(w io.Writer) error {
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("submit: %w", err)
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		}})
	}
	return append(files, image)
}

// copyHashingDecompressed copies the compressed stream src to w and, in a
// second goroutine, decompresses it into h. It returns the compressed and
// the decompressed sizes.
func copyHashingDecompressed(w io.Writer, src io.Reader, h hash.Hash) (int64, int64, error) {
	pr, pw := io.Pipe()
	type sum struct {
		n   int64
		err error
	}
	done := make(chan sum, 1)
	go func() {
		r, _, release, err := image.Decompress(pr)
		if err != nil {
			pr.CloseWithError(err)
			done <- sum{0, err}
			return
		}
		n, err := io.Copy(h, r)
		release()
		if err == nil {
			// Bytes after the compressed stream are uploaded but not hashed.
			_, err = io.Copy(io.Discard, pr)
		}
		pr.CloseWithError(err)
		done <- sum{n, err}
	}()
	n, err := io.Copy(w, io.TeeReader(src, pw))
	pw.CloseWithError(err)
	s := <-done
	if s.err != nil && (err == nil || err == s.err) {
		err = fmt.Errorf("submit: decompressing to hash: %w", s.err)
	}
	return n, s.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
