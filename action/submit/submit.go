package submit

import (
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
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/autokit/image"
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
	log.InfoContext(ctx, "submit: uploading", "image", path, "format", img.Format, "bytes", img.Size, "artifact", opts.ArtifactName)
	start := time.Now()
	a, err := up.Upload(ctx, opts.ArtifactName, file)
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
