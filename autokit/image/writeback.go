package image

import (
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
