package leviathancmd

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/image/bmap"
	"github.com/balena/leviathan-action/autokit/image/inject"
	"github.com/balena/leviathan-action/autokit/image/source"
	"github.com/balena/leviathan-action/internal/progress"
)

// flashUsage is the flash command's help text.
const flashUsage = `Write an image to a file or block device. The image is a path or an
http(s) URL (a dropped download resumes); raw, gzip, xz, zstd or bzip2,
or a zip holding one image (itself raw or compressed), detected from its
bytes, decompressed on the fly. Blocks of zeros are skipped on a new file;
with --bmap only the mapped blocks are written and checked; with --delta
only blocks that differ from the target's are written. What was written is
read back and compared unless --no-verify.

Images: a disk image (an MBR or GPT partition table in its first
sectors) is written as it is; any other image (a filesystem image, a
firmware blob, an eMMC boot partition) is refused before anything is
written, unless --any-image is given: then it is written from the
target's first byte like any image, as bmaptool copy does.

Block devices are written with O_DIRECT from aligned buffers, several
writes in flight while the next chunk decompresses (an image's last
partial block goes through the page cache), and synced at the end;
--buffered writes through the page cache instead. Files are always
written through the page cache.

Checksums: --sha256 is the decompressed image's. It is checked as the
image streams, so a mismatch is found once the image was written: the
flash then fails and the target's partition tables are wiped (the target
is "marked dirty"), like any failure after writing started. With
--precheck, a local image is first read and decompressed once to compare
its SHA-256, and a mismatch is refused before the target is opened (this
reads the image twice). --image-sha256 is the SHA-256 of the file as read
(the download), or "published" to fetch it from <URL>.sha256; it is
checked as the image streams and fails the flash before the final sync.
Without --sha256 the whole image's SHA-256 is not computed (a serial
step that would slow the flash): verification needs no whole-image
digest, it reads the target back against a hash of each 64 KiB recorded
while writing, the block map's checksums or the image file itself.

Configuration: --file NAME=PATH (repeatable) writes PATH's contents as
NAME into the image's FAT boot partition while the image streams to the
target — config.json the way OS images are provisioned per device — in
Go, without root or mounting. The files are part of what is written, so
verification reads them back too. The boot partition (the first FAT
partition of the GPT or MBR) is held in memory, at most --file-buffer
MiB; an image without one, one that ends inside it, or files that do not
fit fail the flash, usually before the target is opened. --sha256,
--precheck and --image-sha256 check the image as published, before the
files went in; the digest verified and printed "as written" is the
configured image's. --delta compares the configured image with the
target, all of it. --bmap cannot be combined with --file: the block map's checksums
describe the image without the files, and the blocks it leaves out may be
where the files go.`

// flashFlags are the flash command's flags, as given.
type flashFlags struct {
	src, target string
	bmapPath    string
	noVerify    bool
	delta       bool
	sum         string // --sha256
	precheck    bool
	srcSum      string // --image-sha256
	quiet       bool
	anyImage    bool
	buffered    bool
	files       stringList
	fileBuffer  int64 // MiB
}

func flashCmd(ctx context.Context, e Env, args []string) error {
	f, err := parseFlashFlags(e, args)
	if err != nil {
		return err
	}
	opts, err := f.options(ctx)
	if err != nil {
		return err
	}
	if !f.quiet {
		opts.Log = e.logger(false, slog.LevelWarn) // e.g. an xz image that decodes on one core
	}
	injections, err := readInjections(f.files)
	if err != nil {
		return err
	}
	if f.precheck {
		if err := precheckSHA256(ctx, f.src, opts.SHA256); err != nil {
			return err
		}
	}
	in, err := source.Open(ctx, f.src)
	if err != nil {
		return err
	}
	defer in.Close()
	var stream io.Reader = in
	var configured *configuredImage
	if len(injections) > 0 {
		// Before the target is opened: an image the files cannot go into
		// is refused with the target untouched.
		configured, err = configure(in, injections, &opts, f.fileBuffer<<20)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		defer configured.release()
		stream = configured
	}
	dst, err := openTarget(f.target, f.delta)
	if err != nil {
		return err
	}
	if !f.quiet && progress.IsTerminal(e.Stderr) {
		defer showProgress(e.Stderr, in, &opts)()
	}
	res, err := image.Flash(ctx, dst, stream, opts)
	if configured != nil {
		res.Format = configured.format
	}
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if errors.Is(err, image.ErrNotDiskImage) && !f.anyImage {
		return fmt.Errorf("flashing %s: %w; to write an image without a partition table (a filesystem image, a firmware blob, a boot partition), pass --any-image", f.target, err)
	}
	if err != nil {
		return fmt.Errorf("flashing %s: %w", f.target, err)
	}
	printFlashed(e.Stdout, f, res, configured, injections)
	return nil
}

// parseFlashFlags parses the flash command's arguments and refuses
// combinations that cannot work, before anything is opened.
func parseFlashFlags(e Env, args []string) (*flashFlags, error) {
	f := &flashFlags{}
	fs := e.flags("flash --image SRC --target PATH [flags]", flashUsage)
	fs.StringVar(&f.src, "image", "", "image to write: a path or an http(s) URL (required)")
	fs.StringVar(&f.target, "target", "", "file or block device to write to (required)")
	fs.StringVar(&f.bmapPath, "bmap", "", "bmaptool block map of the image (.bmap)")
	fs.BoolVar(&f.noVerify, "no-verify", false, "do not read the target back after writing")
	fs.BoolVar(&f.delta, "delta", false, "write only blocks that differ from what the target holds")
	fs.StringVar(&f.sum, "sha256", "", "expected SHA-256 of the decompressed image")
	fs.BoolVar(&f.precheck, "precheck", false, "with --sha256 and a local image: check the decompressed image's SHA-256 before opening the target (reads the image twice)")
	fs.StringVar(&f.srcSum, "image-sha256", "", `expected SHA-256 of the image file as read (the download), or "published" for <URL>.sha256`)
	fs.BoolVar(&f.quiet, "q", false, "no progress bar")
	fs.BoolVar(&f.anyImage, "any-image", false, "write an image without a partition table (a filesystem image, a firmware blob, a boot partition) instead of refusing it")
	fs.BoolVar(&f.buffered, "buffered", false, "write a block device through the page cache instead of with O_DIRECT")
	fs.Var(&f.files, "file", "NAME=PATH: write PATH into the image's FAT boot partition as NAME, as part of the image written (repeatable)")
	fs.Int64Var(&f.fileBuffer, "file-buffer", inject.DefaultMemoryLimit>>20, "with --file: MiB of the image held in memory at most; the boot partition must fit")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if f.src == "" || f.target == "" {
		return nil, usageError("both --image and --target are required")
	}
	if len(f.files) > 0 && f.bmapPath != "" {
		return nil, usageError("--bmap cannot be combined with --file: the block map describes the image without the files (its checksums would fail, and the blocks it leaves out may be where the files go); drop --bmap")
	}
	if f.fileBuffer <= 0 || f.fileBuffer > 1<<20 {
		return nil, usageError("--file-buffer must be a positive number of MiB (at most 1048576)")
	}
	if f.precheck && (f.sum == "" || f.remote()) {
		return nil, usageError("--precheck needs --sha256 and a local image (for a URL, use --image-sha256)")
	}
	for _, s := range []string{f.sum, f.srcSum} {
		if b, err := hex.DecodeString(s); s != "" && s != "published" && (err != nil || len(b) != 32) {
			return nil, usageError("%q is not a hex SHA-256", s)
		}
	}
	if f.srcSum == "published" && !f.remote() {
		return nil, usageError("--image-sha256 published needs an http(s) URL")
	}
	return f, nil
}

// remote reports whether the image is an http(s) URL.
func (f *flashFlags) remote() bool {
	return strings.HasPrefix(f.src, "http://") || strings.HasPrefix(f.src, "https://")
}

// options turns the flags into image.Options: it fetches the published
// SHA-256 for --image-sha256 published and reads the --bmap block map.
func (f *flashFlags) options(ctx context.Context) (image.Options, error) {
	opts := image.Options{Verify: !f.noVerify, Delta: f.delta, SHA256: strings.ToLower(f.sum), AnyImage: f.anyImage, Buffered: f.buffered}
	// With --file, the digest printed is the configured image's, as
	// written (--sha256 checks the image before the files went in).
	opts.Digest = len(f.files) > 0
	switch f.srcSum {
	case "":
	case "published":
		published, err := source.PublishedSHA256(ctx, f.src)
		if err != nil {
			return opts, err
		}
		opts.SourceSHA256 = published
	default:
		opts.SourceSHA256 = strings.ToLower(f.srcSum)
	}
	if f.bmapPath != "" {
		bf, err := os.Open(f.bmapPath)
		if err != nil {
			return opts, err
		}
		opts.Bmap, err = bmap.Parse(bf)
		bf.Close()
		if err != nil {
			return opts, fmt.Errorf("%s: %w", f.bmapPath, err)
		}
	}
	return opts, nil
}

// showProgress draws a progress bar on w as opts.Progress reports, and
// returns the function that finishes it. The total is the block map's
// image size or, for a local raw image, the file's size; otherwise it is
// unknown (-1).
func showProgress(w io.Writer, in source.Source, opts *image.Options) (finish func()) {
	total := int64(-1)
	if opts.Bmap != nil {
		total = opts.Bmap.ImageSize
	} else if f, ok := in.(interface{ File() *os.File }); ok && in.Size() > 0 {
		head := make([]byte, 8)
		if n, _ := f.File().ReadAt(head, 0); image.Sniff(head[:n]) == image.Raw {
			total = in.Size()
		}
	}
	bar := progress.NewBar(w, total, "flashing")
	meter := image.NewMeter(0)
	opts.Progress = func(n int64) {
		meter.Set(n)
		bar.Describe(progressText(n, total, meter.Rate()))
		bar.Set64(n)
	}
	return func() { bar.Finish() }
}

// printFlashed writes the one-line summary of a flash to w and, with
// --file, a line for each file written into the boot partition.
func printFlashed(w io.Writer, f *flashFlags, res image.Result, configured *configuredImage, injections []injection) {
	verified, digest := flashChecks(f, res)
	if configured != nil {
		input := "image sha256 " + configured.r.InputSHA256()
		if f.sum != "" {
			input += " (as --sha256 expected)"
		}
		digest = input + ", as written " + digest
	}
	fmt.Fprintf(w, "wrote %s (%s, %d bytes) to %s in %.1fs (%.0f MB/s): %d bytes written, %d zeros skipped, %d unchanged, %d unmapped; %s; %s\n",
		f.src, res.Format, res.ImageBytes, f.target, res.Duration.Seconds(), res.MBps(),
		res.Written, res.Skipped, res.Unchanged, res.Unmapped, verified, digest)
	if configured == nil {
		return
	}
	p, _ := configured.r.Partition()
	for _, inj := range injections {
		fmt.Fprintf(w, "wrote %s (%d bytes) into the boot partition (partition %d, %s) as part of the image\n", inj.name, len(inj.data), p.Index, p.Type)
	}
}

// flashChecks says how the flash was checked (the read-back) and what
// is known of the image's SHA-256, truthfully for each way image.Flash
// writes: a stream is read back against a keyed hash of each 64 KiB
// recorded as it passed or, with a block map, against the map's
// checksums; an uncompressed image file written by its extents or as a
// delta is read back and compared with the file itself, byte for byte.
// The whole image's SHA-256 is computed only with --sha256.
func flashChecks(f *flashFlags, res image.Result) (verified, digest string) {
	bmapped := f.bmapPath != ""
	took := fmt.Sprintf("verified in %.1fs", res.VerifyDuration.Seconds())
	switch {
	case !res.Verified && bmapped:
		verified = "not read back (--no-verify); the written blocks matched the block map's checksums"
	case !res.Verified:
		verified = "not verified (--no-verify)"
	case bmapped && !res.Compared:
		verified = took + " (mapped blocks read back, checked by the block map's checksums)"
	case bmapped:
		verified = took + " (mapped blocks read back and compared with the image file; they matched the block map's checksums as written)"
	case !res.Compared:
		verified = took + " (read back, checked against a keyed hash of each 64 KiB recorded while writing)"
	default:
		verified = took + " (read back and compared with the image file)"
	}
	switch {
	case res.SHA256 != "":
		digest = "sha256 " + res.SHA256
		if f.sum != "" && len(f.files) == 0 { // with --file, --sha256 is the image's before the files
			digest += " (as --sha256 expected)"
		}
	case res.Compared:
		digest = "sha256 not computed (the image file was compared directly; --sha256 has it hashed)"
	default:
		digest = "sha256 not computed (--sha256 has it computed and checked)"
	}
	return verified, digest
}

// injection is a file for the image's boot partition.
type injection struct {
	name string
	data []byte
}

// readInjections reads the --file NAME=PATH arguments before anything is
// written, so a missing file fails the command with the target untouched.
func readInjections(args []string) ([]injection, error) {
	var out []injection
	for _, a := range args {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" {
			return nil, usageError("--file %q: want NAME=PATH, such as config.json=./config.json", a)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--file %s: %w", name, err)
		}
		out = append(out, injection{name, data})
	}
	return out, nil
}

// configuredImage is the decompressed image with the --file files written
// into its boot partition (package inject), checked as image.Flash checks
// an image: --sha256 against the image before the files went in,
// --image-sha256 against the source as read. A mismatch fails the read at
// the image's end, so image.Flash fails before its final sync and marks
// the target dirty.
type configuredImage struct {
	*bufio.Reader
	r       *inject.Reader
	format  image.Format
	release func()
}

// configure decompresses src and starts writing files into it. It takes
// the checksums out of o (Flash would compare them with the configured
// image) and checks them itself. It reads up to the first byte of the
// image: when the boot partition and what precedes it fit in limit, that
// is where the files are written, so a failure comes before any target
// is opened.
func configure(src io.Reader, files []injection, o *image.Options, limit int64) (*configuredImage, error) {
	var download hash.Hash // the source as read, for --image-sha256
	if o.SourceSHA256 != "" {
		download = sha256.New()
		src = io.TeeReader(src, download)
	}
	dec, format, release, err := image.Decompress(src)
	if err != nil {
		return nil, err
	}
	fl := make([]inject.File, len(files))
	for i, f := range files {
		fl[i] = inject.File{Name: f.name, Data: f.data}
	}
	r := inject.New(dec, fl, inject.WithMemoryLimit(limit))
	wantImage, wantDownload := o.SHA256, o.SourceSHA256
	o.SHA256, o.SourceSHA256 = "", ""
	checked := &checkAtEOF{r: r, check: func() error {
		if got := r.InputSHA256(); wantImage != "" && got != wantImage {
			return &image.ChecksumError{What: "image (before the --file files were written into it)", Want: wantImage, Got: got}
		}
		if download != nil {
			// What follows the image in the source (a zip's central
			// directory, padding) is part of the download's digest.
			if _, err := io.Copy(io.Discard, src); err != nil {
				return fmt.Errorf("reading the rest of the source: %w", err)
			}
			if got := hex.EncodeToString(download.Sum(nil)); got != wantDownload {
				return &image.ChecksumError{What: "download", Want: wantDownload, Got: got}
			}
		}
		return nil
	}}
	c := &configuredImage{Reader: bufio.NewReaderSize(checked, 64<<10), r: r, format: format, release: release}
	if _, err := c.Peek(1); err != nil {
		release()
		if errors.Is(err, inject.ErrTooLarge) {
			err = fmt.Errorf("%w (--file-buffer %d)", err, limit>>20)
		}
		return nil, fmt.Errorf("refused before writing: %w", err)
	}
	return c, nil
}

// checkAtEOF calls check when r ends, and fails the read in place of
// io.EOF when it returns an error.
type checkAtEOF struct {
	r     io.Reader
	check func() error
	done  bool
	err   error
}

func (c *checkAtEOF) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	if err == io.EOF && !c.done {
		c.done = true
		if c.err = c.check(); c.err != nil {
			return n, c.err
		}
	}
	return n, err
}

// precheckSHA256 decompresses the local image at path and compares its
// SHA-256 with want, before any target is opened.
func precheckSHA256(ctx context.Context, path, want string) error {
	f, err := source.Open(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	got, _, format, err := image.DecompressedSHA256(ctx, f)
	if err != nil {
		return fmt.Errorf("--precheck: %w", err)
	}
	if got != want {
		return fmt.Errorf("--precheck: refused before writing: %w", &image.ChecksumError{What: fmt.Sprintf("image (%s, %s)", path, format), Want: want, Got: got})
	}
	return nil
}

// progressText describes the progress: MB/s over the last seconds and,
// when the total is known, the time left.
func progressText(done, total int64, rate float64) string {
	s := fmt.Sprintf("flashing %.1f MB/s", rate/1e6)
	if eta, ok := image.ETA(done, total, rate); ok {
		s += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
	}
	return s
}

// target is an opened flash target.
type target interface {
	dut.Target
	io.Closer
}

// openTarget opens a block device as it is. A regular file is replaced
// (it then reads back zeros) unless keep is set for a delta flash, which
// compares with what it holds. A missing path is created as a file,
// except under /dev (a missing device is a card not plugged in) or in a
// directory that does not exist. Errors name the path.
func openTarget(path string, keep bool) (target, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if dir := filepath.Dir(path); dir == "/dev" || strings.HasPrefix(dir, "/dev/") {
			return nil, fmt.Errorf("target %s does not exist: no such device (is the medium plugged in?)", path)
		}
		if _, derr := os.Stat(filepath.Dir(path)); derr != nil {
			return nil, fmt.Errorf("target %s: its directory %s: %w", path, filepath.Dir(path), derr)
		}
	case err != nil:
		return nil, fmt.Errorf("target %s: %w", path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("target %s is a directory", path)
	case fi.Mode()&os.ModeDevice != 0:
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, targetOpenError(path, err)
		}
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("target %s: finding its size: %w", path, err)
		}
		return &device{File: f, size: size}, nil
	}
	if keep {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, targetOpenError(path, err)
		}
		return f, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, targetOpenError(path, err)
	}
	return zeroedFile{f}, nil
}

// targetOpenError says a target cannot be opened for writing, and why.
func targetOpenError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("target %s is not writable: %w", path, err)
	}
	return fmt.Errorf("target %s: %w", path, err)
}

// zeroedFile is a file emptied on open.
type zeroedFile struct{ *os.File }

func (zeroedFile) Zeroed() bool { return true }

// device is a block device of a known size.
type device struct {
	*os.File
	size int64
}

func (d *device) Capacity() int64 { return d.size }
