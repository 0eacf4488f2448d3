package image

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/balena/leviathan-action/autokit/dut"
)

// deltaMaps are the image file and a regular-file target mapped for
// reading, so that a delta flash compares their pages where they lie in
// the page cache instead of copying both into buffers first: comparing
// an unchanged image then costs the comparison alone.
type deltaMaps struct {
	img, old []byte
}

// mapForDelta maps the first size bytes of the image file f and as much
// of the target as it holds (up to size). ok is false when the target is
// not a regular file read through the page cache (a block device, a file
// opened with O_DIRECT) or a mapping fails: the delta then reads into
// buffers.
func mapForDelta(f *os.File, size int64, dst dut.Target) (m *deltaMaps, ok bool) {
	fd, isFile := fileDescriptor(dst)
	if _, direct := dst.(*directTarget); !isFile || direct || size <= 0 || int64(int(size)) != size {
		return nil, false
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, false
	}
	img, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false
	}
	m = &deltaMaps{img: img}
	if n := min(st.Size, size); n > 0 {
		if m.old, err = unix.Mmap(fd, 0, int(n), unix.PROT_READ, unix.MAP_SHARED); err != nil {
			unix.Munmap(img)
			return nil, false
		}
	}
	return m, true
}

// piece points p at the mapped bytes of both files, and has the kernel
// map their pages now (this runs in the readers, several at once). ok is
// false when the target does not reach to the piece's end, or when a
// page of the piece is not in the page cache: the piece is then read into
// buffers, as reading from disk goes faster with read(2) than with page
// faults.
func (m *deltaMaps) piece(p *deltaPiece) bool {
	if p.end > int64(len(m.old)) || p.off%int64(os.Getpagesize()) != 0 {
		return false
	}
	old := m.old[p.off:p.end]
	var img []byte
	if p.fromImage {
		img = m.img[p.off:p.end]
	}
	if !cached(old) || img != nil && !cached(img) {
		return false
	}
	p.old = old
	populate(p.old)
	if img != nil {
		p.img = img
		populate(p.img)
	}
	return true
}

// cached reports whether all of b's pages are in the page cache.
func cached(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	vec := make([]byte, (len(b)+os.Getpagesize()-1)/os.Getpagesize())
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return false
	}
	for _, v := range vec {
		if v&1 == 0 {
			return false
		}
	}
	return true
}

// populate maps b's pages ahead of their use; a kernel without
// MADV_POPULATE_READ (before Linux 5.14) maps them as they are touched.
func populate(b []byte) {
	unix.Madvise(b, unix.MADV_POPULATE_READ)
}

func (m *deltaMaps) close() {
	unix.Munmap(m.img)
	if m.old != nil {
		unix.Munmap(m.old)
	}
}

// guardFaults runs fn, turning the fault of touching a mapped page that
// no longer exists (a file shrank while it was compared) into an error.
func guardFaults(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			re, ok := r.(runtime.Error)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("image: the image or the target shrank while they were compared: %w", re)
		}
	}()
	return fn()
}
