package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/image/bmap"
	"github.com/balena/leviathan-action/autokit/image/source"
)

func flashCmd(ctx context.Context, e Env, args []string) error {
	fs := e.flags("flash --image SRC --target PATH [flags]", `Write an image to a file or block device. The image is a path or an
http(s) URL (a dropped download resumes); raw, gzip, xz, zstd or bzip2,
detected from its bytes, decompressed on the fly. Blocks of zeros are
skipped on a new file; with --bmap only the mapped blocks are written and
checked; with --delta only blocks that differ from the target's are
written. What was written is read back and compared unless --no-verify.`)
	src := fs.String("image", "", "image to write: a path or an http(s) URL (required)")
	target := fs.String("target", "", "file or block device to write to (required)")
	bmapPath := fs.String("bmap", "", "bmaptool block map of the image (.bmap)")
	noVerify := fs.Bool("no-verify", false, "do not read the target back after writing")
	delta := fs.Bool("delta", false, "write only blocks that differ from what the target holds")
	sum := fs.String("sha256", "", "expected SHA-256 of the decompressed image")
	quiet := fs.Bool("q", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *src == "" || *target == "" {
		return usageError("both --image and --target are required")
	}
	opts := image.Options{Verify: !*noVerify, Delta: *delta, SHA256: *sum}
	if *bmapPath != "" {
		f, err := os.Open(*bmapPath)
		if err != nil {
			return err
		}
		opts.Bmap, err = bmap.Parse(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *bmapPath, err)
		}
	}
	in, err := source.Open(ctx, *src)
	if err != nil {
		return err
	}
	defer in.Close()
	dst, err := openTarget(*target, *delta)
	if err != nil {
		return err
	}
	if !*quiet && isTerminal(e.Stderr) {
		bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(e.Stderr),
			progressbar.OptionSetDescription("flashing"), progressbar.OptionShowBytes(true),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		defer bar.Finish()
		opts.Progress = func(n int64) { bar.Set64(n) }
	}
	res, err := image.Flash(ctx, dst, in, opts)
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	verified := "not verified"
	if res.Verified {
		verified = fmt.Sprintf("verified in %.1fs", res.VerifyDuration.Seconds())
	}
	digest := "sha256 " + res.SHA256
	if res.SHA256 == "" {
		digest = "sha256 not computed (--no-verify)"
	}
	fmt.Fprintf(e.Stdout, "wrote %s (%s, %d bytes) to %s in %.1fs (%.0f MB/s): %d bytes written, %d zeros skipped, %d unchanged, %d unmapped; %s; %s\n",
		*src, res.Format, res.ImageBytes, *target, res.Duration.Seconds(), res.MBps(),
		res.Written, res.Skipped, res.Unchanged, res.Unmapped, verified, digest)
	return nil
}

// target is an opened flash target.
type target interface {
	dut.Target
	io.Closer
}

// openTarget opens a block device as it is. A regular file is replaced
// (it then reads back zeros) unless keep is set for a delta flash, which
// compares with what it holds.
func openTarget(path string, keep bool) (target, error) {
	fi, err := os.Stat(path)
	if err == nil && fi.Mode()&os.ModeDevice != 0 {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			f.Close()
			return nil, err
		}
		return &device{File: f, size: size}, nil
	}
	if err == nil && fi.IsDir() {
		return nil, fmt.Errorf("target %s is a directory", path)
	}
	if keep {
		return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return zeroedFile{f}, nil
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

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
