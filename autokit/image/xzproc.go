package image

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// xzCommand is the system's xz, used to decompress when present: liblzma
// is about 1.6× faster than the pure-Go decoder here, and multi-threaded.
// Set to "" to always use the Go decoder.
var xzCommand = "xz"

// xzProcess decompresses r with the system's xz (an *os.File r is xz's
// standard input itself, read by xz alone; anything else is copied to it
// through a pipe). The returned reader ends with an error when xz fails
// (a truncated or corrupt stream); release stops xz and waits for it.
func xzProcess(r io.Reader) (*xzReader, func(), error) {
	path, err := exec.LookPath(xzCommand)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(path, "--decompress", "--stdout", "--threads=0")
	cmd.Stdin = r
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// A source stuck in Read must not hold up Wait for ever.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	growPipe(out)
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	p := &xzReader{out: out, cmd: cmd, stderr: &stderr}
	release := func() {
		if !p.waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	return p, release, nil
}

// pipeSize is the capacity asked for the pipe xz writes to: a pipe's
// default 64 KiB makes xz and the reader take turns every 64 KiB, a
// context switch and a system call each way; 1 MiB is the limit an
// unprivileged process gets by default (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// growPipe asks for a pipe of pipeSize bytes behind r, when r is one; a
// refusal leaves the pipe as it was, only slower.
func growPipe(r io.Reader) {
	f, ok := r.(*os.File)
	if !ok {
		return
	}
	if c, err := f.SyscallConn(); err == nil {
		c.Control(func(fd uintptr) {
			unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize)
		})
	}
}

type xzReader struct {
	// oneCore says xz will decode the stream on one thread (xzOneCore).
	oneCore bool
	out     io.Reader
	cmd     *exec.Cmd
	stderr  *bytes.Buffer
	waited  bool
	err     error
}

func (x *xzReader) Read(p []byte) (int, error) {
	if x.waited {
		return 0, x.err
	}
	n, err := x.out.Read(p)
	if err == io.EOF {
		x.waited = true
		x.err = io.EOF
		if werr := x.cmd.Wait(); werr != nil {
			x.err = fmt.Errorf("xz stream: %s: %w", strings.TrimSpace(x.stderr.String()), io.ErrUnexpectedEOF)
		}
		return n, x.err
	}
	return n, err
}

// Offsets in an xz stream: a 12-byte stream header, then the first
// block's header, whose first byte is its size (0 for an index: no
// block) and whose second its flags.
const (
	xzFirstBlockSize  = 12
	xzFirstBlockFlags = 13
	// Block flags: the header records the compressed and the
	// uncompressed size.
	xzHasSizes = 0x40 | 0x80
)

// xzOneCore reports, from an xz stream's first 14 bytes, whether xz's
// multi-threaded decoder will decode it on a single thread: it decodes
// blocks in parallel only when their headers record their sizes, which
// multi-threaded compression (xz -T0, -T2, …) writes and single-threaded
// compression (plain xz, with or without --block-size) does not. One
// block of a multi-threaded stream stays on one thread too, but is
// small (three times the dictionary). The first block speaks for the
// stream; a later stream concatenated to it is not looked at.
func xzOneCore(head []byte) bool {
	if len(head) <= xzFirstBlockFlags || head[xzFirstBlockSize] == 0 {
		return false
	}
	return head[xzFirstBlockFlags]&xzHasSizes != xzHasSizes
}

// oneCoreNotice is what Flash logs for a stream xzOneCore flags.
const oneCoreNotice = "image: this xz image decodes on one core: its blocks do not record their sizes (it was compressed single-threaded); " +
	"make a multi-block image that decodes on all cores with `xz -T0`"

// decodesOnOneCore reports whether r, from Decompress, is the system xz
// decoding a stream on one thread.
func decodesOnOneCore(r io.Reader) bool {
	x, ok := r.(*xzReader)
	return ok && x.oneCore
}
