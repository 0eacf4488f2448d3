package image

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/dut"
)

// bufAlign is the alignment of the pipeline's buffers: a page, which is
// a multiple of every logical block size O_DIRECT asks for.
const bufAlign = 4096

// alignedBuf returns a slice of n bytes whose first byte is page-aligned,
// as O_DIRECT needs.
func alignedBuf(n int) []byte {
	b := make([]byte, n+bufAlign)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % bufAlign); r != 0 {
		skip = bufAlign - r
	}
	return b[skip : skip+n : skip+n]
}

// isAligned reports whether p starts at a multiple of align in memory.
func isAligned(p []byte, align int64) bool {
	return len(p) == 0 || int64(uintptr(unsafe.Pointer(unsafe.SliceData(p))))%align == 0
}

// readerWriterAt reads and writes at offsets.
type readerWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// fder is a target backed by a file descriptor (*os.File, and types
// embedding one).
type fder interface {
	Fd() uintptr
}

// directTarget is a block-device target written with O_DIRECT: the
// parts of each write that start and end on the device's logical blocks
// go through a descriptor of the device opened with O_DIRECT, from
// page-aligned memory (copied to an aligned bounce buffer when the
// caller's is not); the rest — an image's last partial block, a write at
// an unaligned offset — goes through a buffered descriptor, which the
// final Sync flushes with everything else. Reads are split the same way.
// Of the two descriptors one is the caller's (whichever way it was
// opened) and the other a second one openDirect opened. Stat, Seek, Sync
// and Close are the caller's.
type directTarget struct {
	dut.Target
	direct, buffered readerWriterAt
	second           *os.File // the descriptor openDirect opened
	block            int64    // logical block size (BLKSSZGET)
	size             int64    // the device's size (BLKGETSIZE64)
	// bounce is for pieces of p that are not aligned in memory; bounceMu
	// lets reads and writes run at once.
	bounce   []byte
	bounceMu sync.Mutex
}

var _ dut.Target = (*directTarget)(nil)

// openDirect returns dst as a directTarget when dst is a block device
// (reopened with O_DIRECT, or without it when dst's own descriptor has
// O_DIRECT already), or nil when it is anything else (a regular file
// keeps the buffered path, as do targets without a descriptor). An
// error means dst is a block device that could not be reopened; the
// caller may go on buffered.
func openDirect(dst dut.Target) (*directTarget, error) {
	fd, ok := dst.(fder)
	if !ok {
		return nil, nil
	}
	fi, err := dst.Stat()
	if err != nil || fi.Mode()&fs.ModeDevice == 0 || fi.Mode()&fs.ModeCharDevice != 0 {
		return nil, nil
	}
	n := int(fd.Fd())
	block, err := unix.IoctlGetInt(n, unix.BLKSSZGET)
	if err != nil {
		return nil, fmt.Errorf("image: reading the block device's logical block size (BLKSSZGET): %w", err)
	}
	var size uint64
	if err := ioctlGetUint64(n, unix.BLKGETSIZE64, &size); err != nil {
		return nil, fmt.Errorf("image: reading the block device's size (BLKGETSIZE64): %w", err)
	}
	fl, err := unix.FcntlInt(uintptr(n), unix.F_GETFL, 0)
	if err != nil {
		return nil, fmt.Errorf("image: reading the target's open flags: %w", err)
	}
	if block <= 0 || block > bufAlign || bufAlign%block != 0 {
		return nil, fmt.Errorf("image: the block device's logical block size %d is not a divisor of %d", block, bufAlign)
	}
	// The same device, the same access mode, through the descriptor's
	// own link (no need to know the path it was opened by): with
	// O_DIRECT, or without it when the caller's has it already.
	callerDirect := fl&unix.O_DIRECT != 0
	flag := fl&unix.O_ACCMODE | unix.O_DIRECT
	if callerDirect {
		flag = fl & unix.O_ACCMODE
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", n), flag, 0)
	if err != nil {
		return nil, fmt.Errorf("image: reopening the block device (O_DIRECT %v): %w", !callerDirect, err)
	}
	d := &directTarget{Target: dst, buffered: dst, direct: f, second: f, block: int64(block), size: int64(size), bounce: alignedBuf(1 << 20)}
	if callerDirect {
		d.direct, d.buffered = dst, f
	}
	return d, nil
}

// ioctlGetUint64 runs an ioctl that fills in a uint64.
func ioctlGetUint64(fd int, req uint, v *uint64) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(v)))
	if errno != 0 {
		return errno
	}
	return nil
}

// close closes the descriptor openDirect opened; the caller's stays
// open.
func (d *directTarget) close() error { return d.second.Close() }

// Capacity implements Capacitor: the caller's size when it knows it,
// the device's otherwise.
func (d *directTarget) Capacity() int64 {
	if c, ok := d.Target.(Capacitor); ok && c.Capacity() > 0 {
		return c.Capacity()
	}
	return d.size
}

// Zeroed implements dut.Zeroed for a caller's target that does.
func (d *directTarget) Zeroed() bool {
	z, ok := d.Target.(dut.Zeroed)
	return ok && z.Zeroed()
}

// WriteAt writes p's whole logical blocks with O_DIRECT and the rest
// buffered.
func (d *directTarget) WriteAt(p []byte, off int64) (int, error) {
	return d.split(p, off, d.direct.WriteAt, d.buffered.WriteAt, true)
}

// ReadAt reads p's whole logical blocks with O_DIRECT and the rest
// buffered.
func (d *directTarget) ReadAt(p []byte, off int64) (int, error) {
	return d.split(p, off, d.direct.ReadAt, d.buffered.ReadAt, false)
}

// split does one read or write: the whole logical blocks at the start of
// p through direct (from the bounce buffer when p is not aligned in
// memory), the rest through buffered.
func (d *directTarget) split(p []byte, off int64, direct, buffered func([]byte, int64) (int, error), write bool) (int, error) {
	if off%d.block != 0 {
		return buffered(p, off)
	}
	whole := len(p) - int(int64(len(p))%d.block)
	done := 0
	for done < whole {
		q := p[done:whole]
		bounced := !isAligned(q, bufAlign)
		if bounced {
			d.bounceMu.Lock()
			q = d.bounce[:min(len(d.bounce), len(q))]
			if write {
				copy(q, p[done:])
			}
		}
		var n int
		var err error
		if write && !bounced && len(q) >= 2*directPiece {
			n, err = d.writeParallel(q, off+int64(done))
		} else {
			n, err = direct(q, off+int64(done))
		}
		if bounced {
			if !write {
				copy(p[done:], q[:n])
			}
			d.bounceMu.Unlock()
		}
		done += n
		if err != nil {
			return done, err
		}
	}
	if done == len(p) {
		return done, nil
	}
	n, err := buffered(p[done:], off+int64(done))
	return done + n, err
}

// directPiece is the size of the pieces writeParallel writes at once.
const directPiece = 1 << 20

// writeParallel writes q at off with O_DIRECT in directPiece pieces, all
// in flight at once, so the device's queue holds more than one request
// as the kernel's page-cache writeback would. It returns how many bytes
// from q's start were written before the first failure.
func (d *directTarget) writeParallel(q []byte, off int64) (int, error) {
	pieces := (len(q) + directPiece - 1) / directPiece
	ns := make([]int, pieces)
	errs := make([]error, pieces)
	var wg sync.WaitGroup
	for i := range pieces {
		wg.Go(func() {
			p := q[i*directPiece : min((i+1)*directPiece, len(q))]
			ns[i], errs[i] = d.direct.WriteAt(p, off+int64(i*directPiece))
		})
	}
	wg.Wait()
	done := 0
	for i := range pieces {
		done += ns[i]
		if errs[i] != nil {
			return done, errs[i]
		}
	}
	return done, nil
}

// chunkBuffers hands out up to max buffers of ChunkSize bytes, making a
// new one only when none is free: memory a flash never needs is never
// touched. First touching fresh memory is dear on some hosts (about 3 ms
// a MiB on a PVM guest, where each page's mapping traps), and a short
// flash whose writer keeps up needs two buffers, not the pipeline's
// full depth. One goroutine takes buffers; any may give them back.
type chunkBuffers struct {
	free      chan []byte
	made, max int
}

func newChunkBuffers(max int) *chunkBuffers {
	return &chunkBuffers{free: make(chan []byte, max), max: max}
}

// take returns a free buffer, a new one while fewer than max were made,
// or else waits for one to be given back; false when ctx ends first.
func (c *chunkBuffers) take(ctx context.Context) ([]byte, bool) {
	select {
	case b := <-c.free:
		return b, true
	default:
	}
	if c.made < c.max {
		c.made++
		return alignedBuf(ChunkSize), true
	}
	select {
	case b := <-c.free:
		return b, true
	case <-ctx.Done():
		return nil, false
	}
}

// give hands a buffer back.
func (c *chunkBuffers) give(b []byte) { c.free <- b }
