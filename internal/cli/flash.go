package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image"
)

func flashCmd(ctx context.Context, e Env, args []string) error {
	fs := e.flags("flash --image SRC --target PATH", `Write an image (raw, gz, xz, zst, bz2; detected from its bytes) to a file
or block device. A file target is replaced and written sparsely.`)
	src := fs.String("image", "", "image to write (required)")
	target := fs.String("target", "", "file or block device to write to (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *src == "" || *target == "" {
		return usageError("both --image and --target are required")
	}
	in, err := os.Open(*src)
	if err != nil {
		return err
	}
	defer in.Close()
	dst, zeroed, err := openTarget(*target)
	if err != nil {
		return err
	}
	var t dut.Target = dst
	if zeroed {
		t = zeroedFile{dst}
	}
	res, err := image.Write(ctx, t, in, nil)
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "wrote %s (%s) to %s: %d bytes, %d written, %d skipped, %.0f MB/s, sha256 %s\n",
		*src, res.Format, *target, res.ImageBytes, res.Written, res.Skipped, res.MBps(), res.SHA256)
	return nil
}

// openTarget opens a block device as it is, or replaces a regular file
// (which then reads back zeros).
func openTarget(path string) (*os.File, bool, error) {
	fi, err := os.Stat(path)
	if err == nil && fi.Mode()&os.ModeDevice != 0 {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		return f, false, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	return f, true, err
}

type zeroedFile struct{ *os.File }

func (zeroedFile) Zeroed() bool { return true }
