package image

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/dut"
)

// writebackEvery is how many bytes written through the page cache make
// writeback start on them.
const writebackEvery = 16 << 20

// writeback starts the kernel writing a buffered target's dirty pages to
// the medium while the flash goes on (sync_file_range with
// SYNC_FILE_RANGE_WRITE, which does not wait for the writes to finish),
// every writebackEvery bytes written. Left to itself, the kernel starts
// once a tenth of the memory is dirty or after 30 seconds, which a flash
// of a few GiB on a large machine does not reach: the final Sync then
// wrote the whole image while nothing else ran. It is for targets with a
// descriptor (a file or a block device written buffered); a nil
// *writeback does nothing.
type writeback struct {
	start     func(off, n int64) // starts writeback of n bytes at off
	from, to  int64              // the stretch written since writeback last started
	unstarted int64              // bytes written in it
}

// newWriteback returns the writeback of dst, or nil when dst is not
// written through the page cache of a descriptor it offers (a block
// device written with O_DIRECT, a target without a descriptor).
func newWriteback(dst dut.Target) *writeback {
	if _, ok := dst.(*directTarget); ok {
		return nil
	}
	fd, ok := fileDescriptor(dst)
	if !ok {
		return nil
	}
	return &writeback{start: func(off, n int64) {
		// An error (a filesystem without it) leaves the work to Sync.
		unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
	}}
}

// wrote notes n bytes written at off and starts their writeback once
// enough are waiting.
func (wb *writeback) wrote(off, n int64) {
	if wb == nil || n <= 0 {
		return
	}
	if wb.unstarted == 0 {
		wb.from, wb.to = off, off+n
	}
	wb.from, wb.to = min(wb.from, off), max(wb.to, off+n)
	wb.unstarted += n
	if wb.unstarted < writebackEvery {
		return
	}
	wb.start(wb.from, wb.to-wb.from)
	wb.unstarted = 0
}

// syncAndVerify syncs dst (when sync) and then runs verify (when not
// nil), returning the first error. A target read through the page cache
// (a file, a block device written buffered) reads back the same bytes
// before its sync as after it, so there verify runs while the sync waits
// for the medium; a target read from the medium itself (O_DIRECT) or
// through something else is verified once synced. verified says whether
// verify ran and passed, and how long it took.
func syncAndVerify(dst dut.Target, sync bool, verify func() error) (verified bool, took time.Duration, err error) {
	syncTarget := func() error {
		if !sync {
			return nil
		}
		if err := dst.Sync(); err != nil {
			return fmt.Errorf("image: syncing the target: %w", err)
		}
		return nil
	}
	timed := func() error {
		start := time.Now()
		defer func() { took = time.Since(start) }()
		return verify()
	}
	if verify == nil {
		return false, 0, syncTarget()
	}
	if _, direct := dst.(*directTarget); direct || !hasDescriptor(dst) {
		if err := syncTarget(); err != nil {
			return false, 0, err
		}
		err := timed()
		return err == nil, took, err
	}
	synced := make(chan error, 1)
	go func() { synced <- syncTarget() }()
	verr := timed()
	if err := <-synced; err != nil {
		return false, took, err
	}
	return verr == nil, took, verr
}

// hasDescriptor reports whether dst offers a file descriptor.
func hasDescriptor(dst dut.Target) bool {
	_, ok := fileDescriptor(dst)
	return ok
}
